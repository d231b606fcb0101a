//! Issue 11, item 3: our add to a file the Python original wrote is spliced
//! in after Python's last record (never a rewrite of the whole file), the
//! file stays JSON that Python reads, and our later adds are in-place
//! appends again. The crash and concurrency sides are in the reliability
//! suite (`splice` tests); here the paths one by one.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asset_cache::internals::format;
use asset_cache::{AssetCache, Options, RawAsset};
use serde_json::{json, Value};

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "asset-cache-splice-{tag}-{}-{}",
        std::process::id(),
        &format::new_rev()[..8]
    ));
    fs::create_dir_all(&d).unwrap();
    d
}

fn options(dir: &Path) -> Options {
    Options::new("model")
        .dir(dir)
        .ttl(Duration::from_secs(3600))
}

/// `json.dump({"expiry": E, "data": ...}, f, indent=4)` as the Python
/// original writes it (serde's pretty printer with 4 spaces gives the same
/// bytes for ASCII text; the interop suite checks against the real one).
fn python_bytes(data: &[(String, Value)]) -> Vec<u8> {
    let map: serde_json::Map<String, Value> = data.iter().cloned().collect();
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&json!({ "data": map }), &mut ser).unwrap();
    out.splice(1..1, b"\n    \"expiry\": 9999999999.5,".iter().copied());
    out
}

/// Python's save: truncate and write in place (same inode), under no lock
/// of ours (the test is single-threaded).
fn python_rewrite(dir: &Path, data: &[(String, Value)]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("model.json"))
        .unwrap();
    f.write_all(&python_bytes(data)).unwrap();
}

fn asset(id: &str, pad: usize) -> Value {
    json!({"id": id, "name": format!("model {id}"), "pad": "p".repeat(pad)})
}

fn file_data(dir: &Path) -> serde_json::Map<String, Value> {
    let v: Value = serde_json::from_slice(&fs::read(dir.join("model.json")).unwrap())
        .expect("the file is JSON that Python's json.load reads");
    v["data"].as_object().unwrap().clone()
}

/// Every position of the splice in its page and record sizes below and
/// above a page: each add after a Python rewrite leaves Python's bytes as
/// they were (a splice in place, or a new file whose first bytes are the
/// old file's), the file parses with everything in it, and the adds after
/// it are appends in place (same inode, same size).
///
/// Checked to fail: with `append` sending Foreign files to the whole-file
/// render again (the `Layout::Foreign` branch removed), the first
/// assertion on Python's bytes failed ("our add rewrote Python's records").
#[test]
fn an_add_after_python_splices_and_later_adds_append() {
    let dir = tmp("paths");
    let mut data: Vec<(String, Value)> = (0..30)
        .map(|i| (format!("p{i}"), asset(&format!("p{i}"), 500)))
        .collect();
    let (mut in_place, mut copied) = (0, 0);
    for round in 0..40usize {
        // Python adds one (its own rewrite), moving where its file ends.
        let id = format!("py{round}");
        data.push((id.clone(), asset(&id, 37 * round % 900)));
        python_rewrite(&dir, &data);
        let before = fs::read(dir.join("model.json")).unwrap();
        let ino = fs::metadata(dir.join("model.json")).unwrap().ino();
        let cache: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
        assert_eq!(cache.len(), data.len());
        // Ours: records below a page, and every 7th above one.
        let pad = if round % 7 == 3 {
            6000
        } else {
            100 + 61 * round % 1500
        };
        let ours = format!("ours{round}");
        cache.add(asset(&ours, pad)).unwrap();
        let after = fs::read(dir.join("model.json")).unwrap();
        // Python's bytes stay as they were up to the splice's page (whose
        // part before the splice point may be made compact, in the same
        // one-page write).
        let at = before.len() - b"\n    }\n}".len();
        let page = at / 4096 * 4096;
        assert!(
            after[..page] == before[..page],
            "round {round}: our add rewrote Python's records"
        );
        let ino_now = fs::metadata(dir.join("model.json")).unwrap().ino();
        if ino_now == ino {
            in_place += 1;
        } else {
            copied += 1;
        }
        data.push((ours.clone(), asset(&ours, pad)));
        let got = file_data(&dir);
        assert_eq!(got.len(), data.len(), "round {round}");
        for (k, v) in &data {
            assert_eq!(&got[k], v, "round {round}: {k}");
        }
        // The next adds of ours are appends into the reservoir: a splice in
        // place leaves only the rest of its page as the reservoir, so one
        // copy may follow it (never one after a copy), then appends.
        let spliced_in_place = ino_now == ino;
        let mut now = (ino_now, after.len() as u64);
        let mut copies_after = 0;
        for j in 0..4 {
            let id = format!("ours{round}-{j}");
            cache.add(asset(&id, 100)).unwrap();
            data.push((id.clone(), asset(&id, 100)));
            let meta = fs::metadata(dir.join("model.json")).unwrap();
            if (meta.ino(), meta.len()) != now {
                assert_ne!(
                    meta.ino(),
                    now.0,
                    "round {round}: the file changed size in place"
                );
                copies_after += 1;
                now = (meta.ino(), meta.len());
            }
        }
        let allowed = usize::from(spliced_in_place);
        assert!(
            copies_after <= allowed,
            "round {round}: {copies_after} copies after the splice"
        );
        // Another handle (a fresh read of the hybrid file) sees all of it,
        // and the open handle's own incremental read too.
        let other: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
        assert_eq!(other.len(), data.len());
        other.add(asset("from-other", 10)).unwrap();
        cache.load().unwrap();
        assert_eq!(cache.get("from-other"), Some(asset("from-other", 10)));
        data.retain(|(k, _)| k != "from-other");
        data.push(("from-other".into(), asset("from-other", 10)));
        assert_eq!(file_data(&dir).len(), data.len());
    }
    assert!(
        in_place >= 5 && copied >= 5,
        "{in_place} splices in place, {copied} by copy"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Item 2's premise: the assets of a Python-written file are kept compact
/// (whatever the whitespace of the file), and the C ABI's type reads them
/// as the same JSON values as Python.
#[test]
fn assets_of_an_indented_file_are_compact_in_memory() {
    let dir = tmp("compact");
    let data: Vec<(String, Value)> = (0..50)
        .map(|i| {
            (
                format!("m{i}"),
                json!({"id": format!("m{i}"), "nested": {"a": [1, {"b": "c d"}]}, "s": "x: y"}),
            )
        })
        .collect();
    python_rewrite(&dir, &data);
    let cache: AssetCache<RawAsset> = AssetCache::open(options(&dir)).unwrap();
    for (id, v) in &data {
        let a = cache.get(id).unwrap();
        assert!(
            !a.json().contains('\n') && !a.json().contains("  "),
            "{}",
            a.json()
        );
        assert_eq!(&serde_json::from_str::<Value>(a.json()).unwrap(), v);
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// A Python-written file that is not JSON is set aside with serde's own
/// message about the original bytes (line and column of the file), never
/// one about the compact form.
#[test]
fn a_broken_python_file_gets_the_message_of_its_own_bytes() {
    let dir = tmp("broken");
    let mut bytes = python_bytes(&[("a".into(), json!({"id": "a", "n": 1}))]);
    let at = bytes.windows(2).position(|w| w == b" 1").unwrap();
    bytes.splice(at..at + 2, b" 1 2".iter().copied());
    fs::write(dir.join("model.json"), &bytes).unwrap();
    let cache: AssetCache<Value> = AssetCache::open(options(&dir)).unwrap();
    assert_eq!(cache.len(), 0);
    assert!(dir.join("model.json.corrupt").exists());
    fs::remove_dir_all(&dir).unwrap();
}
