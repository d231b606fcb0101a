//! The benchmark harness's Rust half (the C half, bench/bench_c.c, measures
//! the same workloads through the C ABI).
//!
//!   bench gen N OUT.jsonl        N + EXTRA synthetic assets, one JSON a line
//!   bench limits N DATA.jsonl    the physical limits for a cache of N
//!   bench rust N DATA.jsonl      the workloads through the Rust API
//!   bench folder E DATA.jsonl    an add in a folder of E other files
//!   bench foreign N FILE         issue 11: serde_json's floor over FILE (a
//!                                file the Python original wrote) and our
//!                                compactor alone over it
//!   bench redis N DATA.jsonl URL the Redis backend beside a plain client
//!   bench flight URL             single-flight of 8 handles, file and Redis
//!                                backends beside a plain Redis client
//!                                (HSET/HGET per asset) on the server at URL
//!
//! Every figure is printed as `impl<TAB>op<TAB>N<TAB>value<TAB>unit`, the
//! median of BENCH_REPS runs (default 5); bench/table.py turns those lines
//! into the comparison table.

use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use asset_cache::{AssetCache, Options, RawAsset};
use serde::de::IgnoredAny;

/// Assets generated beyond N, for the single adds.
const EXTRA: usize = 100;
const SEED: u64 = 0x5eed_a1c0_ffee_2024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    match arg(0) {
        "gen" => gen(parse_n(arg(1)), Path::new(arg(2))),
        "limits" => limits(parse_n(arg(1)), Path::new(arg(2))),
        "rust" => rust_api(parse_n(arg(1)), Path::new(arg(2))),
        "folder" => folder(parse_n(arg(1)), Path::new(arg(2))),
        "foreign" => foreign(parse_n(arg(1)), Path::new(arg(2))),
        #[cfg(feature = "redis")]
        "redis" => on_redis(parse_n(arg(1)), Path::new(arg(2)), arg(3)),
        #[cfg(feature = "redis")]
        "flight" => flight(arg(1)),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench gen|limits|rust|folder N DATA.jsonl | bench foreign N FILE | \
         bench redis N DATA.jsonl URL | bench flight URL"
    );
    std::process::exit(2)
}

fn parse_n(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| usage())
}

fn reps() -> usize {
    std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5)
}

fn report(imp: &str, op: &str, n: usize, value: f64, unit: &str) {
    println!("{imp}\t{op}\t{n}\t{value:.6}\t{unit}");
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Median seconds of `reps()` runs of `f`, each after an untimed `setup`.
fn time_median<S>(mut setup: impl FnMut() -> S, mut f: impl FnMut(S)) -> f64 {
    let runs = (0..reps())
        .map(|_| {
            let s = setup();
            let t = Instant::now();
            f(s);
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(runs)
}

// ---- synthetic aiXplain-like model metadata ----

/// splitmix64: tiny, seedable, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }
}

const WORDS: &[&str] = &[
    "model",
    "translation",
    "speech",
    "recognition",
    "neural",
    "large",
    "language",
    "fast",
    "accurate",
    "multilingual",
    "summarization",
    "text",
    "audio",
    "image",
    "classification",
    "sentiment",
    "analysis",
    "generation",
    "benchmark",
    "quality",
    "domain",
    "medical",
    "legal",
    "finance",
    "streaming",
    "batch",
    "low",
    "latency",
    "robust",
    "fine-tuned",
    "open",
    "source",
];
const SUPPLIERS: &[&str] = &[
    "OpenAI", "Google", "AWS", "Azure", "Meta", "Mistral", "aiXplain",
];
const FUNCTIONS: &[&str] = &[
    "translation",
    "speech-recognition",
    "text-generation",
    "sentiment-analysis",
    "summarization",
    "image-captioning",
];
const LANGS: &[&str] = &["en", "es", "fr", "de", "ar", "pt", "tr", "hi", "ja", "zh"];

fn words(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One asset of about 1 KB, compact JSON; `i` makes the id unique.
fn asset(rng: &mut Rng, i: usize) -> String {
    let id = format!("{:08x}{}", i, rng.hex(16));
    let supplier = rng.pick(SUPPLIERS);
    let function = rng.pick(FUNCTIONS);
    let params: Vec<serde_json::Value> = (0..3)
        .map(|_| {
            serde_json::json!({
                "name": rng.pick(&["sourcelanguage", "targetlanguage", "temperature", "max_tokens"]),
                "required": rng.below(2) == 0,
                "dataType": rng.pick(&["label", "number", "text"]),
                "defaultValues": [rng.pick(LANGS)],
                "isFixed": false,
            })
        })
        .collect();
    let v = serde_json::json!({
        "name": format!("{} {} {}", supplier, words(rng, 2), rng.below(100)),
        "description": words(rng, 24),
        "api_key": null,
        "supplier": {"id": rng.below(1000), "name": supplier, "code": supplier.to_lowercase()},
        "version": {"name": format!("{}.{}", rng.below(5), rng.below(20)), "id": rng.hex(8)},
        "function": {"id": function, "name": function.replace('-', " ")},
        "pricing": {"price": rng.below(10_000) as f64 / 1000.0, "currency": "USD", "unit": "per 1k chars"},
        "status": rng.pick(&["onboarded", "beta", "deprecated"]),
        "created_at": format!("2025-{:02}-{:02}T{:02}:{:02}:00Z", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60)),
        "input_languages": [rng.pick(LANGS), rng.pick(LANGS)],
        "output_languages": [rng.pick(LANGS)],
        "parameters": params,
        "is_subscribed": rng.below(2) == 0,
        "cost": {"currency": "USD", "value": rng.below(1000)},
    });
    // The id first, as aiXplain's API lists it (and so the C driver finds it
    // with a plain search).
    let rest = v.to_string();
    format!("{{\"id\":\"{id}\",{}", &rest[1..])
}

fn gen(n: usize, out: &Path) {
    let mut rng = Rng(SEED);
    let mut text = String::with_capacity((n + EXTRA) * 1100);
    for i in 0..n + EXTRA {
        text.push_str(&asset(&mut rng, i));
        text.push('\n');
    }
    fs::write(out, text).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn scratch(tag: &str, n: usize) -> PathBuf {
    let dir = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("asset-cache-bench"))
        .join(format!("{tag}-{n}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

fn raw_assets(lines: &[String]) -> Vec<RawAsset> {
    lines
        .iter()
        .map(|l| RawAsset::parse(l).expect("generated asset"))
        .collect()
}

fn open(dir: &Path) -> AssetCache<RawAsset> {
    AssetCache::open(
        Options::new("model")
            .dir(dir)
            .ttl(Duration::from_secs(86_400)),
    )
    .expect("open cache")
}

/// The floor under each operation: what merely touching the same bytes costs.
fn limits(n: usize, data: &Path) {
    let lines = read_lines(data);
    let dir = scratch("limits", n);
    open(&dir).add_list(raw_assets(&lines[..n])).unwrap();
    let file = dir.join("model.json");
    let size = fs::metadata(&file).unwrap().len();
    report("limit", "file size", n, size as f64, "bytes");

    let t = time_median(
        || (),
        |()| {
            let bytes = fs::read(&file).unwrap();
            serde_json::from_slice::<IgnoredAny>(&bytes).unwrap();
        },
    );
    report("limit", "open: read + serde_json validate", n, t, "s");
    let bytes = fs::read(&file).unwrap();
    let t = time_median(|| (), |()| drop(black_box(fs::read(&file).unwrap())));
    report("limit", "open: read file only", n, t, "s");

    let copy = dir.join("copy.json");
    let t = time_median(
        || {
            let _ = fs::remove_file(&copy);
        },
        |()| fs::write(&copy, &bytes).unwrap(),
    );
    report("limit", "add_list: write the file once", n, t, "s");

    // One add's floor: write one record's bytes at the end of a file.
    let record = format!(",\"x\":{}\n}}}}\n", lines[n]);
    let f = fs::OpenOptions::new().write(true).open(&copy).unwrap();
    let t = time_median(
        || (),
        |()| {
            use std::os::unix::fs::FileExt;
            f.write_all_at(record.as_bytes(), bytes.len() as u64 - 3)
                .unwrap()
        },
    );
    report("limit", "add: pwrite one record", n, t, "s");

    // get: copying a 1 KB asset into a fresh malloc'd buffer, as the C ABI must.
    let one = lines[0].as_bytes();
    let iters = 2_000_000;
    let t = time_median(
        || (),
        |()| {
            for _ in 0..iters {
                let v = black_box(one).to_vec();
                black_box(&v);
            }
        },
    );
    report(
        "limit",
        "get: malloc + memcpy 1 KB",
        n,
        iters as f64 / t,
        "ops/s",
    );

    // The same for a uniformly random asset of the N, each in its own heap
    // block as in the cache: at 100k the 100 MB working set is out of every
    // CPU cache, so this is the floor for the get benchmark's access pattern.
    let heap: Vec<Box<[u8]>> = lines[..n].iter().map(|l| l.as_bytes().into()).collect();
    let mut rng = Rng(SEED ^ 2);
    let order: Vec<u32> = (0..iters).map(|_| rng.below(n) as u32).collect();
    let t = time_median(
        || (),
        |()| {
            for &i in &order {
                let v = black_box(&heap[i as usize]).to_vec();
                black_box(&v);
            }
        },
    );
    report(
        "limit",
        "get: malloc + memcpy a random 1 KB asset",
        n,
        iters as f64 / t,
        "ops/s",
    );
    drop(heap);

    let all: Vec<u8> = bytes.clone();
    let t = time_median(|| (), |()| drop(black_box(black_box(&all).to_vec())));
    report("limit", "get_all: memcpy of the JSON", n, t, "s");
    let _ = fs::remove_dir_all(&dir);
}

/// The same workloads through the Rust API, without the C boundary.
fn rust_api(n: usize, data: &Path) {
    let lines = read_lines(data);
    let assets = raw_assets(&lines);
    let dir = scratch("rust", n);
    let cache = open(&dir);
    let t = time_median(
        || assets[..n].to_vec(),
        |batch| cache.add_list(batch).unwrap(),
    );
    report("rust", "add_list", n, t, "s");
    drop(cache);

    let t = time_median(|| (), |()| drop(black_box(open(&dir))));
    report("rust", "open", n, t, "s");

    let cache = open(&dir);
    let mut next = n;
    let t = time_median(
        || {
            next += 1;
            assets[next - 1].clone()
        },
        |a| cache.add(a).unwrap(),
    );
    report("rust", "add one", n, t, "s");

    let ids: Vec<String> = assets[..n]
        .iter()
        .map(|a| a.checked_id().unwrap())
        .collect();
    let mut rng = Rng(SEED ^ 1);
    let order: Vec<&str> = (0..1_000_000).map(|_| ids[rng.below(n)].as_str()).collect();
    let t = time_median(
        || (),
        |()| {
            for id in &order {
                black_box(cache.with_asset(id, |a| a.json().len()));
            }
        },
    );
    report(
        "rust",
        "get (borrow), 1 thread",
        n,
        order.len() as f64 / t,
        "ops/s",
    );

    // Fresh reads (Options::max_staleness) against them off, in this run:
    // bound 0 stats the file on every read; 10 ms at most once per 10 ms.
    for bound_ms in [0u64, 10] {
        let fresh = AssetCache::<RawAsset>::open(
            Options::new("model")
                .dir(&dir)
                .ttl(Duration::from_secs(86_400))
                .max_staleness(Some(Duration::from_millis(bound_ms))),
        )
        .expect("open cache");
        // "Off" again right before, so that both see the same machine state.
        let t = time_median(
            || (),
            |()| {
                for id in &order {
                    black_box(cache.with_asset(id, |a| a.json().len()));
                }
            },
        );
        let tf = time_median(
            || (),
            |()| {
                for id in &order {
                    black_box(fresh.with_asset(id, |a| a.json().len()));
                }
            },
        );
        report(
            "rust",
            &format!("get (borrow), 1 thread, fresh reads {bound_ms} ms"),
            n,
            order.len() as f64 / tf,
            "ops/s",
        );
        report(
            "rust",
            &format!("get: fresh reads {bound_ms} ms, time vs off"),
            n,
            tf / t,
            "x",
        );
    }

    let t = time_median(|| (), |()| drop(black_box(cache.get_all())));
    report("rust", "get_all (clones)", n, t, "s");
    drop(cache);
    let _ = fs::remove_dir_all(&dir);
    std::io::stdout().flush().ok();
}

/// Issue 11: what reading a file the Python original wrote costs at the
/// least, by serde_json (the bound of item 3: an add after a Python rewrite
/// within 2x of `from_slice::<IgnoredAny>` over the same file), and our
/// compactor alone over it (item 4: how fast the scan itself is).
fn foreign(n: usize, file: &Path) {
    let bytes = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let t = time_median(
        || (),
        |()| {
            serde_json::from_slice::<IgnoredAny>(black_box(&bytes)).unwrap();
        },
    );
    report(
        "limit",
        "Python-written file: from_slice::<IgnoredAny>",
        n,
        t,
        "s",
    );
    let t = time_median(
        || (),
        |()| {
            let b = fs::read(file).unwrap();
            serde_json::from_slice::<IgnoredAny>(&b).unwrap();
        },
    );
    report(
        "limit",
        "Python-written file: read + from_slice::<IgnoredAny>",
        n,
        t,
        "s",
    );
    let t = time_median(
        || (),
        |()| {
            let c = asset_cache::internals::format::compact::compact(black_box(&bytes), 256 << 10);
            assert!(!c.merged);
            black_box(c.bytes.len());
        },
    );
    report(
        "rust",
        "Python-written file: compact only (in memory)",
        n,
        t,
        "s",
    );
    // Each tier this CPU has (item 4: what the SIMD code buys).
    use asset_cache::internals::format::compact;
    for tier in compact::tiers() {
        let t = time_median(
            || (),
            |()| {
                let c = compact::compact_tier(black_box(&bytes), 256 << 10, tier);
                black_box(c.bytes.len());
            },
        );
        report(
            "rust",
            &format!("Python-written file: compact only, {tier:?} tier"),
            n,
            t,
            "s",
        );
    }
    std::io::stdout().flush().ok();
}

/// Issue 15, item 6: the cost of an add must not depend on how many other
/// files share the folder. `entries` other files (other caches' `.json`
/// files) sit beside a 1,000-asset cache; measured, each as the median of
/// 200 x BENCH_REPS single adds: the first add of a fresh handle, and an add
/// right after another cache in the folder was rewritten (a create and a
/// rename in the folder, as another process's save makes). Before the fix
/// both listed the whole folder to look for stale temporary files.
fn folder(entries: usize, data: &Path) {
    let lines = read_lines(data);
    let assets = raw_assets(&lines);
    let n = 1000.min(assets.len());
    let dir = scratch("folder", entries);
    for i in 0..entries {
        fs::write(dir.join(format!("other-{i}.json")), b"{}").expect("fill the folder");
    }
    open(&dir).add_list(assets[..n].to_vec()).unwrap();
    let neighbour: AssetCache<RawAsset> =
        AssetCache::open(Options::new("neighbour").dir(&dir)).expect("open neighbour");
    let rounds = 200 * reps();
    let mut next = 0usize;
    let mut fresh = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let cache = open(&dir);
        let a = assets[next % n].clone();
        next += 1;
        let t = Instant::now();
        cache.add(a).unwrap();
        fresh.push(t.elapsed().as_secs_f64());
    }
    report(
        "rust",
        "add one, first of a handle (N = other files in the folder)",
        entries,
        median(fresh),
        "s",
    );
    let cache = open(&dir);
    let mut beside = Vec::with_capacity(rounds);
    for i in 0..rounds {
        neighbour.add_list(vec![assets[i % n].clone()]).unwrap();
        let a = assets[next % n].clone();
        next += 1;
        let t = Instant::now();
        cache.add(a).unwrap();
        beside.push(t.elapsed().as_secs_f64());
    }
    report(
        "rust",
        "add one, after another cache's rewrite (N = other files in the folder)",
        entries,
        median(beside),
        "s",
    );
    drop(cache);
    let _ = fs::remove_dir_all(&dir);
}

/// The Redis backend and, in the same run on the same server, the same
/// workloads written the obvious way with a plain client (redis-rs commands,
/// one per asset: HSET to add, HGET to get, HSCAN to read everything).
#[cfg(feature = "redis")]
fn on_redis(n: usize, data: &Path, url: &str) {
    use asset_cache::AnyBackend;

    let lines = read_lines(data);
    let assets = raw_assets(&lines);
    let ids: Vec<String> = assets.iter().map(|a| a.checked_id().unwrap()).collect();
    let name = format!("bench-{n}");
    let open = || -> AssetCache<RawAsset, AnyBackend> {
        AssetCache::open_any(
            Options::new(&name)
                .ttl(Duration::from_secs(3600))
                .backend_url(url),
        )
        .unwrap()
    };
    let mut plain = redis::Client::open(url).unwrap().get_connection().unwrap();
    let plain_key = format!("plain-{n}");

    let cache = open();
    let t = time_median(
        || assets[..n].to_vec(),
        |batch| cache.add_list(batch).unwrap(),
    );
    report("redis", "add_list", n, t, "s");
    let mut runs = Vec::new();
    for _ in 0..reps() {
        let _: () = redis::cmd("DEL").arg(&plain_key).query(&mut plain).unwrap();
        let t = Instant::now();
        for (chunk, chunk_ids) in assets[..n].chunks(1000).zip(ids[..n].chunks(1000)) {
            let mut pipe = redis::pipe();
            for (a, id) in chunk.iter().zip(chunk_ids) {
                pipe.cmd("HSET")
                    .arg(&plain_key)
                    .arg(id)
                    .arg(a.json())
                    .ignore();
            }
            let _: () = pipe.query(&mut plain).unwrap();
        }
        runs.push(t.elapsed().as_secs_f64());
    }
    let t = median(runs);
    report(
        "redis-plain",
        "add_list: HSET, pipelined by 1000",
        n,
        t,
        "s",
    );

    let t = time_median(|| (), |()| drop(black_box(open())));
    report("redis", "open", n, t, "s");
    let t = time_median(
        || (),
        |()| {
            let mut cursor = 0u64;
            let mut got = 0usize;
            loop {
                let (next, page): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
                    .arg(&plain_key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut plain)
                    .unwrap();
                got += page.len();
                black_box(page);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            assert!(got >= n);
        },
    );
    report("redis-plain", "open: HSCAN everything", n, t, "s");

    // Single adds, ours and the plain client's alternately, so that both
    // see the same machine; each figure is the mean of a batch of adds.
    const BATCH: usize = 500;
    // The plain client running our add script itself: what the script costs
    // the server and the round trip, without our client-side work.
    let script = redis::Script::new(concat!(
        include_str!("../src/backend/redis/lua/prelude.lua"),
        "\n",
        include_str!("../src/backend/redis/lua/add.lua")
    ));
    let script_keys: Vec<String> = ["meta", "assets", "order", "log"]
        .iter()
        .map(|k| format!("plain-script-{n}:{{x}}:{k}"))
        .collect();
    // The floor of any script: the same keys and arguments, no command.
    let empty = redis::Script::new("return 1");
    let (mut ours, mut theirs, mut scripted) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor = Vec::new();
    let mut next = 0;
    for _ in 0..reps() {
        let t = Instant::now();
        for _ in 0..BATCH {
            let a = assets[n + next % EXTRA].clone();
            next += 1;
            cache.add(a).unwrap();
        }
        ours.push(t.elapsed().as_secs_f64() / BATCH as f64);
        let t = Instant::now();
        for i in 0..BATCH {
            let a = &assets[n + (next + i) % EXTRA];
            let _: () = redis::cmd("HSET")
                .arg(&plain_key)
                .arg(&ids[n + (next + i) % EXTRA])
                .arg(a.json())
                .query(&mut plain)
                .unwrap();
        }
        theirs.push(t.elapsed().as_secs_f64() / BATCH as f64);
        let t = Instant::now();
        for i in 0..BATCH {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let v: redis::Value = script
                .key(&script_keys[..])
                .arg(&ids[n + (next + i) % EXTRA])
                .arg(assets[n + (next + i) % EXTRA].json())
                .arg(now)
                .arg(now + 3600.0)
                .arg("plain-sid")
                .arg(10_000)
                .arg(0)
                .invoke(&mut plain)
                .unwrap();
            black_box(v);
        }
        scripted.push(t.elapsed().as_secs_f64() / BATCH as f64);
        let t = Instant::now();
        for i in 0..BATCH {
            let v: redis::Value = empty
                .key(&script_keys[..])
                .arg(&ids[n + (next + i) % EXTRA])
                .arg(assets[n + (next + i) % EXTRA].json())
                .arg(1.0)
                .arg(2.0)
                .arg("plain-sid")
                .arg(10_000)
                .arg(0)
                .invoke(&mut plain)
                .unwrap();
            black_box(v);
        }
        floor.push(t.elapsed().as_secs_f64() / BATCH as f64);
    }
    let _: () = redis::cmd("DEL")
        .arg(&script_keys)
        .query(&mut plain)
        .unwrap();
    report("redis", "add one", n, median(ours), "s");
    report("redis-plain", "add one: HSET", n, median(theirs), "s");
    report(
        "redis-plain",
        "add one: EVALSHA add.lua",
        n,
        median(scripted),
        "s",
    );
    report(
        "redis-plain",
        "add one: EVALSHA of an empty script",
        n,
        median(floor),
        "s",
    );

    let mut rng = Rng(SEED ^ 2);
    let order: Vec<&str> = (0..1_000_000).map(|_| ids[rng.below(n)].as_str()).collect();
    let t = time_median(
        || (),
        |()| {
            for id in &order {
                black_box(cache.with_asset(id, |a| a.json().len()));
            }
        },
    );
    report("redis", "get, 1 thread", n, order.len() as f64 / t, "ops/s");
    let hgets = &order[..order.len().min(20_000)];
    let t = time_median(
        || (),
        |()| {
            for id in hgets {
                let v: Option<Vec<u8>> = redis::cmd("HGET")
                    .arg(&plain_key)
                    .arg(id)
                    .query(&mut plain)
                    .unwrap();
                black_box(v);
            }
        },
    );
    report(
        "redis-plain",
        "get: HGET",
        n,
        hgets.len() as f64 / t,
        "ops/s",
    );

    cache.invalidate().unwrap();
    let _: () = redis::cmd("DEL").arg(&plain_key).query(&mut plain).unwrap();
    std::io::stdout().flush().ok();
}

/// Cross-host single-flight: 8 handles (a thread each; on Redis each has
/// connections of its own, as a host would) get-or-fetch the same 50 ids in
/// the same order, all at once (a fleet's cold start), with a fetch that
/// takes 5 ms. The file backend (8 handles on one folder), the Redis backend, and
/// the obvious plain-client code (HGET, on a miss fetch and HSET), in the
/// same run: the wall time and the fetches made.
#[cfg(feature = "redis")]
fn flight(url: &str) {
    use asset_cache::AnyBackend;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    const HANDLES: usize = 8;
    const IDS: usize = 50;
    const FETCH: Duration = Duration::from_millis(5);
    let asset = |id: &str| RawAsset::parse(&format!("{{\"id\":\"{id}\",\"n\":1}}")).unwrap();
    let op = format!("single-flight: {HANDLES} handles x {IDS} ids, fetch 5 ms");
    let dir = std::env::temp_dir().join(format!("asset-cache-bench-flight-{}", std::process::id()));

    // Runs the 8 handles once; (wall time, fetches).
    // A handle's get-or-fetch: (id, the fetch's stand-in).
    type Get = Box<dyn Fn(&str, &dyn Fn()) + Send>;
    let run = |open: &(dyn Fn() -> Get + Sync)| {
        let fetches = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(HANDLES + 1));
        let threads: Vec<_> = (0..HANDLES)
            .map(|_| {
                let get = open();
                let (fetches, start) = (fetches.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..IDS {
                        let id = format!("m{i}");
                        get(&id, &|| {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(FETCH);
                        });
                    }
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        for t in threads {
            t.join().unwrap();
        }
        (t.elapsed().as_secs_f64(), fetches.load(Ordering::SeqCst))
    };
    let mut rounds = 0usize;
    let mut measure = |imp: &str, what: &str, f: &mut dyn FnMut(usize) -> (f64, usize)| {
        let (mut walls, mut counts) = (Vec::new(), Vec::new());
        for _ in 0..reps() {
            rounds += 1;
            let (wall, fetches) = f(rounds);
            walls.push(wall);
            counts.push(fetches as f64);
        }
        report(imp, &format!("{op}{what}: wall"), IDS, median(walls), "s");
        report(
            imp,
            &format!("{op}{what}: fetches"),
            IDS,
            median(counts),
            "fetches",
        );
    };
    measure("flight-file", "", &mut |round| {
        let name = format!("flight-{round}");
        let dir = dir.clone();
        run(&move || {
            let c: AssetCache<RawAsset> =
                AssetCache::open(Options::new(&name).dir(&dir).ttl(Duration::from_secs(3600)))
                    .unwrap();
            Box::new(move |id: &str, fetch: &dyn Fn()| {
                c.get_or_fetch(id, || {
                    fetch();
                    Ok(asset(id))
                })
                .unwrap();
            })
        })
    });
    let _ = fs::remove_dir_all(&dir);
    measure("flight-redis", "", &mut |round| {
        let name = format!("flight-{}-{round}", std::process::id());
        let (u2, n2) = (url.to_string(), name.clone());
        let r = run(&move || {
            let c: AssetCache<RawAsset, AnyBackend> = AssetCache::open_any(
                Options::new(&n2)
                    .ttl(Duration::from_secs(3600))
                    .backend_url(&u2),
            )
            .unwrap();
            Box::new(move |id: &str, fetch: &dyn Fn()| {
                c.get_or_fetch(id, || {
                    fetch();
                    Ok(asset(id))
                })
                .unwrap();
            })
        });
        let c: AssetCache<RawAsset, AnyBackend> =
            AssetCache::open_any(Options::new(&name).backend_url(url)).unwrap();
        c.invalidate().unwrap();
        r
    });
    measure(
        "flight-plain",
        ": HGET, on a miss fetch + HSET",
        &mut |round| {
            let key = format!("plain-flight-{}-{round}", std::process::id());
            let (u2, k2) = (url.to_string(), key.clone());
            let r = run(&move || {
                let con = std::sync::Mutex::new(
                    redis::Client::open(u2.as_str())
                        .unwrap()
                        .get_connection()
                        .unwrap(),
                );
                let key = k2.clone();
                Box::new(move |id: &str, fetch: &dyn Fn()| {
                    let mut con = con.lock().unwrap();
                    let v: Option<Vec<u8>> = redis::cmd("HGET")
                        .arg(&key)
                        .arg(id)
                        .query(&mut *con)
                        .unwrap();
                    if v.is_none() {
                        fetch();
                        let _: () = redis::cmd("HSET")
                            .arg(&key)
                            .arg(id)
                            .arg(asset(id).json())
                            .query(&mut *con)
                            .unwrap();
                    }
                })
            });
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            let _: () = redis::cmd("DEL").arg(&key).query(&mut con).unwrap();
            r
        },
    );
    std::io::stdout().flush().ok();
}
