//! `remove` and the size cap (`max_entries`) through the cache's API, two
//! handles with folders of their own standing for two hosts: each write is
//! one script on the server, and the other host's memory follows at its
//! next load (the scripts' own cases are in src/backend/redis/server_tests).
//!
//! Checked to fail: with `caps_on_append` answering false for Redis (the
//! cache's rewrite path, which Redis refuses), the first capped add failed
//! with INVALID_ARGUMENT; with remove.lua's HDEL check skipped (always removed),
//! a second remove of the same id returned true.

use std::time::Duration;

use asset_cache::{AnyBackend, AssetCache};
use serde_json::Value;

use crate::server::shared_url;
use crate::support::*;

fn open_capped(name: &str, cap: Option<usize>) -> AssetCache<Value, AnyBackend> {
    AssetCache::open_any(options(&shared_url(), name, Duration::from_secs(5)).max_entries(cap))
        .unwrap_or_else(|e| panic!("open {name}: {e}"))
}

pub fn remove_and_the_size_cap_across_two_hosts() {
    let name = unique("edits");
    let a = open_capped(&name, Some(3));
    let b = open_capped(&name, Some(3));
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        a.add(asset(id, i as u64)).unwrap();
    }
    b.load().unwrap();
    assert_eq!(b.ids(), ["a", "b", "c"]);
    // B's add over the cap drops the oldest, for B at once and A at load.
    b.add(asset("d", 3)).unwrap();
    assert_eq!(b.ids(), ["b", "c", "d"]);
    a.load().unwrap();
    assert_eq!(a.ids(), ["b", "c", "d"]);
    // A re-add moves the id to the newest place (the cap keeps the most
    // recently written), as with the file backend.
    a.add(asset("b", 4)).unwrap();
    assert_eq!(a.ids(), ["c", "d", "b"]);

    assert!(b.remove("c").unwrap(), "removed from the server");
    assert!(!b.remove("c").unwrap(), "a second remove finds nothing");
    assert!(!b.remove("never").unwrap());
    assert_eq!(
        b.ids(),
        ["d", "b"],
        "B caught up with A's move, then removed"
    );
    a.load().unwrap();
    assert_eq!(a.ids(), ["d", "b"]);
    assert_eq!(a.get("b").unwrap()["n"], 4);

    let fresh = open_capped(&name, None);
    assert_eq!(fresh.ids(), ["d", "b"]);
    // An uncapped handle keeps everything it adds.
    for i in 0..5 {
        fresh.add(asset(&format!("u{i}"), i)).unwrap();
    }
    assert_eq!(fresh.len(), 7);
    a.invalidate().unwrap();
}
