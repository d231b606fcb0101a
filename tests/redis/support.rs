//! What the Redis tests share: child processes (this binary run again with a
//! role), unique cache names, assets that show damage, opening a handle.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use asset_cache::{AnyBackend, AssetCache, Options};
use serde_json::{json, Value};

/// The environment variable that turns this binary into a child process.
pub const ROLE_VAR: &str = "ASSET_CACHE_REDIS_ROLE";

/// A cache name no earlier run used, so that tests on the shared server
/// start from nothing.
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// A local folder of its own (for a process standing for a host).
pub fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(unique(&format!("asset-cache-redis-{tag}")));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn options(url: &str, name: &str, timeout: Duration) -> Options {
    Options::new(name)
        .dir(tmp_dir("host"))
        .ttl(Duration::from_secs(3600))
        .backend_url(url)
        .backend_timeout(timeout)
}

pub fn open(url: &str, name: &str, timeout: Duration) -> AssetCache<Value, AnyBackend> {
    AssetCache::open_any(options(url, name, timeout)).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

/// An asset whose `check` is derived from its id and `n`, so that a value
/// stored under the wrong id, or mixed from two writes, is noticed.
pub fn asset(id: &str, n: u64) -> Value {
    json!({"id": id, "n": n, "check": format!("{id}/{n}")})
}

pub fn assert_whole(id: &str, v: &Value) {
    let n = v["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("{id}: no n in {v}"));
    assert_eq!(v["id"], id, "stored under another id");
    assert_eq!(v["check"], format!("{id}/{n}"), "{id} damaged: {v}");
}

pub fn child(role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE_VAR, role).stdin(Stdio::null());
    c
}

/// Waits for a child, killing it past `limit`.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// This process's peak and current resident memory, in bytes.
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}
