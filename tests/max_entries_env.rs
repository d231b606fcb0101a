//! CACHE_MAX_ENTRIES, read at open as the SDK's development branch reads it.
//! One test in its own process: it sets the environment.

use std::path::Path;
use std::time::Duration;

use asset_cache::{AssetCache, Options};
use serde_json::{json, Value};

fn open(dir: &Path) -> AssetCache<Value> {
    AssetCache::open(
        Options::new("model")
            .dir(dir)
            .ttl(Duration::from_secs(3600)),
    )
    .unwrap()
}

fn fill(c: &AssetCache<Value>) -> usize {
    for i in 0..5 {
        c.add(json!({"id": format!("a{i}")})).unwrap();
    }
    c.len()
}

#[test]
fn cache_max_entries_caps_unless_unset_zero_or_unreadable() {
    let d = tempfile::tempdir().unwrap();
    for (value, want) in [
        (None, 5),
        (Some("2"), 2),
        (Some(" +3 "), 3),
        (Some("0"), 5),
        (Some("-2"), 5),
        (Some("x"), 5),
    ] {
        match value {
            // SAFETY (of the environment): this test is the only thread.
            Some(v) => std::env::set_var("CACHE_MAX_ENTRIES", v),
            None => std::env::remove_var("CACHE_MAX_ENTRIES"),
        }
        let c = open(d.path());
        c.invalidate().unwrap();
        assert_eq!(fill(&c), want, "CACHE_MAX_ENTRIES={value:?}");
        // An explicit option wins over the variable.
        let explicit = AssetCache::<Value>::open(
            Options::new("other")
                .dir(d.path())
                .ttl(Duration::from_secs(3600))
                .max_entries(Some(4)),
        )
        .unwrap();
        explicit.invalidate().unwrap();
        assert_eq!(fill(&explicit), 4);
    }
}
