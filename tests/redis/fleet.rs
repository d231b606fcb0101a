//! Eight processes, each with a local folder of its own (standing for eight
//! hosts), add 200 assets each to one cache on one server, all at once:
//! every one of the 1,600 is kept, whole, in the store and in the memory of
//! a handle that loads it.
//!
//! Checked to fail: with add.lua starting a fresh store at every add (its
//! `if not m` made `if true`), the adders wiped each other's adds and the
//! children's own check failed ("own adds visible after load").

use std::time::Duration;

use crate::server::shared_url;
use crate::support::*;

const PROCESSES: usize = 8;
const ADDS: usize = 200;

pub fn eight_hosts_lose_no_add() {
    let name = unique("fleet");
    let url = shared_url();
    let start_at = std::time::SystemTime::now() + Duration::from_millis(700);
    let start_ms = start_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|k| {
            child("fleet.adder")
                .env("FLEET_NAME", &name)
                .env("FLEET_K", k.to_string())
                .env("FLEET_START_MS", start_ms.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    for (k, c) in children.iter_mut().enumerate() {
        let status = wait_or_kill(c, Duration::from_secs(120), "adder");
        assert!(status.success(), "adder {k} failed: {status}");
    }
    let cache = open(&url, &name, Duration::from_secs(5));
    assert_eq!(cache.len(), PROCESSES * ADDS, "every add kept");
    for k in 0..PROCESSES {
        for i in 0..ADDS {
            let id = format!("p{k}-{i}");
            let v = cache.get(&id).unwrap_or_else(|| panic!("{id} lost"));
            assert_whole(&id, &v);
        }
    }
    // Each process's adds are in its own order within the store.
    let all = cache.get_all();
    for k in 0..PROCESSES {
        let mine: Vec<u64> = all
            .iter()
            .filter(|v| v["id"].as_str().unwrap().starts_with(&format!("p{k}-")))
            .map(|v| v["n"].as_u64().unwrap())
            .collect();
        assert_eq!(mine, (0..ADDS as u64).collect::<Vec<_>>(), "order of p{k}");
    }
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let order: usize = redis::cmd("LLEN")
        .arg(format!("asset-cache:{{{name}}}:order"))
        .query(&mut con)
        .unwrap();
    assert_eq!(order, PROCESSES * ADDS, "each id once in the order list");
    cache.invalidate().unwrap();
}

pub fn child_adder() {
    let name = std::env::var("FLEET_NAME").unwrap();
    let k: usize = std::env::var("FLEET_K").unwrap().parse().unwrap();
    let start_ms: u128 = std::env::var("FLEET_START_MS").unwrap().parse().unwrap();
    let cache = open(&shared_url(), &name, Duration::from_secs(10));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    if start_ms > now_ms {
        std::thread::sleep(Duration::from_millis((start_ms - now_ms) as u64));
    }
    for i in 0..ADDS {
        let id = format!("p{k}-{i}");
        cache
            .add(asset(&id, i as u64))
            .unwrap_or_else(|e| panic!("add {id}: {e}"));
        assert!(cache.get(&id).is_some(), "{id} in memory after its add");
    }
    cache.load().unwrap();
    assert!(cache.len() >= ADDS, "own adds visible after load");
}
