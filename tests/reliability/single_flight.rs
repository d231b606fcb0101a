//! Single-flight across processes: get-or-fetch and refresh-all run each
//! fetch once for a whole set of processes started together, and a fetcher
//! killed inside its fetch hands the claim over at once.
//!
//! Every fetch appends one line to `<dir>/fetches.log` (O_APPEND, one
//! write), so the count is the fleet's, not a process's.
//!
//! Checked to fail: with `begin_fetch` claiming a byte per process (the id
//! plus the pid), `fetch_each_id_once` counted 65 fetches for 50 ids; with
//! `begin_refresh_all` not re-reading the store after its claim
//! (`self.load()` removed), `refresh_all_fetches_once` counted more than one
//! fetch; with the claim also taking a lease file (created with O_EXCL,
//! removed when the claim is dropped: what a dead process leaves behind),
//! `killed_fetcher_hands_over` failed, the taker giving LOCK_TIMEOUT after
//! its 10 s.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use asset_cache::{AssetCache, ErrorKind, Source};
use serde_json::Value;

use crate::support::*;

const PROCESSES: usize = 8;
const IDS: u64 = 50;

fn log_path(dir: &Path) -> PathBuf {
    dir.join("fetches.log")
}

/// One line per fetch, written in one `write` to a file opened O_APPEND, so
/// lines from many processes never mix.
fn log_fetch(dir: &Path, what: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(dir))
        .unwrap();
    f.write_all(format!("{what} {}\n", std::process::id()).as_bytes())
        .unwrap();
}

fn fetched(dir: &Path) -> Vec<String> {
    fs::read_to_string(log_path(dir))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

pub fn fetch_each_id_once() {
    let dir = tmp_dir("sf-get");
    let d = dir.display().to_string();
    let kids = (0..PROCESSES)
        .map(|i| {
            child_with(
                "single_flight.getter",
                &[("DIR", d.clone()), ("I", i.to_string())],
            )
        })
        .collect();
    let outs = Barrier::spawn(kids).release();
    let mut log = fetched(&dir);
    log.sort();
    let mut want: Vec<String> = (0..IDS).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(log, want, "each id fetched exactly once in the fleet");
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(
            out.last().map(String::as_str),
            Some("GOT 50"),
            "child {i}: {out:?}"
        );
    }
    let c = open(&dir);
    assert_eq!(c.len(), IDS as usize);
    for i in 0..IDS {
        let id = format!("m{i}");
        assert_asset_whole(&id, &c.get(&id).unwrap());
    }
    println!(
        "  {} processes x {IDS} ids: {} fetches",
        PROCESSES,
        log.len()
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Every id in an order of its own, so that processes meet on every id.
pub fn child_getter() {
    let dir: PathBuf = param::<String>("DIR").into();
    let me: u64 = param("I");
    let c = open(&dir);
    let mut order: Vec<u64> = (0..IDS).collect();
    let mut rng = Rng::new(me + 1);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    wait_for_barrier();
    let mut got = 0;
    for n in order {
        let id = format!("m{n}");
        let v = c
            .get_or_fetch(&id, || {
                log_fetch(&dir, &id);
                // A fetch takes time: the others must wait, not fetch.
                std::thread::sleep(Duration::from_millis(3));
                Ok(asset(&id, n))
            })
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_asset_whole(&id, &v.value);
        got += 1;
    }
    say(&format!("GOT {got}"));
}

pub fn refresh_all_fetches_once() {
    let dir = tmp_dir("sf-all");
    // An expired store on disk: every process finds the cache invalid.
    {
        let c = AssetCache::<Value>::open(options(&dir).ttl(Duration::from_secs(1))).unwrap();
        c.add_list((0..5).map(|i| asset(&format!("old{i}"), i)).collect())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1100));
    let d = dir.display().to_string();
    let kids = (0..PROCESSES)
        .map(|_| child_with("single_flight.refresher", &[("DIR", d.clone())]))
        .collect();
    let outs = Barrier::spawn(kids).release();
    assert_eq!(
        fetched(&dir),
        ["all"],
        "one list-everything fetch in the fleet"
    );
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(
            out.last().map(String::as_str),
            Some("ALL 30"),
            "child {i}: {out:?}"
        );
    }
    let ids: Vec<String> = disk_assets(&dir).into_iter().map(|(k, _)| k).collect();
    assert_eq!(ids, (0..30).map(|i| format!("n{i}")).collect::<Vec<_>>());
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_refresher() {
    let dir: PathBuf = param::<String>("DIR").into();
    let c = open(&dir);
    wait_for_barrier();
    let got = c
        .refresh_all(|| {
            log_fetch(&dir, "all");
            std::thread::sleep(Duration::from_millis(200));
            Ok((0..30).map(|i| asset(&format!("n{i}"), i)).collect())
        })
        .unwrap();
    for v in &got.value {
        assert_asset_whole(v["id"].as_str().unwrap(), v);
    }
    say(&format!("ALL {}", got.value.len()));
}

const TAKER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn killed_fetcher_hands_over() {
    let dir = tmp_dir("sf-kill");
    let d = dir.display().to_string();
    let mut stuck = Reap(
        child_with("single_flight.stuck_fetcher", &[("DIR", d.clone())])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    Lines::new(&mut stuck.0).expect("FETCHING");
    let mut taker = child_with("single_flight.taker", &[("DIR", d.clone())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut taker_out = Lines::new(&mut taker);
    taker_out.expect("WAITING");
    // Let it wait on the claim for a while, then kill the fetcher mid-fetch.
    std::thread::sleep(Duration::from_millis(300));
    let killed_at = Instant::now();
    signal(&stuck.0, libc::SIGKILL);
    let st = wait_or_kill(
        &mut taker,
        TAKER_TIMEOUT * 3,
        "a waiter on a killed fetcher",
    );
    let rest = taker_out.rest();
    assert!(st.success(), "taker failed: {st:?} {rest:?}");
    let took = killed_at.elapsed();
    assert!(
        took < TAKER_TIMEOUT,
        "the taker needed {took:?} after the kill, more than the lock timeout"
    );
    assert_eq!(rest.last().map(String::as_str), Some("FETCHED"), "{rest:?}");
    let waited: u64 = rest[rest.len() - 2]
        .strip_prefix("waited ")
        .and_then(|w| w.strip_suffix(" ms"))
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{rest:?}"));
    assert!(
        waited >= 250,
        "the taker did not wait for the claim: {rest:?}"
    );
    assert_eq!(
        fetched(&dir),
        ["m1", "m1"],
        "the killed fetch, then the taker's"
    );
    assert_asset_whole("m1", &open(&dir).get("m1").unwrap());
    println!(
        "  taker fetched {} ms after the kill ({})",
        took.as_millis(),
        rest[rest.len() - 2]
    );
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_stuck_fetcher() {
    let dir: PathBuf = param::<String>("DIR").into();
    let c = open(&dir);
    let _ = c.get_or_fetch("m1", || {
        log_fetch(&dir, "m1");
        say("FETCHING");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    unreachable!();
}

pub fn child_taker() {
    let dir: PathBuf = param::<String>("DIR").into();
    let c = AssetCache::<Value>::open(options(&dir).lock_timeout(Some(TAKER_TIMEOUT))).unwrap();
    // The claim is held: a zero wait says so at once, without blocking.
    let busy = c.begin_fetch("m1", Some(Duration::ZERO)).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::LockTimeout, "{busy}");
    say("WAITING");
    let start = Instant::now();
    let got = c
        .get_or_fetch("m1", || {
            log_fetch(&dir, "m1");
            Ok(asset("m1", 7))
        })
        .unwrap();
    assert!(matches!(got.source, Source::Fetch), "{:?}", got.source);
    say(&format!("waited {} ms", start.elapsed().as_millis()));
    say("FETCHED");
}
