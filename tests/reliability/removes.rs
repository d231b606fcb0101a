//! `remove` under the reliability suite's conditions: processes adding and
//! removing at once lose no add and resurrect no removed asset; a remover
//! SIGKILLed at any moment leaves a file that strict JSON (what the Python
//! original's `json.load` is) reads, with every acknowledged remove done.
//!
//! Checked to fail: with `AssetCache::remove` taking the lock without
//! bringing memory up to date first (the rewrite made from this handle's
//! memory), `concurrent_adds_and_removes` failed at once in a mixer; with
//! `FileBackend::rewrite_filtered` writing the file in place (truncate, then
//! write in 64-byte pieces) instead of a temporary file and a rename,
//! `kill_during_removes` found a file strict JSON could not read at its
//! first kill.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

pub fn concurrent_adds_and_removes() {
    let dir = tmp_dir("removes");
    let n = scale(6, 8);
    let m = scale(60, 400);
    let cmds = (0..n)
        .map(|k| {
            child_with(
                "removes.mixer",
                &[
                    ("DIR", dir.display().to_string()),
                    ("K", k.to_string()),
                    ("M", m.to_string()),
                ],
            )
        })
        .collect();
    Barrier::spawn(cmds).release();
    let want: BTreeSet<String> = (0..n)
        .flat_map(|k| {
            (0..m)
                .filter(|i| i % 3 != 0)
                .map(move |i| format!("r{k}-{i}"))
        })
        .collect();
    let have: BTreeSet<String> = disk_assets(&dir).into_iter().map(|(id, _)| id).collect();
    assert_eq!(have, want, "adds lost or removed assets back");
    let fresh = open(&dir);
    assert_memory_matches_disk(&fresh, &dir, "after all mixers");
    let _ = fs::remove_dir_all(&dir);
}

/// Adds its ids, removing every third one right after adding the next, and
/// checks the file after every step.
pub fn child_mixer() {
    let dir: PathBuf = param::<String>("DIR").into();
    let k: usize = param("K");
    let m: usize = param("M");
    let cache = open(&dir);
    wait_for_barrier();
    for i in 0..m {
        let id = format!("r{k}-{i}");
        cache.add(asset(&id, i as u64)).unwrap();
        if i % 3 == 1 {
            let gone = format!("r{k}-{}", i - 1);
            assert!(
                cache.remove(&gone).unwrap(),
                "{gone} was added by this process"
            );
            assert!(!cache.contains(&gone));
            let _shared = asset_cache::internals::lock::acquire(
                &lock_file(&dir),
                asset_cache::internals::lock::Mode::Shared,
                None,
            )
            .unwrap();
            let on_disk = disk_assets(&dir);
            assert!(
                on_disk.iter().all(|(key, _)| *key != gone),
                "{gone} still in the file"
            );
            assert!(
                on_disk.iter().any(|(key, _)| *key == id),
                "{id} lost by the remove"
            );
        }
    }
    // The last of every three is removed only if another add followed it.
    if m % 3 == 1 {
        cache.remove(&format!("r{k}-{}", m - 1)).unwrap();
    }
}

pub fn kill_during_removes() {
    let dir = tmp_dir("crash-removes");
    let kills = scale(60, 300) as u64;
    let base = 400u64;
    open(&dir)
        .add_list((0..base).map(|j| asset(&format!("b{j}"), j)).collect())
        .unwrap();
    let mut present: BTreeSet<String> = (0..base).map(|j| format!("b{j}")).collect();
    let mut rng = Rng::new(7);
    let mut in_flight = 0;
    for i in 1..=kills {
        if present.len() < 20 {
            break;
        }
        let mut c = child_with(
            "removes.remover",
            &[("DIR", dir.display().to_string()), ("I", i.to_string())],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut lines = Lines::new(&mut c);
        lines.expect("READY");
        std::thread::sleep(Duration::from_micros(rng.below(15_000)));
        signal(&c, libc::SIGKILL);
        let acked: Vec<String> = lines
            .rest()
            .into_iter()
            .filter_map(|l| l.strip_prefix("RM ").map(str::to_string))
            .collect();
        c.wait().unwrap();
        // What a strict JSON reader (Python's json.load) sees, at once.
        let raw = fs::read(cache_file(&dir)).unwrap();
        let strict: serde_json::Value = serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("kill {i}: not JSON ({e})\n{}", preview(&raw)));
        let on_disk: BTreeSet<String> = strict["data"]
            .as_object()
            .unwrap_or_else(|| panic!("kill {i}: no data object"))
            .keys()
            .cloned()
            .collect();
        for id in &acked {
            assert!(
                !on_disk.contains(id),
                "kill {i}: acknowledged remove of {id} undone"
            );
        }
        let missing = present.iter().filter(|id| !on_disk.contains(*id)).count();
        assert!(
            missing <= acked.len() + 1,
            "kill {i}: {missing} gone, {} removes acknowledged",
            acked.len()
        );
        in_flight +=
            missing.saturating_sub(acked.iter().filter(|id| present.contains(*id)).count());
        assert!(
            on_disk.is_subset(&present),
            "kill {i}: a removed asset is back"
        );
        present = on_disk;
        let fresh = open(&dir);
        assert_memory_matches_disk(&fresh, &dir, &format!("kill {i}"));
    }
    open(&dir).add(asset("final", 1)).unwrap();
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    println!(
        "  removes killed until {} assets were left; {in_flight} in-flight removes landed",
        present.len()
    );
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_remover() {
    let dir: PathBuf = param::<String>("DIR").into();
    let i: u64 = param("I");
    let cache = open(&dir);
    let mut rng = Rng::new(5000 + i);
    say("READY");
    loop {
        let ids = cache.ids();
        if ids.is_empty() {
            break;
        }
        let id = &ids[rng.below(ids.len() as u64) as usize];
        assert!(cache.remove(id).unwrap());
        say(&format!("RM {id}"));
    }
}
