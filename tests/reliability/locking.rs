//! Test 5: the lock. Deleting or replacing the lock file while processes
//! wait (the Python original's `invalidate` deletes it) never gives two
//! holders at once, nor loses an add; a holder stopped with SIGSTOP makes the
//! others fail with LOCK_TIMEOUT once the configured timeout has passed, never
//! hang; a child made by `fork()` cannot release its parent's lock; readers
//! that overlap back to back do not keep a writer out.
//!
//! A reader that locks only the lock file, as the Python original does, is
//! not kept out of a write once that file has been replaced (the writer holds
//! the old one); this library's readers also announce themselves on the
//! folder (see `lock`), and the adders here check the file under it after
//! every add.
//!
//! Checked to fail: with the core as first written (a flock on the lock
//! file only, re-checking its inode after waiting),
//! `replaced_lock_file_never_two_holders` saw two holders at the first
//! acquisition: a newcomer locks the new file while the holder still holds
//! the deleted one. That was fixed by a flock on the folder, and is now fixed
//! by the announcement on the folder in `lock::acquire` (issue 15: the folder
//! flock made caches sharing a folder wait for each other). With the
//! announcement's conflict check disabled (`contended` taken as false) the
//! test failed at once ("two holders of the lock at once (iteration 8)";
//! sabotage on the working tree, reverted, never committed); with the timeout ignored (`deadline` forced to
//! `None`), the waiter hung and the 60 s hang detector failed the test; with
//! a `Drop` for `lock::Held` that unlocks (`flock(LOCK_UN)`) before closing,
//! the forked child's drop of its copy released the parent's lock and the
//! test failed. `readers_do_not_starve_writers`, run before the turnstile
//! existed (and again with `pass_turnstile` returning `Ok(None)` at once),
//! failed its first add with LOCK_TIMEOUT after the 5 s timeout.

use std::ffi::CString;
use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use asset_cache::ffi::{self, asset_cache_status};
use asset_cache::internals::lock::{self, Mode};
use asset_cache::{AssetCache, ErrorKind};
use serde_json::Value;

use crate::support::*;

fn holder_marker(dir: &std::path::Path) -> PathBuf {
    dir.join("holder")
}

pub fn replaced_lock_file_never_two_holders() {
    let dir = tmp_dir("locking");
    let procs = 4;
    let iters = scale(400, 4000);
    let adds = scale(100, 1000);
    let stop = dir.join("vandal.stop");
    let dir_s = dir.display().to_string();
    let mut vandal = Reap(
        child_with(
            "locking.vandal",
            &[("DIR", dir_s.clone()), ("STOP", stop.display().to_string())],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let mut cmds: Vec<_> = (0..procs)
        .map(|k| {
            child_with(
                "locking.exclusive_loop",
                &[
                    ("DIR", dir_s.clone()),
                    ("K", k.to_string()),
                    ("ITERS", iters.to_string()),
                ],
            )
        })
        .collect();
    // Library writers too: an add under a lock on a deleted file would be lost.
    for k in 0..2 {
        cmds.push(child_with(
            "writers.adder",
            &[
                ("DIR", dir_s.clone()),
                ("K", k.to_string()),
                ("M", adds.to_string()),
            ],
        ));
    }
    let outputs = Barrier::spawn(cmds).release();
    fs::write(&stop, b"").unwrap();
    let vandal_lines = Lines::new(&mut vandal.0).rest();
    assert!(vandal.0.wait().unwrap().success());
    let acquisitions: usize = outputs
        .iter()
        .flatten()
        .filter_map(|l| l.strip_prefix("HELD "))
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(acquisitions, procs * iters, "every acquisition checked");
    let replaced: u64 = vandal_lines
        .iter()
        .find_map(|l| l.strip_prefix("REPLACED "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(replaced > 0, "the lock file was deleted or replaced");
    let fresh = open(&dir);
    assert_eq!(
        fresh.len(),
        2 * adds,
        "adds lost while the lock file was replaced"
    );
    println!(
        "  {acquisitions} exclusive acquisitions and {} adds while the lock file was \
         deleted or replaced {replaced} times: never two holders",
        2 * adds
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Takes the exclusive lock repeatedly; while held, owns a marker file that
/// must not exist already (it would if another process held the lock too).
pub fn child_exclusive_loop() {
    let dir: PathBuf = param::<String>("DIR").into();
    let iters: usize = param("ITERS");
    let path = lock_file(&dir);
    wait_for_barrier();
    for i in 0..iters {
        let held = lock::acquire(&path, Mode::Exclusive, Some(Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("acquire {i}: {e}"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(holder_marker(&dir))
        {
            Ok(_) => {}
            Err(e) if e.kind() == IoKind::AlreadyExists => {
                panic!("two holders of the lock at once (iteration {i})")
            }
            Err(e) => panic!("marker: {e}"),
        }
        std::thread::sleep(Duration::from_micros(100));
        fs::remove_file(holder_marker(&dir)).unwrap();
        drop(held);
    }
    say(&format!("HELD {iters}"));
}

/// Deletes the lock file, or replaces it by a new one, over and over.
pub fn child_vandal() {
    let dir: PathBuf = param::<String>("DIR").into();
    let stop: PathBuf = param::<String>("STOP").into();
    let path = lock_file(&dir);
    let spare = dir.join("spare.lock");
    let mut rng = Rng::new(5);
    let mut replaced = 0u64;
    while !stop.exists() {
        let done = if rng.below(2) == 0 {
            fs::remove_file(&path).is_ok()
        } else {
            fs::write(&spare, b"").unwrap();
            fs::rename(&spare, &path).is_ok()
        };
        replaced += u64::from(done);
        std::thread::sleep(Duration::from_micros(50 + rng.below(300)));
    }
    say(&format!("REPLACED {replaced}"));
}

const TIMEOUT_MS: u64 = 400;

pub fn stopped_holder_gives_lock_timeout() {
    let dir = tmp_dir("stopped");
    let c = open(&dir);
    c.add_list((0..50).map(|i| asset(&format!("s{i}"), i)).collect())
        .unwrap();
    let baseline = fs::read(cache_file(&dir)).unwrap();
    let dir_s = dir.display().to_string();

    let mut waiter = child_with("locking.waiter", &[("DIR", dir_s.clone())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut waiter_out = Lines::new(&mut waiter);
    waiter_out.expect("OPEN");
    let mut holder = Reap(
        child_with("locking.holder", &[("DIR", dir_s.clone())])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut holder_out = Lines::new(&mut holder.0);
    holder_out.expect("HELD");
    signal(&holder.0, libc::SIGSTOP);
    drop(waiter.stdin.take());
    // Far above the sum of the timeouts: only a hang trips it.
    let st = wait_or_kill(
        &mut waiter,
        Duration::from_secs(60),
        "a waiter on a stopped holder",
    );
    for l in waiter_out.rest() {
        println!("  {l}");
    }
    assert!(st.success(), "the waiter's checks failed: {st:?}");
    assert_eq!(fs::read(cache_file(&dir)).unwrap(), baseline);

    // Once the holder is gone, the lock is free again.
    drop(holder);
    let c2 = open(&dir);
    c2.add(asset("after", 1)).unwrap();
    assert_eq!(c2.len(), 51);
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_holder() {
    let dir: PathBuf = param::<String>("DIR").into();
    let _held = lock::acquire(&lock_file(&dir), Mode::Exclusive, None).unwrap();
    say("HELD");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Every call meets the stopped holder: each must fail with LOCK_TIMEOUT,
/// not before the configured timeout, and leave memory as it was.
pub fn child_waiter() {
    let dir: PathBuf = param::<String>("DIR").into();
    let timeout = Duration::from_millis(TIMEOUT_MS);
    let c = AssetCache::<Value>::open(options(&dir).lock_timeout(Some(timeout))).unwrap();
    let before = memory_assets(&c);
    say("OPEN");
    wait_for_barrier();

    type Call = fn(&AssetCache<Value>) -> asset_cache::Result<()>;
    let calls: &[(&str, Call)] = &[
        ("add", |c| c.add(asset("new", 1))),
        ("add_list", |c| c.add_list(vec![asset("l", 1)])),
        ("save", |c| c.save()),
        ("invalidate", |c| c.invalidate()),
        ("load", |c| c.load()),
    ];
    for (name, call) in calls {
        let start = Instant::now();
        let e = call(&c).expect_err(name);
        let waited = start.elapsed();
        assert_eq!(e.kind(), ErrorKind::LockTimeout, "{name}: {e}");
        assert!(
            waited >= timeout,
            "{name} gave up after {waited:?}, before the timeout"
        );
        assert_eq!(memory_assets(&c), before, "{name} changed memory");
        say(&format!(
            "{name}: LOCK_TIMEOUT after {} ms ({e})",
            waited.as_millis()
        ));
    }

    // Through the C ABI: the status number C callers see.
    let dir_c = CString::new(dir.to_str().unwrap()).unwrap();
    let name_c = CString::new(NAME).unwrap();
    for timeout_ms in [TIMEOUT_MS as i64, 0] {
        let mut opts = std::mem::MaybeUninit::<ffi::asset_cache_options>::uninit();
        // SAFETY: init fills every field; the strings outlive the call.
        let status = unsafe {
            ffi::asset_cache_options_init(opts.as_mut_ptr());
            let mut opts = opts.assume_init();
            opts.dir = dir_c.as_ptr();
            opts.name = name_c.as_ptr();
            opts.lock_timeout_ms = timeout_ms;
            let mut out = std::ptr::null_mut();
            let s = ffi::asset_cache_open(&opts, &mut out);
            assert!(out.is_null(), "no handle on failure");
            s
        };
        assert_eq!(status, asset_cache_status::ASSET_CACHE_LOCK_TIMEOUT);
        assert_eq!(status as i32, 8);
        say(&format!(
            "asset_cache_open, lock_timeout_ms {timeout_ms}: status {}",
            status as i32
        ));
    }
}

pub fn forked_child_cannot_release() {
    let dir = tmp_dir("fork");
    let out = child_with("locking.forker", &[("DIR", dir.display().to_string())])
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{:?}", out.status);
    let _ = fs::remove_dir_all(&dir);
}

/// Issue 11: a backend keeps its lock descriptors open between operations,
/// so a child forked between two operations inherits them. If the parent
/// then takes the lock on them and dies holding it, the lock must go with
/// the parent: a flock belongs to the open file description, which the
/// child's copy would otherwise keep alive (and the lock with it, for as
/// long as the child lives). The child's copies are pointed at /dev/null
/// at fork (`fork::Listed`). Checked to fail with the `dup2` in
/// `fork::in_child` removed: the probe found the lock BUSY after the
/// parent's death, held by a child that never touched the cache.
pub fn forked_child_does_not_keep_a_later_lock() {
    let dir = tmp_dir("fork-kept");
    let mut forker = child_with("locking.kept_forker", &[("DIR", dir.display().to_string())])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = Lines::new(&mut forker).next_line().unwrap_or_default();
    let sleeper: i32 = line
        .strip_prefix("HELD ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("forker said {line:?}"));
    let status = forker.wait().unwrap();
    let verdict = probe(&dir);
    // SAFETY: the sleeper is our grandchild, still asleep; it is ours to end.
    unsafe { libc::kill(sleeper, libc::SIGKILL) };
    assert!(status.success(), "{status:?}");
    assert_eq!(
        verdict, "FREE",
        "the lock outlived its holder: a child forked between two operations kept it"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Single-threaded, so that `fork()` is safe: keeps the lock descriptors
/// from a first lock, forks a child that sleeps without touching anything,
/// takes the lock again on the kept descriptors and exits holding it.
pub fn child_kept_forker() {
    let dir: PathBuf = param::<String>("DIR").into();
    let path = lock_file(&dir);
    let timeout = Some(Duration::from_secs(10));
    let kept = lock::Kept::default();
    drop(lock::acquire_kept(&path, Mode::Exclusive, timeout, &|| 0o600, Some(&kept)).unwrap());
    // SAFETY: this process has one thread; the child only sleeps and leaves
    // with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: async-signal-safe calls only: away from the parent's
        // stdout pipe, then asleep until killed.
        unsafe {
            let null = libc::open(b"/dev/null\0".as_ptr().cast(), libc::O_RDWR);
            libc::dup2(null, 1);
            libc::sleep(60);
            libc::_exit(0);
        }
    }
    let held = lock::acquire_kept(&path, Mode::Exclusive, timeout, &|| 0o600, Some(&kept)).unwrap();
    say(&format!("HELD {pid}"));
    // Dies holding it: no unlock, the descriptors close at exit.
    std::mem::forget(held);
    std::mem::forget(kept);
    std::process::exit(0);
}

/// Is the lock free? Asked from a separate process, which has no share in
/// any descriptor of ours.
fn probe(dir: &std::path::Path) -> String {
    let out = child_with("locking.probe", &[("DIR", dir.display().to_string())])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn child_probe() {
    let dir: PathBuf = param::<String>("DIR").into();
    match lock::acquire(&lock_file(&dir), Mode::Exclusive, Some(Duration::ZERO)) {
        Ok(_) => say("FREE"),
        Err(e) if e.kind() == ErrorKind::LockTimeout => say("BUSY"),
        Err(e) => panic!("probe: {e}"),
    }
}

/// Single-threaded, so that `fork()` is safe: holds the lock, forks, and
/// lets the child do all it can to release it.
pub fn child_forker() {
    let dir: PathBuf = param::<String>("DIR").into();
    let timeout = Some(Duration::from_millis(200));
    let c = AssetCache::<Value>::open(options(&dir).lock_timeout(timeout)).unwrap();
    c.add(asset("p", 1)).unwrap();
    assert_eq!(probe(&dir), "FREE");
    let held = lock::acquire(&lock_file(&dir), Mode::Exclusive, timeout).unwrap();
    assert_eq!(probe(&dir), "BUSY");

    // SAFETY: this process has one thread; the child only uses the library
    // and then leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Its copy of the parent's held lock: dropping it closes a
            // descriptor, which must not unlock the parent's.
            drop(held);
            let e = c.add(asset("child", 1)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e}");
            let e = c.invalidate().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e}");
            let e =
                lock::acquire(&lock_file(&dir), Mode::Exclusive, Some(Duration::ZERO)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e}");
            drop(c);
        }))
        .map_or(1, |()| 0);
        // SAFETY: leaving the forked child without running the parent's
        // exit handlers twice.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child's checks failed: {status:#x}"
    );
    assert_eq!(
        probe(&dir),
        "BUSY",
        "the forked child released the parent's lock"
    );
    drop(held);
    assert_eq!(probe(&dir), "FREE");
    c.add(asset("p2", 1)).unwrap();
    assert!(c.get("child").is_none());
    assert_eq!(c.len(), 2);
    say("  forked child: its drop, add, invalidate and exit left the parent's lock held");
}

const STARVE_ASSETS: u64 = 50_000;
const STARVE_READERS: usize = 3;
const STARVE_ADDS: u64 = 10;

/// flock grants shared locks while a writer waits, so readers whose locks
/// overlap without a gap would keep a writer out until its timeout; the
/// turnstile in `lock::acquire` queues new readers behind a waiting writer.
/// Three processes reopen a 50,000-asset cache back to back (each open is a
/// full read under the shared lock) while this process adds.
pub fn readers_do_not_starve_writers() {
    let dir = tmp_dir("starve");
    let c = open(&dir);
    c.add_list(
        (0..STARVE_ASSETS)
            .map(|i| asset(&format!("r{i}"), i))
            .collect(),
    )
    .unwrap();
    drop(c);
    let dir_s = dir.display().to_string();
    let mut readers: Vec<Reap> = (0..STARVE_READERS)
        .map(|_| {
            Reap(
                child_with("locking.busy_reader", &[("DIR", dir_s.clone())])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let mut outs: Vec<Lines> = readers.iter_mut().map(|r| Lines::new(&mut r.0)).collect();
    for out in &mut outs {
        out.expect("READING");
    }

    let timeout = Duration::from_secs(5);
    let writer = AssetCache::<Value>::open(options(&dir).lock_timeout(Some(timeout))).unwrap();
    let mut waits = Vec::new();
    for i in 0..STARVE_ADDS {
        let start = Instant::now();
        if let Err(e) = writer.add(asset(&format!("w{i}"), i)) {
            fs::write(stop_marker(&dir), b"").unwrap();
            panic!("add {i} among back-to-back readers: {e}");
        }
        waits.push(start.elapsed());
        // Let the readers settle back into overlapping each other.
        std::thread::sleep(Duration::from_millis(200));
    }
    fs::write(stop_marker(&dir), b"").unwrap();
    let mut opens = Vec::new();
    for (reader, out) in readers.iter_mut().zip(outs) {
        let st = wait_or_kill(&mut reader.0, Duration::from_secs(60), "a busy reader");
        assert!(st.success(), "a reader failed: {st:?}");
        let last = out.rest().pop().unwrap_or_default();
        let n: u64 = last
            .strip_prefix("OPENS ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("reader's last line: {last:?}"));
        opens.push(n);
    }
    let slowest = waits.iter().max().copied().unwrap_or_default();
    println!("  {STARVE_ADDS} adds among {STARVE_READERS} back-to-back readers: slowest {slowest:?}; opens per reader {opens:?}");
    assert!(
        slowest < timeout / 2,
        "an add waited {slowest:?} for readers"
    );
    assert!(
        opens.iter().all(|&n| n >= STARVE_ADDS),
        "the readers were not busy: {opens:?} opens"
    );
    assert_eq!(open(&dir).len() as u64, STARVE_ASSETS + STARVE_ADDS);
    let _ = fs::remove_dir_all(&dir);
}

fn stop_marker(dir: &std::path::Path) -> PathBuf {
    dir.join("stop")
}

/// Reopens the cache (a full read under the shared lock) until told to stop.
pub fn child_busy_reader() {
    let dir: PathBuf = param::<String>("DIR").into();
    let mut opens = 0u64;
    while !stop_marker(&dir).exists() {
        let c = open(&dir);
        assert!(c.len() as u64 >= STARVE_ASSETS);
        opens += 1;
        if opens == 1 {
            say("READING");
        }
    }
    say(&format!("OPENS {opens}"));
}
