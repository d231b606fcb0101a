//! Test 3: crash during save. A child process opens a large cache, rewrites
//! it (`add_list`, or `save`), and is SIGKILLed at a random moment of that
//! write, hundreds of times. Afterwards the file is byte for byte the old
//! version or the new one (the new one's only unpredictable bytes, its random
//! rev and its expiry, are taken from the file and the rest rendered from
//! the assets the child wrote); a write the child acknowledged is never
//! lost; a fresh handle loads exactly the file; leftover temporary files are
//! removed by the next writer that completes.
//!
//! The append path gets the same treatment: a child adds (new ids, and
//! re-adds that trigger compaction rewrites) until it is killed. The next
//! handle repairs a torn append, and then holds every acknowledged add, and
//! at most the one add that was in flight, and the file parses.
//!
//! Kill points are spread over the measured duration of an uncontended
//! write, so they fall before, during and after the rename.
//!
//! A SIGKILL does not split a small `pwrite`, so kills alone rarely leave a
//! torn append; every 4th kill the test also writes the first k bytes of one
//! more record over the closing `}}` (what a write cut short leaves) and
//! requires the next handle to repair it.
//!
//! Checked to fail (sabotage on a scratch copy, never committed): with
//! `io::replace` writing in place (`fs::write(&target, bytes)`),
//! `kill_during_rewrite` found a torn file at its 7th kill; with
//! `format::repair` returning `None`, `kill_during_adds` found the file set
//! aside as `model.json.corrupt` (and its acknowledged adds gone) at its 4th.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use asset_cache::internals::format as persist;
use serde_json::{json, Value};

use crate::support::*;

/// The version `v` of the large cache: `n` assets (fewer by `v % 3`, so
/// versions differ in length too).
fn version(v: u64, n: u64) -> Vec<Value> {
    (0..n - v % 3).map(|j| asset(&format!("b{j}"), v)).collect()
}

pub fn kill_during_rewrite() {
    let dir = tmp_dir("crash");
    let n = scale(20_000, 50_000) as u64;
    let kills = scale(200, 1000);
    open(&dir).add_list(version(0, n)).unwrap();
    let mut old = fs::read(cache_file(&dir)).unwrap();
    let mut rng = Rng::new(3);
    let mut py = PythonJson::start();
    let mut durations: Vec<u64> = Vec::new();
    let (mut kept_old, mut got_new, mut acked, mut temps_left) = (0, 0, 0, 0);
    // Unkilled runs measure how long a write takes: the first three, and
    // every 25th, since other load on the machine changes it. (Durations of
    // killed runs that happened to finish would bias it towards short ones.)
    let is_calibration = |i: u64| i <= 3 || i % 25 == 0;
    let mut killed = 0;
    let mut i = 0u64;
    while killed < kills {
        i += 1;
        let op = if i % 5 == 0 { "save" } else { "add_list" };
        let mut c = child_with(
            "crash.rewriter",
            &[
                ("DIR", dir.display().to_string()),
                ("OP", op.to_string()),
                ("V", i.to_string()),
                ("N", n.to_string()),
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut lines = Lines::new(&mut c);
        lines.expect("READY");
        if !is_calibration(i) {
            killed += 1;
            // From just before the write starts to a little after it ends,
            // as long as the typical (median) write lasts on this machine now.
            let mut sorted = durations[durations.len().saturating_sub(5)..].to_vec();
            sorted.sort_unstable();
            let dur_ns = sorted[sorted.len() / 2];
            // Half the kills go to the end of the write, where the temporary
            // file is written and renamed (the start is spent rendering).
            let delay = if rng.below(2) == 0 {
                rng.below(dur_ns * 13 / 10 + 1)
            } else {
                dur_ns * 6 / 10 + rng.below(dur_ns / 2 + 1)
            };
            std::thread::sleep(Duration::from_nanos(delay));
            signal(&c, libc::SIGKILL);
        }
        let rest = lines.rest();
        let status = c.wait().unwrap();
        let ack = rest.iter().find_map(|l| l.strip_prefix("ACK "));
        if let Some(took) = ack {
            acked += 1;
            if is_calibration(i) {
                durations.push(took.parse::<u64>().unwrap());
            }
        } else {
            assert!(!is_calibration(i), "calibration run failed: {status:?}");
        }

        if let Err(e) = py.check(&cache_file(&dir)) {
            panic!("kill {i}: the Python original cannot load the file: {e}");
        }
        let now = fs::read(cache_file(&dir)).unwrap();
        if now == old {
            assert!(ack.is_none(), "kill {i}: an acknowledged {op} was lost");
            kept_old += 1;
        } else {
            let expected_new: Vec<Value> = if op == "save" {
                let p = persist::parse::<Value>(&old).unwrap();
                p.store.iter().map(|(_, v)| v.clone()).collect()
            } else {
                version(i, n)
            };
            assert_is_rendering_of(&now, &expected_new, i);
            got_new += 1;
        }
        let temps = temp_files(&dir);
        if ack.is_some() {
            assert!(
                temps.is_empty(),
                "kill {i}: a completed writer left {temps:?}"
            );
        } else if !temps.is_empty() {
            temps_left += 1;
        }
        assert!(
            corrupt_files(&dir).is_empty(),
            "kill {i}: {:?}",
            corrupt_files(&dir)
        );
        // A fresh handle loads exactly what is on disk; every 20th time, to
        // keep the run short (the check parses the whole cache twice).
        if i % 20 == 0 {
            let fresh = open(&dir);
            assert_memory_matches_disk(&fresh, &dir, &format!("kill {i}"));
        }
        old = now;
    }
    // The next writer to complete removes what killed writers left. Plant
    // such a leftover whatever the kills left, so that this check always
    // runs (issue 15: in 2 runs of 4 the kills had left none). Checked to
    // fail with `io::remove_stale_temp` made a no-op: the final add (an
    // append) left the planted file.
    let leftover = dir.join(format!(".{NAME}.json.tmp"));
    if !leftover.exists() {
        fs::write(&leftover, b"{\"expiry\":1,\"data\":{\"half-writ").unwrap();
    }
    let c = open(&dir);
    c.add(asset("final", 1)).unwrap();
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    assert_memory_matches_disk(&c, &dir, "after the last writer");
    println!(
        "  {kills} kills of {n}-asset rewrites (~{} ms each): old kept {kept_old}, new {got_new}, \
         acknowledged {acked}, temporary file left {temps_left}",
        durations[durations.len() / 2] / 1_000_000
    );
    let _ = fs::remove_dir_all(&dir);
}

/// `bytes` is the library's rendering of `assets`, with the rev and expiry
/// the file's header carries.
fn assert_is_rendering_of(bytes: &[u8], assets: &[Value], i: u64) {
    let parsed = persist::parse::<Value>(bytes)
        .unwrap_or_else(|e| panic!("kill {i}: torn file: {}\n{}", e.0, preview(bytes)));
    let rev = persist::header_rev(bytes)
        .unwrap_or_else(|| panic!("kill {i}: no rev in {}", preview(bytes)));
    let ids: Vec<String> = assets
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let want = persist::render(
        parsed.store.expiry(),
        &rev,
        ids.iter().map(String::as_str).zip(assets.iter()),
    )
    .unwrap();
    // The header's expiry is compared as a number: serde_json, without its
    // float_roundtrip feature, may read it back one ulp off, so the header
    // is not re-rendered from the parsed value.
    let split = |b: &[u8]| b.iter().position(|&c| c == b'\n').unwrap() + 1;
    let (head, body) = bytes.split_at(split(bytes));
    let (want_head, want_body) = want.split_at(split(&want));
    let expiry_text = |h: &[u8]| {
        let h = std::str::from_utf8(h).unwrap();
        h["{\"expiry\":".len()..h.find(',').unwrap()].to_string()
    };
    assert_eq!(
        head.len() - expiry_text(head).len(),
        want_head.len() - expiry_text(want_head).len(),
        "kill {i}: header {:?}",
        String::from_utf8_lossy(head)
    );
    let e: f64 = expiry_text(head).parse().unwrap();
    assert!(
        (e - parsed.store.expiry()).abs() < 1e-3,
        "kill {i}: expiry {e}"
    );
    if body != want_body {
        let at = body
            .iter()
            .zip(want_body)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "kill {i}: neither the old nor the new file: {} bytes, expected {}, first \
             difference at {at}: {:?} vs {:?}",
            bytes.len(),
            want.len(),
            String::from_utf8_lossy(&body[at.saturating_sub(40)..(at + 40).min(body.len())]),
            String::from_utf8_lossy(
                &want_body[at.saturating_sub(40)..(at + 40).min(want_body.len())]
            )
        );
    }
}

pub fn child_rewriter() {
    let dir: PathBuf = param::<String>("DIR").into();
    let op: String = param("OP");
    let v: u64 = param("V");
    let n: u64 = param("N");
    let cache = open(&dir);
    let list = version(v, n);
    say("READY");
    let start = Instant::now();
    if op == "save" {
        cache.save().unwrap();
    } else {
        cache.add_list(list).unwrap();
    }
    say(&format!("ACK {}", start.elapsed().as_nanos()));
}

pub fn kill_during_adds() {
    let dir = tmp_dir("crash-adds");
    let kills = scale(120, 600) as u64;
    let base = 100u64;
    open(&dir)
        .add_list((0..base).map(|j| asset(&format!("b{j}"), 0)).collect())
        .unwrap();
    let mut model: BTreeMap<String, u64> = (0..base).map(|j| (format!("b{j}"), 0)).collect();
    let mut rng = Rng::new(4);
    let mut py = PythonJson::start();
    let (mut torn, mut simulated, mut in_flight_landed) = (0, 0, 0);
    for i in 1..=kills {
        let mut c = child_with(
            "crash.adder",
            &[
                ("DIR", dir.display().to_string()),
                ("I", i.to_string()),
                ("BASE", base.to_string()),
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut lines = Lines::new(&mut c);
        lines.expect("READY");
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        signal(&c, libc::SIGKILL);
        let rest = lines.rest();
        c.wait().unwrap();
        for l in &rest {
            let (id, n) = l.strip_prefix("ACK ").unwrap().split_once(' ').unwrap();
            model.insert(id.to_string(), n.parse().unwrap());
        }

        // What a kill of ours leaves, the Python original must be able to
        // load (issue 15 item 3); the tear simulated below is not a kill's.
        if let Err(e) = py.check(&cache_file(&dir)) {
            panic!("kill {i}: the Python original cannot load the file: {e}");
        }
        let raw = fs::read(cache_file(&dir)).unwrap();
        if parse_file(&raw).is_err() {
            torn += 1;
        } else if i % 4 == 0 && raw.ends_with(b"\n}}\n") {
            // A SIGKILL does not split a write inside one page, but a crash
            // of the machine, or a writer of version 0.1 (which appends over
            // the closing `}}`), can: every 4th time, leave what such an
            // append cut short after k bytes leaves.
            let mut rec = Vec::new();
            let id = format!("torn{i}");
            persist::render_record(&mut rec, false, &id, &asset(&id, 1)).unwrap();
            rec.extend_from_slice(b"}}\n");
            let k = 1 + rng.below(rec.len() as u64 - 1) as usize;
            let f = fs::OpenOptions::new()
                .write(true)
                .open(cache_file(&dir))
                .unwrap();
            std::os::unix::fs::FileExt::write_all_at(&f, &rec[..k], raw.len() as u64 - 3).unwrap();
            simulated += 1;
        }
        // Opening repairs a torn append under the exclusive lock.
        let fresh = open(&dir);
        assert_memory_matches_disk(&fresh, &dir, &format!("kill {i}"));
        assert!(
            corrupt_files(&dir).is_empty(),
            "kill {i}: {:?}",
            corrupt_files(&dir)
        );
        let got: BTreeMap<String, u64> = memory_assets(&fresh)
            .into_iter()
            .map(|(id, v)| {
                assert_asset_whole(&id, &v);
                (id, v["n"].as_u64().unwrap())
            })
            .collect();
        let mut extra = 0;
        for (id, &n) in &model {
            let have = got.get(id).copied();
            match have {
                Some(h) if h == n => {}
                // The add in flight at the kill may have landed, newer.
                Some(h) if h > n => extra += 1,
                _ => panic!("kill {i}: acknowledged {id}={n} lost (file has {have:?})"),
            }
        }
        // A simulated torn add whose whole line was written may be kept.
        extra += got
            .keys()
            .filter(|id| !model.contains_key(*id) && !id.starts_with("torn"))
            .count();
        assert!(
            extra <= 1,
            "kill {i}: {extra} unacknowledged adds in the file"
        );
        in_flight_landed += extra;
        model = got;
    }
    let c = open(&dir);
    c.add(asset("final", 1)).unwrap();
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    println!(
        "  {kills} kills during adds: {torn} left a torn append, {simulated} torn appends \
         simulated (all repaired), {in_flight_landed} in-flight adds landed, {} assets at the end",
        c.len()
    );
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_adder() {
    let dir: PathBuf = param::<String>("DIR").into();
    let i: u64 = param("I");
    let base: u64 = param("BASE");
    let cache = open(&dir);
    let mut rng = Rng::new(1000 + i);
    say("READY");
    for j in 1.. {
        // Values grow with (i, j), so a newer record is told from an older.
        let n = i * 1_000_000 + j;
        let id = if rng.below(3) == 0 {
            format!("c{i}-{j}")
        } else {
            // Re-adds supersede records; enough of them force compaction.
            format!("b{}", rng.below(base))
        };
        cache.add(asset(&id, n)).unwrap();
        say(&format!("ACK {id} {n}"));
    }
}

/// Issue 15 item 3: a writer of ours SIGKILLed while adding a large asset
/// (8 MB: more than a page, so no single write of it is safe from the kill)
/// never leaves a file the Python original cannot `json.load` (0.2.48 would
/// delete it, every acknowledged add with it); and the next handle of ours
/// holds every acknowledged add.
///
/// Checked to fail: at a0471f9 (appends written in place over the closing
/// `}}`, whatever their size) the 5th kill left a file Python could not load
/// ("JSONDecodeError: Unterminated string starting at: line 14 column 35").
pub fn kill_during_big_adds() {
    let dir = tmp_dir("crash-big");
    let kills = scale(40, 200) as u64;
    let mut rng = Rng::new(5);
    let mut py = PythonJson::start();
    let (mut acked, mut landed) = (0, 0);
    // How long an add of 8 MB takes here and now, measured by children that
    // are let finish two adds: kills then fall over one to two adds.
    let mut add_ns: Vec<u64> = Vec::new();
    for i in 1..=kills {
        // Small to start from, so that the file stays small whatever the
        // engine does with superseded records.
        open(&dir)
            .add_list((0..10).map(|j| asset(&format!("b{j}"), i)).collect())
            .unwrap();
        let mut c = child_with(
            "crash.big_adder",
            &[("DIR", dir.display().to_string()), ("I", i.to_string())],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut lines = Lines::new(&mut c);
        lines.expect("READY");
        let calibration = i <= 2 || i % 10 == 0;
        let mut rest = Vec::new();
        if calibration {
            for _ in 0..2 {
                let l = lines.next_line().expect("a calibration child acknowledges");
                add_ns.push(l.split(' ').nth(2).unwrap().parse().unwrap());
                rest.push(l);
            }
        } else {
            let mut recent = add_ns[add_ns.len().saturating_sub(6)..].to_vec();
            recent.sort_unstable();
            let typical = recent[recent.len() / 2];
            std::thread::sleep(Duration::from_nanos(rng.below(typical * 5 / 2)));
        }
        signal(&c, libc::SIGKILL);
        rest.extend(lines.rest());
        c.wait().unwrap();
        let last_ack: Option<u64> = rest
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("ACK ")?.split(' ').next()?.parse().ok());
        if let Err(e) = py.check(&cache_file(&dir)) {
            panic!(
                "kill {i}: the Python original cannot load the file ({e}) and would delete \
                 it with every acknowledged add: {}",
                preview(&fs::read(cache_file(&dir)).unwrap())
            );
        }
        let fresh = open(&dir);
        assert_memory_matches_disk(&fresh, &dir, &format!("kill {i}"));
        let big = fresh.get("big").map(|b| b["n"].as_u64().unwrap());
        if let Some(n) = last_ack {
            acked += 1;
            assert!(
                big >= Some(n),
                "kill {i}: acknowledged add {n} lost (file has {big:?})"
            );
        }
        if big > last_ack {
            landed += 1;
        }
        for j in 0..10 {
            assert_eq!(
                fresh.get(&format!("b{j}")),
                Some(asset(&format!("b{j}"), i))
            );
        }
    }
    println!(
        "  {kills} kills during 8 MB adds (an add took {} ms): the Python original loaded \
         every file; {acked} runs acknowledged an add, {landed} had an unacknowledged add land",
        add_ns[add_ns.len() / 2] / 1_000_000
    );
    let _ = fs::remove_dir_all(&dir);
}

pub fn child_big_adder() {
    let dir: PathBuf = param::<String>("DIR").into();
    let i: u64 = param("I");
    let cache = open(&dir);
    let pad = "x".repeat(8 << 20);
    say("READY");
    for j in 1.. {
        let n = i * 1000 + j;
        let start = Instant::now();
        cache.add(json!({"id": "big", "n": n, "pad": pad})).unwrap();
        say(&format!("ACK {n} {}", start.elapsed().as_nanos()));
    }
}
