//! Test 2: readers during writes. Reader processes read and parse the file,
//! and call `load`, thousands of times while writer processes replace it
//! (`add_list`, `save`) and append to it (`add`). Every read must see a
//! complete file: valid JSON, every record whole, and the whole of the list
//! the last `add_list` wrote.
//!
//! A reader that reads the file bytes itself must take the shared flock on
//! `<name>.lock` first, as the library and the Python original do: an add
//! overwrites the closing `}}` in place, so an unlocked reader can catch an
//! append half done. Whole rewrites (temporary file + rename) need no lock:
//! `lockless_readers_see_whole_rewrites` reads without one while writers only
//! replace the file.
//!
//! Checked to fail (sabotage on a scratch copy, never committed): with
//! `io::replace` writing the cache file in place (`fs::write(&target,
//! bytes)` instead of temp + rename), the lockless readers saw an empty file
//! by their 8th read; with `lock::acquire` returning without taking any
//! flock, a locking reader saw a half-written file ("EOF while parsing a
//! string") by its 700th read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

pub fn readers_see_complete_files() {
    run(true, "readers");
}

pub fn lockless_readers_see_whole_rewrites() {
    run(false, "readers-nolock");
}

fn run(with_appends: bool, tag: &str) {
    let dir = tmp_dir(tag);
    let reads = scale(3000, 10000);
    let dir_s = dir.display().to_string();
    // A first file, so that readers never wait for one.
    open(&dir)
        .add_list(list(9, 0, 10))
        .expect("initial add_list");
    let mut writers: Vec<_> = (0..2)
        .map(|w| {
            child_with(
                "readers.writer",
                &[
                    ("DIR", dir_s.clone()),
                    ("W", w.to_string()),
                    ("APPENDS", with_appends.to_string()),
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let mut readers: Vec<_> = (0..2)
        .map(|r| {
            child_with(
                "readers.reader",
                &[
                    ("DIR", dir_s.clone()),
                    ("R", r.to_string()),
                    ("READS", reads.to_string()),
                    ("LOCK", with_appends.to_string()),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut total = 0u64;
    let mut writes_seen = 0u64;
    let mut failed = false;
    for r in &mut readers {
        let lines = Lines::new(r).rest();
        let st = r.wait().unwrap();
        failed |= !st.success();
        for l in lines {
            if let Some(rest) = l.strip_prefix("READS ") {
                let (n, seen) = rest.split_once(' ').unwrap();
                total += n.parse::<u64>().unwrap();
                writes_seen += seen.parse::<u64>().unwrap();
            }
        }
    }
    fs::write(stop_flag(&dir), b"").unwrap();
    for w in &mut writers {
        let st = wait_or_kill(w, Duration::from_secs(120), "writer");
        assert!(st.success(), "a writer failed: {st:?}");
    }
    assert!(
        !failed,
        "a reader saw an incomplete file (its message is above)"
    );
    assert_eq!(total, 2 * reads as u64, "every read was checked");
    println!("  {total} reads checked; {writes_seen} distinct file versions seen");
    assert!(writes_seen > 1, "the readers saw the file change");
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    let _ = fs::remove_dir_all(&dir);
}

fn stop_flag(dir: &Path) -> PathBuf {
    dir.join("stop")
}

/// The `add_list` of generation `gen` by writer `w`: `k` assets whose `n`
/// is `k`, so a reader can tell whether it sees the whole list.
fn list(w: usize, gen: u64, k: u64) -> Vec<Value> {
    (0..k)
        .map(|i| asset(&format!("g{w}x{gen}-{i}"), k))
        .collect()
}

pub fn child_writer() {
    let dir: PathBuf = param::<String>("DIR").into();
    let w: usize = param("W");
    let appends: bool = param("APPENDS");
    let cache = open(&dir);
    let mut rng = Rng::new(100 + w as u64);
    let mut gen = 0u64;
    let mut i = 0u64;
    while !stop_flag(&dir).exists() {
        match rng.below(if appends { 10 } else { 4 }) {
            0..=2 => {
                gen += 1;
                let k = 20 + rng.below(300);
                cache.add_list(list(w, gen, k)).unwrap();
            }
            3 => cache.save().unwrap(),
            _ => {
                i += 1;
                cache.add(asset(&format!("a{w}-{i}"), i)).unwrap();
            }
        }
    }
}

pub fn child_reader() {
    let dir: PathBuf = param::<String>("DIR").into();
    let r: u64 = param("R");
    let reads: usize = param("READS");
    let lock: bool = param("LOCK");
    let cache = open(&dir);
    let mut rng = Rng::new(200 + r);
    let mut versions = std::collections::HashSet::new();
    for n in 0..reads {
        let assets = if lock && rng.below(2) == 0 {
            cache.load().unwrap_or_else(|e| panic!("load {n}: {e}"));
            memory_assets(&cache)
        } else {
            let shared = lock.then(|| SharedFlock::take(&dir));
            let bytes = fs::read(cache_file(&dir)).unwrap();
            drop(shared);
            versions.insert(hash(&bytes));
            parse_file(&bytes)
                .unwrap_or_else(|e| panic!("read {n}: incomplete file: {e}\n{}", preview(&bytes)))
        };
        check_complete(&assets, n);
        crate::writers::reader_pause();
    }
    say(&format!("READS {reads} {}", versions.len()));
}

fn hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Every record whole, and the one `add_list` generation present complete.
fn check_complete(assets: &[(String, Value)], n: usize) {
    let mut groups: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (id, v) in assets {
        assert_asset_whole(id, v);
        if let Some((group, _)) = id.strip_prefix('g').and_then(|s| s.split_once('-')) {
            let e = groups.entry(group).or_insert((0, v["n"].as_u64().unwrap()));
            e.0 += 1;
        }
    }
    assert!(
        groups.len() <= 1,
        "read {n}: parts of two add_lists: {groups:?}"
    );
    for (g, (have, want)) in groups {
        assert_eq!(have, want, "read {n}: add_list {g} seen in part");
    }
}
