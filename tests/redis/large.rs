//! A large store: 100,000 assets of about 1 KB (95 MB). `add_list` writes it
//! and a fresh process opens it in slices of about 1 MB: each takes at least
//! 95 script calls (the server's command statistics say), no command holds
//! the server for a second or more (its SLOWLOG says; on a quiet machine the
//! slowest is about 25 ms, under a load of 10 on two cores it reached
//! 127 ms), and the loading process's peak memory stays within about twice
//! the data. Time itself is measured by the benchmark, against a plain
//! client in the same run, not asserted here.
//!
//! Checked to fail: a loader that kept every slice's reply until the end
//! (instead of decoding and dropping each) peaked at 2.29x the data; with
//! STAGE_BYTES at 1 GiB, add_list made only 4 script calls.

use std::time::{Duration, Instant};

use asset_cache::{AnyBackend, AssetCache, Options, RawAsset};

use crate::server::Server;
use crate::support::*;

const N: usize = 100_000;
const SLOW_US: u64 = 1_000_000;
/// Script calls a sliced transfer of the 95 MB store makes at least.
const MIN_SLICES: u64 = 95;

/// Calls of EVALSHA and EVAL so far, from INFO commandstats.
fn script_calls(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next())
        .map(|n| n.parse::<u64>().unwrap())
        .sum()
}

fn text(i: usize) -> String {
    let pad = "x".repeat(1000 - 40);
    format!("{{\"id\":\"asset-{i:08}\",\"n\":{i},\"pad\":\"{pad}\"}}")
}

pub fn hundred_thousand_assets_in_slices() {
    let server = Server::start("large", &[]);
    let url = server.url();
    let mut con = server.raw();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(20_000)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();

    let name = unique("large");
    let assets: Vec<RawAsset> = (0..N).map(|i| RawAsset::parse(&text(i)).unwrap()).collect();
    let data: usize = assets.iter().map(|a| a.json().len()).sum();
    let writer: AssetCache<RawAsset, AnyBackend> =
        AssetCache::open_any(options(&url, &name, Duration::from_secs(10))).unwrap();
    let calls = script_calls(&mut con);
    let t = Instant::now();
    writer.add_list(assets).unwrap();
    let staged = script_calls(&mut con) - calls;
    assert!(
        staged >= MIN_SLICES,
        "add_list made only {staged} script calls"
    );
    println!(
        "  add_list of {N} ({} MB): {:.2} s",
        data >> 20,
        t.elapsed().as_secs_f64()
    );

    let calls = script_calls(&mut con);
    let mut c = child("large.loader")
        .env("LARGE_URL", &url)
        .env("LARGE_NAME", &name)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_or_kill(&mut c, Duration::from_secs(300), "loader");
    let mut out = String::new();
    std::io::Read::read_to_string(c.stdout.as_mut().unwrap(), &mut out).unwrap();
    print!("{out}");
    assert!(status.success(), "loader failed: {status}");
    let loaded = script_calls(&mut con) - calls;
    assert!(
        loaded >= MIN_SLICES,
        "the open made only {loaded} script calls"
    );
    println!("  script calls: add_list {staged}, open {loaded}");
    let grown: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("grown "))
        .expect("loader reports its memory")
        .trim()
        .parse()
        .unwrap();
    let ratio = grown as f64 / data as f64;
    println!("  loader's peak memory growth: {:.2}x the data", ratio);
    assert!(ratio <= 2.0, "peak memory {ratio:.2}x the data");

    let slow: Vec<(i64, i64, Vec<String>)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1000)
        .query::<Vec<redis::Value>>(&mut con)
        .unwrap()
        .into_iter()
        .map(|entry| {
            let redis::Value::Array(f) = entry else {
                panic!("slowlog entry")
            };
            let us: i64 = redis::from_redis_value(f[2].clone()).unwrap();
            let args: Vec<String> = redis::from_redis_value::<Vec<Vec<u8>>>(f[3].clone())
                .unwrap()
                .into_iter()
                .take(2)
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
                .collect();
            (0, us, args)
        })
        .collect();
    let worst = slow.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "  slowest command: {:.1} ms ({} at or above 20 ms)",
        worst as f64 / 1000.0,
        slow.len()
    );
    for (_, us, args) in &slow {
        println!("    {:.1} ms {args:?}", *us as f64 / 1000.0);
    }
    for (_, us, args) in &slow {
        assert!(
            (*us as u64) < SLOW_US,
            "a command held the server {us} us: {args:?}"
        );
    }
    writer.invalidate().unwrap();
}

pub fn child_loader() {
    let url = std::env::var("LARGE_URL").unwrap();
    let name = std::env::var("LARGE_NAME").unwrap();
    let (_, before) = rss();
    let t = Instant::now();
    let cache: AssetCache<RawAsset, AnyBackend> = AssetCache::open_any(
        Options::new(&name)
            .dir(tmp_dir("loader"))
            .backend_url(&url)
            .backend_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    println!("  open (load) of {N}: {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(cache.len(), N);
    let a = cache.get("asset-00054321").expect("an asset in the middle");
    assert!(a.json().contains("\"n\":54321"));
    let (peak, _) = rss();
    println!("grown {}", peak.saturating_sub(before));
}
