//! Per-asset operations: remove, contains, ids, add_many, add under a key.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asset_cache::{AssetCache, ErrorKind, Options};
use serde_json::{json, Value};

fn tmp(tag: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("asset-cache-pa-{tag}-"))
        .tempdir()
        .unwrap()
        .keep()
}

fn open(dir: &Path) -> AssetCache<Value> {
    AssetCache::open(
        Options::new("model")
            .dir(dir)
            .ttl(Duration::from_secs(3600)),
    )
    .unwrap()
}

fn asset(id: &str, n: i64) -> Value {
    json!({"id": id, "n": n})
}

/// The ids of the file in order, last record of an id winning at its first
/// place (as Python's json.load builds a dict), after checking that strict
/// JSON reads the file.
fn file_ids(dir: &Path) -> Vec<String> {
    let bytes = fs::read(dir.join("model.json")).unwrap();
    let strict: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(strict["data"].is_object());
    let parsed = asset_cache::internals::format::parse::<Value>(&bytes).unwrap();
    parsed.store.iter().map(|(k, _)| k.to_string()).collect()
}

#[test]
fn remove_takes_the_asset_out_of_memory_file_and_other_handles() {
    // Checked by making FileBackend::remove render every record (the id
    // kept): the file_ids and the other handle's view then fail.
    let d = tmp("remove");
    let c = open(&d);
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        c.add(asset(id, i as i64)).unwrap();
    }
    // A re-add leaves a superseded record in the file: it must go too.
    c.add(asset("b", 9)).unwrap();
    let other = open(&d);
    assert!(c.remove("b").unwrap());
    assert!(!c.contains("b"));
    assert_eq!(c.ids(), ["a", "c"]);
    assert_eq!(file_ids(&d), ["a", "c"]);
    other.load().unwrap();
    assert_eq!(other.get("b"), None);
    assert_eq!(other.ids(), ["a", "c"]);
    // Absent: false, and the file is not touched.
    let before = fs::read(d.join("model.json")).unwrap();
    assert!(!c.remove("zzz").unwrap());
    assert_eq!(fs::read(d.join("model.json")).unwrap(), before);
    // Appends continue after a remove.
    c.add(asset("d", 4)).unwrap();
    assert_eq!(open(&d).ids(), ["a", "c", "d"]);
    assert_eq!(c.remove("").unwrap_err().kind(), ErrorKind::MissingId);
}

#[test]
fn remove_of_what_another_handle_added_since() {
    let d = tmp("remove-other");
    let a = open(&d);
    let b = open(&d);
    a.add(asset("x", 1)).unwrap();
    // b never loaded x: the remove syncs first, so it finds and removes it.
    assert!(b.remove("x").unwrap());
    a.load().unwrap();
    assert!(!a.contains("x"));
}

#[test]
fn contains_and_ids_follow_expiry() {
    let d = tmp("contains");
    let c: AssetCache<Value> =
        AssetCache::open(Options::new("model").dir(&d).ttl(Duration::from_secs(1))).unwrap();
    c.add(asset("a", 1)).unwrap();
    assert!(c.contains("a") && !c.contains("b"));
    assert_eq!(c.ids(), ["a"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(!c.contains("a"));
    assert!(c.ids().is_empty());
}

#[test]
fn add_many_keeps_the_others_and_checks_every_id_first() {
    let d = tmp("many");
    let c = open(&d);
    c.add(asset("old", 0)).unwrap();
    c.add_many(vec![asset("a", 1), asset("old", 2), asset("b", 3)])
        .unwrap();
    assert_eq!(c.ids(), ["old", "a", "b"]);
    assert_eq!(c.get("old").unwrap()["n"], 2);
    assert_eq!(open(&d).ids(), ["old", "a", "b"]);
    // One bad asset: nothing is written, and the error names its index.
    let before = fs::read(d.join("model.json")).unwrap();
    let e = c
        .add_many(vec![asset("z", 1), json!({"no": "id"})])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingId);
    assert!(e.message().contains("index 1"), "{}", e.message());
    assert_eq!(fs::read(d.join("model.json")).unwrap(), before);
    assert!(!c.contains("z"));
}

#[test]
fn add_under_another_key() {
    let d = tmp("key");
    let c = open(&d);
    c.add_with_id("gpt-4".into(), asset("64ab", 1)).unwrap();
    assert_eq!(open(&d).get("gpt-4"), Some(asset("64ab", 1)));
    assert!(!c.contains("64ab"));
    assert_eq!(file_ids(&d), ["gpt-4"]);
}

fn capped(dir: &Path, cap: usize) -> AssetCache<Value> {
    AssetCache::open(
        Options::new("model")
            .dir(dir)
            .ttl(Duration::from_secs(3600))
            .max_entries(Some(cap)),
    )
    .unwrap()
}

#[test]
fn the_size_cap_keeps_the_most_recently_written() {
    // Checked to fail: with add_locked ignoring the cap (capped = None),
    // the ids stay [a, b, c, d].
    let d = tmp("cap");
    let c = capped(&d, 3);
    for id in ["a", "b", "c", "d"] {
        c.add(asset(id, 1)).unwrap();
    }
    assert_eq!(c.ids(), ["b", "c", "d"]);
    assert_eq!(file_ids(&d), ["b", "c", "d"]);
    // A re-add is a write: b becomes the newest, so c goes next.
    c.add(asset("b", 2)).unwrap();
    assert_eq!(c.ids(), ["c", "d", "b"]);
    c.add(asset("e", 1)).unwrap();
    assert_eq!(c.ids(), ["d", "b", "e"]);
    assert_eq!(file_ids(&d), ["d", "b", "e"]);
    assert_eq!(open(&d).ids(), ["d", "b", "e"]);
    // add_many and add_list respect it too.
    c.add_many(vec![asset("f", 1), asset("g", 1)]).unwrap();
    assert_eq!(c.ids(), ["e", "f", "g"]);
    c.add_list((0..5).map(|i| asset(&format!("l{i}"), i)).collect())
        .unwrap();
    assert_eq!(c.ids(), ["l2", "l3", "l4"]);
    assert_eq!(file_ids(&d), ["l2", "l3", "l4"]);
    // An uncapped writer may grow the file; the next capped write trims it.
    let free = AssetCache::<Value>::open(
        Options::new("model")
            .dir(&d)
            .ttl(Duration::from_secs(3600))
            .max_entries(Some(0)),
    )
    .unwrap();
    free.add_many(vec![asset("x", 1), asset("y", 1)]).unwrap();
    assert_eq!(free.ids().len(), 5);
    c.add(asset("z", 1)).unwrap();
    assert_eq!(file_ids(&d), ["x", "y", "z"]);
}
