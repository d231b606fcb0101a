//! Test 1: concurrent writers. Processes started behind a barrier add
//! distinct assets to one cache; threads share a handle; `add_list`,
//! `invalidate` and `load` run in between. No add may be lost, and the file
//! must parse after every step.
//!
//! Checked to fail (each sabotage applied to a scratch copy of the tree,
//! never committed): with the merge disabled (`AssetCache::sync` returning
//! `Synced::Done(opened)` before rereading when a write already knows a
//! version, so it appends at a stale offset), both tests failed at once: the
//! per-step parse found "trailing characters" after an add; with
//! `lock::acquire` returning without taking any flock, both failed too
//! (renames of one writer's temporary file racing another's).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{self, *};

/// N processes x M adds of distinct ids, all released at once.
pub fn processes_lose_no_add() {
    let dir = tmp_dir("writers");
    let n = scale(8, 8);
    let m = scale(150, 1000);
    let cmds = (0..n)
        .map(|k| {
            child_with(
                "writers.adder",
                &[
                    ("DIR", dir.display().to_string()),
                    ("K", k.to_string()),
                    ("M", m.to_string()),
                ],
            )
        })
        .collect();
    Barrier::spawn(cmds).release();

    let fresh = open(&dir);
    let got = memory_assets(&fresh);
    assert_eq!(got.len(), n * m, "{} of {} adds kept", got.len(), n * m);
    for (id, v) in &got {
        assert_asset_whole(id, v);
    }
    let want: BTreeSet<String> = (0..n)
        .flat_map(|k| (0..m).map(move |i| format!("p{k}-{i}")))
        .collect();
    let have: BTreeSet<String> = got.into_iter().map(|(id, _)| id).collect();
    assert_eq!(have, want);
    assert_memory_matches_disk(&fresh, &dir, "after all writers");
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_adder() {
    let dir: PathBuf = param::<String>("DIR").into();
    let k: usize = param("K");
    let m: usize = param("M");
    let cache = open(&dir);
    wait_for_barrier();
    for i in 0..m {
        let id = format!("p{k}-{i}");
        cache.add(asset(&id, i as u64)).unwrap();
        // Every step leaves a whole file that holds what was just added. Read
        // under the library's own shared lock: the locking test deletes the
        // lock file meanwhile, and a reader locking only that file (as the
        // Python original does) is then no longer kept out of an append.
        let _shared = asset_cache::internals::lock::acquire(
            &lock_file(&dir),
            asset_cache::internals::lock::Mode::Shared,
            None,
        )
        .unwrap();
        let bytes = fs::read(cache_file(&dir)).unwrap();
        let assets = parse_file(&bytes)
            .unwrap_or_else(|e| panic!("after add {id}: {e}\n{}", preview(&bytes)));
        assert!(
            assets.iter().any(|(key, _)| *key == id),
            "{id} missing right after its add"
        );
    }
}

/// Threaded adders, an `add_list`/`invalidate` caller and a `load` caller,
/// while the parent keeps parsing the file. Afterwards, for the last
/// `add_list`/`invalidate` D: every add that started after D ended is
/// present, every add that ended before D started is gone, and nothing that
/// was never written appears.
pub fn mixed_ops_keep_every_later_add() {
    let dir = tmp_dir("mixed");
    let procs = scale(4, 6);
    let m = scale(120, 800);
    let ops = scale(12, 60);
    let dir_s = dir.display().to_string();
    let mut cmds = Vec::new();
    for k in 0..procs {
        cmds.push(child_with(
            "writers.threaded_adder",
            &[
                ("DIR", dir_s.clone()),
                ("K", k.to_string()),
                ("M", m.to_string()),
            ],
        ));
    }
    cmds.push(child_with(
        "writers.destroyer",
        &[("DIR", dir_s.clone()), ("OPS", ops.to_string())],
    ));
    cmds.push(child_with("writers.loader", &[("DIR", dir_s.clone())]));

    // The parent is one more reader: the file must parse whenever the lock
    // lets a reader in.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let shared = SharedFlock::take(&dir);
                let read = fs::read(cache_file(&dir));
                drop(shared);
                if let Ok(bytes) = read {
                    if let Err(e) = parse_file(&bytes) {
                        panic!("unparsable during writes: {e}\n{}", preview(&bytes));
                    }
                    reads += 1;
                }
                reader_pause();
            }
            reads
        })
    };
    let outputs = Barrier::spawn(cmds).release();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = watcher.join().expect("the watcher found a bad file");

    // (id -> (start, end)) of adds; destructive ops in order.
    let mut adds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut destructive: Vec<(String, u64, u64, Vec<String>)> = Vec::new();
    let mut loads = 0u64;
    for line in outputs.iter().flatten() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "ADD" => {
                adds.insert(f[1].into(), (f[2].parse().unwrap(), f[3].parse().unwrap()));
            }
            "OP" => destructive.push((
                f[1].into(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4..].iter().map(|s| s.to_string()).collect(),
            )),
            "LOADS" => loads = f[1].parse().unwrap(),
            _ => {}
        }
    }
    assert_eq!(
        adds.len(),
        procs * 2 * (m + POST_ADDS),
        "every add acknowledged"
    );
    assert_eq!(destructive.len(), ops);
    assert!(loads > 0, "the load caller ran");
    let (kind, d_start, d_end, listed) = destructive.iter().max_by_key(|d| d.1).unwrap().clone();

    let fresh = open(&dir);
    let got = memory_assets(&fresh);
    assert_memory_matches_disk(&fresh, &dir, "after the mixed run");
    let have: BTreeSet<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    for (id, v) in &got {
        assert_asset_whole(id, v);
    }
    let mut later = 0;
    for (id, &(start, end)) in &adds {
        if start > d_end {
            later += 1;
            assert!(
                have.contains(id.as_str()),
                "add of {id} after the last {kind} lost"
            );
        }
        if end < d_start {
            assert!(
                !have.contains(id.as_str()),
                "{id}, added before the last {kind}, survived it"
            );
        }
    }
    assert!(
        later >= procs * 2 * POST_ADDS,
        "adds after the last {kind}: {later}"
    );
    for id in &listed {
        assert!(have.contains(id.as_str()), "{id} of the last add_list lost");
    }
    for id in &have {
        assert!(
            adds.contains_key(*id) || listed.iter().any(|l| l == id),
            "{id} in the file but never written after the last {kind}"
        );
    }
    println!(
        "  {} adds, {} add_list/invalidate, {} loads, {} parent reads, {} assets at the end",
        adds.len(),
        destructive.len(),
        loads,
        reads,
        got.len()
    );
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    let _ = fs::remove_dir_all(&dir);
}

/// The watcher's raw shared flocks pause between reads. flock grants a
/// shared lock while a writer waits, so readers that overlap without a gap
/// could keep writers out until LOCK_TIMEOUT (seen with two back-to-back
/// readers of a 10,000-asset file in the soak run). The library's own
/// readers queue behind a waiting writer (the turnstile in `lock::acquire`,
/// tested by `locking::readers_do_not_starve_writers`) and do not pause;
/// the watcher's bare flock does not pass the turnstile.
pub fn reader_pause() {
    std::thread::sleep(Duration::from_micros(500));
}

/// Adds each thread makes after the destroyer has finished, so that some
/// adds certainly follow the last `add_list`/`invalidate`.
const POST_ADDS: usize = 20;

fn done_flag(dir: &Path) -> PathBuf {
    dir.join("destroyer.done")
}

/// Far above the destroyer's run time: if it failed, the others stop
/// waiting for it instead of hanging the suite.
const DESTROYER_LIMIT: Duration = Duration::from_secs(600);

fn wait_for_destroyer(dir: &Path) {
    let give_up = std::time::Instant::now() + DESTROYER_LIMIT;
    while !done_flag(dir).exists() {
        assert!(
            std::time::Instant::now() < give_up,
            "the add_list/invalidate caller never finished"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn child_threaded_adder() {
    let dir: PathBuf = param::<String>("DIR").into();
    let k: usize = param("K");
    let m: usize = param("M");
    let cache = Arc::new(open(&dir));
    wait_for_barrier();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (cache, dir) = (cache.clone(), dir.clone());
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                let mut add = |i: usize| {
                    let id = format!("p{k}t{t}-{i}");
                    let start = mono_ns();
                    cache.add(asset(&id, i as u64)).unwrap();
                    lines.push(format!("ADD {id} {start} {}", mono_ns()));
                    if i % 16 == 0 {
                        cache.load().unwrap();
                    }
                };
                for i in 0..m {
                    add(i);
                }
                wait_for_destroyer(&dir);
                for i in m..m + POST_ADDS {
                    add(i);
                }
                lines
            })
        })
        .collect();
    for t in threads {
        for l in t.join().unwrap() {
            say(&l);
        }
    }
}

pub fn child_destroyer() {
    let dir: PathBuf = param::<String>("DIR").into();
    let ops: usize = param("OPS");
    let cache = open(&dir);
    wait_for_barrier();
    for j in 0..ops {
        std::thread::sleep(Duration::from_millis(5));
        let start = mono_ns();
        if j % 2 == 0 {
            let ids: Vec<String> = (0..10).map(|x| format!("L{j}-{x}")).collect();
            cache
                .add_list(ids.iter().map(|id| asset(id, j as u64)).collect())
                .unwrap();
            say(&format!(
                "OP add_list {start} {} {}",
                mono_ns(),
                ids.join(" ")
            ));
        } else {
            cache.invalidate().unwrap();
            say(&format!("OP invalidate {start} {}", mono_ns()));
        }
    }
    fs::write(done_flag(&dir), b"").unwrap();
}

pub fn child_loader() {
    let dir: PathBuf = param::<String>("DIR").into();
    let cache = open(&dir);
    wait_for_barrier();
    let mut loads = 0u64;
    // Runs until the adders are done: they are, once the destroyer is done
    // and the post-adds can be seen settling; a bounded count keeps it finite.
    let give_up = std::time::Instant::now() + DESTROYER_LIMIT;
    while !done_flag(&dir).exists() || loads < 200 {
        assert!(
            std::time::Instant::now() < give_up,
            "the add_list/invalidate caller never finished"
        );
        cache.load().unwrap();
        for (id, v) in memory_assets(&cache) {
            assert_asset_whole(&id, &v);
        }
        loads += 1;
    }
    support::say(&format!("LOADS {loads}"));
}
