//! What every reliability test shares: child processes (this binary run again
//! with a role), a seeded random source, and the checks that a cache file is
//! whole and that a handle's memory equals the file.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use asset_cache::internals::format as persist;
use asset_cache::{AssetCache, Options};
use serde_json::{json, Value};

/// The environment variable that turns this binary into a child process.
pub const ROLE_VAR: &str = "ASSET_CACHE_RELIABILITY_ROLE";
/// The cache name every test uses.
pub const NAME: &str = "model";

/// True when the long variants were asked for (`ASSET_CACHE_SOAK=1`).
pub fn soak() -> bool {
    std::env::var("ASSET_CACHE_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `quick` normally, `long` under ASSET_CACHE_SOAK.
pub fn scale(quick: usize, long: usize) -> usize {
    if soak() {
        long
    } else {
        quick
    }
}

/// A fresh folder, world-traversable so that a child running as `nobody`
/// can reach what is inside.
pub fn tmp_dir(tag: &str) -> PathBuf {
    // Kept (not removed on drop): children use it after the parent's helper
    // returns; each test removes its folder itself.
    let d = tempfile::Builder::new()
        .prefix(&format!("asset-cache-rel-{tag}-"))
        .tempdir()
        .unwrap()
        .keep();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

pub fn cache_file(dir: &Path) -> PathBuf {
    dir.join(format!("{NAME}.json"))
}

pub fn lock_file(dir: &Path) -> PathBuf {
    dir.join(format!("{NAME}.lock"))
}

pub fn options(dir: &Path) -> Options {
    Options::new(NAME)
        .dir(dir)
        .ttl(Duration::from_secs(3600))
        .lock_timeout(Some(Duration::from_secs(60)))
}

pub fn open(dir: &Path) -> AssetCache<Value> {
    AssetCache::open(options(dir)).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}

/// An asset whose `check` field is derived from its id, so that a record cut
/// short or spliced from two writes is noticed even if it still parses.
pub fn asset(id: &str, n: u64) -> Value {
    json!({"id": id, "n": n, "check": check_of(id, n)})
}

pub fn check_of(id: &str, n: u64) -> String {
    format!("{id}/{n}/{}", id.len() as u64 * 31 + n)
}

/// Panics unless `v` is an asset made by [`asset`] and stored under `key`.
pub fn assert_asset_whole(key: &str, v: &Value) {
    let n = v["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}: no n in {v}"));
    assert_eq!(v["id"], key, "record stored under another id");
    assert_eq!(v["check"], check_of(key, n), "record {key} damaged: {v}");
}

/// Temporary files of the cache left in `dir`.
pub fn temp_files(dir: &Path) -> Vec<String> {
    // `.model.json.tmp`, and the `-<pid>-<hex>` names of versions before
    // issue 15.
    let prefix = format!(".{NAME}.json.tmp");
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Files set aside as corrupt.
pub fn corrupt_files(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.contains(".corrupt"))
        .collect()
}

/// Parses a whole cache file strictly (serde_json, any layout) and in order
/// (the library's own parser): the ids in file order, last record winning.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let strict: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !strict["expiry"].is_number() || !strict["data"].is_object() {
        return Err("no expiry/data".into());
    }
    let parsed = persist::parse::<Value>(bytes).map_err(|e| e.0)?;
    Ok(parsed
        .store
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect())
}

/// The assets in the file now, in order; empty when there is no file.
pub fn disk_assets(dir: &Path) -> Vec<(String, Value)> {
    match fs::read(cache_file(dir)) {
        Ok(b) => parse_file(&b).unwrap_or_else(|e| {
            panic!("{}: {e}\n{}", dir.display(), preview(&b));
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", dir.display()),
    }
}

/// The handle's memory, in order.
pub fn memory_assets(cache: &AssetCache<Value>) -> Vec<(String, Value)> {
    cache
        .get_all()
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect()
}

/// The handle's memory equals the file (nobody else writes meanwhile).
pub fn assert_memory_matches_disk(cache: &AssetCache<Value>, dir: &Path, when: &str) {
    let disk = disk_assets(dir);
    let mem = memory_assets(cache);
    if disk != mem {
        panic!(
            "{when}: memory ({} assets) differs from the file ({} assets)",
            mem.len(),
            disk.len()
        );
    }
}

pub fn preview(b: &[u8]) -> String {
    if b.len() <= 400 {
        return format!("{:?}", String::from_utf8_lossy(b));
    }
    format!(
        "{} bytes: {:?} ... {:?}",
        b.len(),
        String::from_utf8_lossy(&b[..200]),
        String::from_utf8_lossy(&b[b.len() - 200..])
    )
}

// ---- child processes ----

/// This binary, to run as a child with `role`.
pub fn child(role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE_VAR, role).stdin(Stdio::null());
    c
}

/// Children started behind a barrier: each blocks reading its stdin until
/// the parent closes all of them at once in [`Barrier::release`].
pub struct Barrier {
    children: Vec<Child>,
}

impl Barrier {
    pub fn spawn(cmds: Vec<Command>) -> Self {
        let children = cmds
            .into_iter()
            .map(|mut c| {
                c.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Barrier { children }
    }

    /// Starts every child, then waits for all; returns each one's stdout
    /// lines. Panics if a child fails.
    pub fn release(mut self) -> Vec<Vec<String>> {
        for c in &mut self.children {
            drop(c.stdin.take());
        }
        self.children
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let out = c.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "child {i} failed: {:?} (its stderr is above)",
                    out.status
                );
                String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }
}

/// In a child: waits for the barrier (stdin closed by the parent).
pub fn wait_for_barrier() {
    let mut sink = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut sink);
}

/// One line to the parent, flushed at once (the parent may kill us next).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}

/// Reads a child's stdout line by line.
pub struct Lines(BufReader<ChildStdout>);

impl Lines {
    pub fn new(child: &mut Child) -> Self {
        Lines(BufReader::new(child.stdout.take().unwrap()))
    }

    pub fn next_line(&mut self) -> Option<String> {
        let mut s = String::new();
        match self.0.read_line(&mut s) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(s.trim_end().to_string()),
        }
    }

    /// Reads until a line equal to `want`; panics if the child ends first.
    pub fn expect(&mut self, want: &str) {
        while let Some(l) = self.next_line() {
            if l == want {
                return;
            }
        }
        panic!("child ended before saying {want:?}");
    }

    pub fn rest(mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.next_line() {
            v.push(l);
        }
        v
    }
}

/// Waits for a child, killing it and failing if it has not ended after
/// `limit`: a hang detector, far above any expected duration, not a timing
/// assertion.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}, killed (a hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills and reaps a child when dropped, so that a failing test leaves no
/// process behind.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on the id of a child we have not reaped yet.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill({}, {sig})", child.id());
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
/// machine, so that events in different children can be ordered.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// ---- randomness ----

static SEED: AtomicU64 = AtomicU64::new(0);

/// The run's seed: ASSET_CACHE_SEED if set, else from the kernel; printed so
/// a failure can be replayed.
pub fn seed() -> u64 {
    let s = SEED.load(Ordering::Relaxed);
    if s != 0 {
        return s;
    }
    let s = std::env::var("ASSET_CACHE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            // Randomly keyed by the standard library from the kernel.
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                | 1
        });
    SEED.store(s, Ordering::Relaxed);
    s
}

/// xorshift64*: enough to spread kill points and pick operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(stream: u64) -> Self {
        Rng((seed() ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Takes the shared flock on the lock file, as the library's readers and the
/// Python original do, for a reader that reads the file bytes itself.
pub struct SharedFlock(#[allow(dead_code)] fs::File);

impl SharedFlock {
    pub fn take(dir: &Path) -> Self {
        loop {
            let f = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(lock_file(dir))
                .unwrap();
            fs2::FileExt::lock_shared(&f).unwrap();
            // The same re-check as the library: a lock on a replaced file
            // excludes nobody.
            use std::os::unix::fs::MetadataExt;
            let held = f.metadata().unwrap();
            if let Ok(now) = fs::metadata(lock_file(dir)) {
                if now.ino() == held.ino() && now.dev() == held.dev() {
                    return SharedFlock(f);
                }
            }
        }
    }
}

/// A child's parameter, passed in the environment as `ASSET_CACHE_REL_<key>`.
pub fn param<T: std::str::FromStr>(key: &str) -> T {
    let v = std::env::var(format!("ASSET_CACHE_REL_{key}"))
        .unwrap_or_else(|_| panic!("child parameter {key} missing"));
    v.parse()
        .unwrap_or_else(|_| panic!("child parameter {key}={v:?} unparsable"))
}

/// `child(role)` with parameters.
pub fn child_with(role: &str, params: &[(&str, String)]) -> Command {
    let mut c = child(role);
    for (k, v) in params {
        c.env(format!("ASSET_CACHE_REL_{k}"), v);
    }
    c
}

/// The Python original's reading of a cache file: `json.load`, as
/// `aixplain.utils.asset_cache` 0.2.48 loads it (a file it cannot load, it
/// deletes with every asset in it). One python3 process per test, fed a path
/// a line, so that a check costs a pipe round trip, not a start-up.
pub struct PythonJson {
    child: Child,
    input: std::process::ChildStdin,
    output: BufReader<ChildStdout>,
}

const PYTHON_CHECK: &str = r#"
import json, sys
for line in sys.stdin:
    try:
        with open(line.rstrip("\n"), "r") as f:
            doc = json.load(f)
        ok = isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "expiry" in doc
        print("ok" if ok else "error: not a cache file's shape", flush=True)
    except Exception as e:
        print("error: " + repr(e)[:300], flush=True)
"#;

impl PythonJson {
    /// Starts python3; fails loudly (the test needs it) when it cannot.
    pub fn start() -> PythonJson {
        let mut child = Command::new("python3")
            .args(["-c", PYTHON_CHECK])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed to check files as the Python original reads them");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        PythonJson {
            child,
            input,
            output,
        }
    }

    /// `Err` with Python's exception when `json.load` fails on `path`.
    pub fn check(&mut self, path: &Path) -> Result<(), String> {
        writeln!(self.input, "{}", path.display()).unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        match line.trim_end() {
            "ok" => Ok(()),
            other => Err(other.to_string()),
        }
    }
}

impl Drop for PythonJson {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
