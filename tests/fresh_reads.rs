//! Fresh reads (`Options::max_staleness`): a long-lived handle sees other
//! handles' (processes') writes within the bound, without calling `load`.

use std::path::Path;
use std::time::Duration;

use asset_cache::{AssetCache, Options};
use serde_json::{json, Value};

fn open(dir: &Path, bound: Option<Duration>) -> AssetCache<Value> {
    AssetCache::open(
        Options::new("model")
            .dir(dir)
            .ttl(Duration::from_secs(3600))
            .max_staleness(bound),
    )
    .unwrap()
}

#[test]
fn reads_see_other_writes_within_the_bound_only_when_asked() {
    // Checked to fail: with Freshness::check returning at once, the reader
    // with a bound never saw "a".
    let d = tempfile::tempdir().unwrap();
    let plain = open(d.path(), None);
    let zero = open(d.path(), Some(Duration::ZERO));
    let bounded = open(d.path(), Some(Duration::from_millis(100)));
    assert!(bounded.get("a").is_none()); // a check now: nothing stored
    let writer = open(d.path(), None);
    writer.add(json!({"id": "a"})).unwrap();
    // Bound 0: the next read sees it.
    assert_eq!(zero.get("a"), Some(json!({"id": "a"})));
    assert!(zero.contains("a") && zero.ids() == ["a"] && zero.has_valid_cache());
    // Within 100 ms of its last check, the bounded reader may serve memory;
    // once the bound has passed it must see the write.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(bounded.get("a"), Some(json!({"id": "a"})));
    // Without the option: memory only, as the Python original.
    assert!(plain.get("a").is_none());
    plain.load().unwrap();
    assert!(plain.get("a").is_some());
    // Removes and whole rewrites are seen too.
    writer.remove("a").unwrap();
    assert!(zero.get("a").is_none());
    writer.add_list(vec![json!({"id": "b"})]).unwrap();
    assert_eq!(zero.ids(), ["b"]);
    // A file rewritten in place, as the Python original writes it.
    std::fs::write(
        d.path().join("model.json"),
        format!(
            "{{\"expiry\": {}, \"data\": {{\"c\": {{\"id\": \"c\"}}}}}}",
            zero.expiry()
        ),
    )
    .unwrap();
    assert_eq!(zero.ids(), ["c"]);
}
