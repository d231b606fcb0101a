//! Get-or-fetch, refresh-all and stale-if-error in one process: threads with
//! their own handles (the multi-process tests are in tests/reliability).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use asset_cache::{AssetCache, Begin, Error, ErrorKind, Options, RawAsset, Source};
use serde_json::{json, Value};

/// A fresh folder, kept for the test's life (tempfile removes it at exit
/// only when asked; these are small).
fn tmp(tag: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("asset-cache-sf-{tag}-"))
        .tempdir()
        .unwrap()
        .keep()
}

fn options(dir: &Path) -> Options {
    Options::new("model")
        .dir(dir)
        .ttl(Duration::from_secs(3600))
        .lock_timeout(Some(Duration::from_secs(20)))
}

fn open(dir: &Path) -> AssetCache<Value> {
    AssetCache::open(options(dir)).unwrap()
}

fn asset(id: &str) -> Value {
    json!({"id": id, "name": format!("model {id}")})
}

#[test]
fn threads_with_their_own_handles_fetch_each_id_once() {
    // Checked by making begin_fetch skip the claim: ids are then fetched
    // by several threads and the count exceeds 20.
    let d = tmp("threads");
    let fetches = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (d, fetches, start) = (d.clone(), fetches.clone(), start.clone());
            thread::spawn(move || {
                let c = open(&d);
                start.wait();
                for i in 0..20 {
                    let id = format!("m{i}");
                    let got = c
                        .get_or_fetch(&id, || {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(5));
                            Ok(asset(&id))
                        })
                        .unwrap();
                    assert_eq!(got.value, asset(&id));
                    assert!(!got.is_stale());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 20);
    assert_eq!(open(&d).len(), 20);
}

#[test]
fn a_failed_fetch_returns_its_error_and_lets_the_next_caller_fetch() {
    let d = tmp("fail");
    let c = open(&d);
    let err = c
        .get_or_fetch("m1", || Err(Error::fetch_failed("service down")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FetchFailed);
    assert_eq!(err.message(), "service down");
    assert!(!d.join("model.json").exists(), "nothing may be stored");
    let got = c.get_or_fetch("m1", || Ok(asset("m1"))).unwrap();
    assert!(matches!(got.source, Source::Fetch));
    let again = c.get_or_fetch("m1", || panic!("must not fetch")).unwrap();
    assert!(matches!(again.source, Source::Cache));
}

#[test]
fn the_asset_is_stored_under_the_key_looked_up() {
    // A lookup by slug answered with the canonical asset.
    let d = tmp("key");
    let c = open(&d);
    c.get_or_fetch("gpt-4-slug", || Ok(asset("64ab"))).unwrap();
    assert_eq!(open(&d).get("gpt-4-slug"), Some(asset("64ab")));
}

#[test]
fn bad_json_from_a_fetch_gets_adds_statuses_and_stores_nothing() {
    let d = tmp("badjson");
    let c: AssetCache<RawAsset> = AssetCache::open(options(&d)).unwrap();
    for (text, kind) in [
        ("{not json", ErrorKind::InvalidJson),
        ("[1,2]", ErrorKind::MissingId),
        ("{\"name\":\"x\"}", ErrorKind::MissingId),
    ] {
        let err = c.get_or_fetch("m1", || RawAsset::parse(text)).unwrap_err();
        assert_eq!(err.kind(), kind, "{text}");
        // The same statuses as add.
        assert_eq!(c.add_json_kind(text), Some(kind), "{text}");
    }
    assert!(!d.join("model.json").exists());
    assert!(c.get("m1").is_none());
}

trait AddKind {
    fn add_json_kind(&self, text: &str) -> Option<ErrorKind>;
}

impl AddKind for AssetCache<RawAsset> {
    fn add_json_kind(&self, text: &str) -> Option<ErrorKind> {
        RawAsset::parse(text)
            .and_then(|a| self.add(a))
            .err()
            .map(|e| e.kind())
    }
}

#[test]
fn stale_if_error_serves_the_expired_asset_within_the_grace_period_only() {
    // Checked by ignoring the grace period in with_expired: the last
    // get_or_fetch then returns Stale instead of the failure.
    let d = tmp("stale");
    let c: AssetCache<Value> = AssetCache::open(
        options(&d)
            .ttl(Duration::from_secs(1))
            .stale_if_error(Some(Duration::from_secs(1))),
    )
    .unwrap();
    c.add(asset("m1")).unwrap();
    c.add(asset("m2")).unwrap();
    thread::sleep(Duration::from_millis(1100));
    assert!(c.get("m1").is_none(), "expired");
    let got = c
        .get_or_fetch("m1", || Err(Error::fetch_failed("outage")))
        .unwrap();
    assert_eq!(got.value, asset("m1"));
    match &got.source {
        Source::Stale(e) => assert_eq!(e.message(), "outage"),
        other => panic!("{other:?}"),
    }
    let all = c
        .refresh_all(|| Err(Error::fetch_failed("outage")))
        .unwrap();
    assert!(all.is_stale());
    assert_eq!(all.value, vec![asset("m1"), asset("m2")]);
    // Another kind of failure is not hidden by a stale value.
    let err = c
        .get_or_fetch("m1", || Err(Error::new(ErrorKind::InvalidJson, "bad")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidJson);
    // After the grace period: the failure.
    thread::sleep(Duration::from_millis(1000));
    let err = c
        .get_or_fetch("m1", || Err(Error::fetch_failed("outage")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FetchFailed);
    let err = c
        .refresh_all(|| Err(Error::fetch_failed("outage")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FetchFailed);
}

#[test]
fn without_the_option_an_expired_asset_is_never_served() {
    let d = tmp("nostale");
    let c: AssetCache<Value> = AssetCache::open(options(&d).ttl(Duration::from_secs(1))).unwrap();
    c.add(asset("m1")).unwrap();
    thread::sleep(Duration::from_millis(1100));
    let err = c
        .get_or_fetch("m1", || Err(Error::fetch_failed("outage")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FetchFailed);
}

#[test]
fn refresh_all_fetches_once_for_many_threads_and_replaces_the_store() {
    let d = tmp("refresh");
    open(&d).add(asset("old")).unwrap();
    // Make the store invalid for everyone.
    open(&d).invalidate().unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(5));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let (d, fetches, start) = (d.clone(), fetches.clone(), start.clone());
            thread::spawn(move || {
                let c = open(&d);
                start.wait();
                let got = c
                    .refresh_all(|| {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(50));
                        Ok(vec![asset("a"), asset("b")])
                    })
                    .unwrap();
                assert_eq!(got.value, vec![asset("a"), asset("b")]);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[test]
fn the_claim_shape_begin_then_complete_or_abandon() {
    let d = tmp("claim");
    let a = open(&d);
    let b = open(&d);
    let Begin::Claimed(claim) = a.begin_fetch("m1", Some(Duration::ZERO)).unwrap() else {
        panic!("nothing cached yet");
    };
    assert_eq!(claim.id(), Some("m1"));
    // A zero wait does not block while another holds the claim.
    let busy = b.begin_fetch("m1", Some(Duration::ZERO)).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::LockTimeout);
    // Abandoning (dropping) lets the next caller claim it.
    drop(claim);
    let Begin::Claimed(claim) = b.begin_fetch("m1", Some(Duration::ZERO)).unwrap() else {
        panic!("abandoned, still not cached");
    };
    // A claim on one id cannot complete a refresh-all, and vice versa.
    assert_eq!(
        b.complete_all(claim, vec![]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let Begin::Claimed(claim) = b.begin_fetch("m1", Some(Duration::ZERO)).unwrap() else {
        panic!();
    };
    b.complete(claim, asset("m1")).unwrap();
    match a.begin_fetch("m1", Some(Duration::ZERO)).unwrap() {
        Begin::Cached(v) => assert_eq!(v, asset("m1")),
        Begin::Claimed(_) => panic!("completed by b, a must see it"),
    }
}
