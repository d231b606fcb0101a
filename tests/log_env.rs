//! ASSET_CACHE_LOG holding something that is not a level: one warning on
//! stderr naming the valid levels, at open, even when nothing else logs.
//! The environment is read once per process, so the check runs this test
//! binary again as a child with the variable set.

use std::process::Command;

const CHILD: &str = "ASSET_CACHE_LOG_ENV_TEST_CHILD";

/// In the child: opens two caches and writes, which logs nothing by itself.
#[test]
fn child_opens_caches() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        let c: asset_cache::AssetCache<serde_json::Value> =
            asset_cache::AssetCache::open(asset_cache::Options::new(name).dir(d.path())).unwrap();
        c.add(serde_json::json!({"id": "m1"})).unwrap();
    }
}

fn child_stderr(value: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_opens_caches", "--test-threads=1"])
        .env(CHILD, "1")
        .env("ASSET_CACHE_LOG", value)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// Checked to fail: without the warning in `log::STDERR_LEVEL` (and with it
/// read only at the first message instead of at open) the stderr was empty.
#[test]
fn a_log_level_that_is_not_one_is_reported_once() {
    let err = child_stderr("verbose");
    let warning = "asset_cache warn: ASSET_CACHE_LOG=\"verbose\" is not a log level \
                   (error, warn, info, debug, or 1-4); logging to stderr stays off";
    assert_eq!(err.matches(warning).count(), 1, "{err}");
    for quiet in ["warn", "DEBUG", "2", ""] {
        let err = child_stderr(quiet);
        assert!(!err.contains("is not a log level"), "{quiet:?}: {err}");
    }
}
