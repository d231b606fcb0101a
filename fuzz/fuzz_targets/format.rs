//! The file format's pure functions on arbitrary bytes, called directly
//! (no file, no lock): none panics; what `parse_lines` accepts, `parse` reads
//! the same; what `repair` returns parses, keeps the header line, and keeps
//! a prefix of the input's records; rendering what was parsed reads back the
//! same assets in the same order. Issue 11: the compact path
//! (`parse_foreign`, which the backend uses for any file without our
//! header) accepts exactly what `parse` accepts and reads the same assets
//! and expiry, whatever the chunking; and a splice where it says one goes
//! gives JSON with the new record last that reads back as a hybrid file.
#![no_main]

use std::sync::Arc;

use asset_cache::internals::format;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn pairs(p: &format::Parsed<Value>) -> Vec<(String, Value)> {
    p.store
        .iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let file = Arc::new(data.to_vec());
    let whole = format::parse::<Value>(data);
    if let Some(lines) = format::parse_lines::<Value>(&file) {
        let whole = whole.as_ref().expect("parse_lines accepted what parse rejects");
        assert_eq!(lines.rev, whole.rev);
        assert_eq!(pairs(&lines), pairs(whole));
        assert_eq!(lines.store.expiry().to_bits(), whole.store.expiry().to_bits());
    }
    // The chunk size follows the input, so that chunks end everywhere.
    let chunk = 1 + data.first().map_or(0, |&b| b as usize % 97);
    let foreign = format::parse_foreign::<Value>(data, chunk);
    match (&whole, &foreign) {
        (Ok(w), Ok(f)) => {
            assert_eq!(pairs(w), pairs(f), "the compact path reads other assets");
            assert_eq!(w.store.expiry().to_bits(), f.store.expiry().to_bits());
        }
        (Err(w), Err(f)) => assert_eq!(w.0, f.0, "the compact path gives another message"),
        (w, f) => panic!(
            "parse {} but the compact path {}",
            if w.is_ok() { "accepts" } else { "refuses" },
            if f.is_ok() { "accepts" } else { "refuses" }
        ),
    }
    if let Ok(f) = &foreign {
        if let format::Layout::Foreign { splice_at: Some(at) } = f.layout {
            let first = f.records == 0;
            let mut record = Vec::new();
            format::render_record(&mut record, first, "fz", &serde_json::json!({"id": "fz"}))
                .unwrap();
            let rev = format::new_rev();
            let page = &data[format::page_start(at) as usize..at as usize];
            let (splice, end) =
                format::splice(at, data.len() as u64, b"\n", &record, &rev, 64, page);
            let spliced = match splice {
                format::Splice::InPage { at: from, bytes } => {
                    let mut out = data[..from as usize].to_vec();
                    out.extend_from_slice(&bytes);
                    if out.len() < data.len() {
                        out.extend_from_slice(&data[out.len()..]);
                    }
                    out
                }
                format::Splice::Copy { suffix } => {
                    let mut out = data[..at as usize].to_vec();
                    out.extend_from_slice(&suffix);
                    out
                }
            };
            let back = format::parse_foreign::<Value>(&spliced, chunk).expect("a splice parses");
            let mut want = pairs(f);
            want.retain(|(k, _)| k != "fz");
            want.push(("fz".into(), serde_json::json!({"id": "fz"})));
            let mut got = pairs(&back);
            // A re-added id keeps its first position (Python's dict).
            if f.store.get("fz").is_some() {
                got.retain(|(k, _)| k != "fz");
                got.push(("fz".into(), back.store.get("fz").unwrap().clone()));
            }
            assert_eq!(got, want, "the splice changed other assets");
            assert_eq!(back.layout, format::Layout::Hybrid);
            assert_eq!(back.end, Some(end));
        }
    }
    if let Some(rev) = format::header_rev(data) {
        assert_eq!(rev.len(), 32);
    }
    if let Some(fixed) = format::repair(data) {
        let header = data.iter().position(|&b| b == b'\n').unwrap() + 1;
        assert_eq!(fixed[..header], data[..header], "repair changed the header");
        let body = &fixed[header..fixed.len() - format::TAIL.len()];
        assert!(data[header..].starts_with(body), "repair changed a record");
        // Records of valid JSON whose expiry is a JSON number parse after repair.
        let _ = format::parse::<Value>(&fixed);
    }
    if let Ok(parsed) = whole {
        let rev = format::new_rev();
        let store = &parsed.store;
        if let Ok(bytes) = format::render(store.expiry(), &rev, store.iter()) {
            let again = format::parse::<Value>(&bytes).expect("rendered bytes parse");
            assert_eq!(again.rev.as_deref(), Some(rev.as_str()));
            assert_eq!(pairs(&again), pairs(&parsed));
            let lines = format::parse_lines::<Value>(&Arc::new(bytes)).expect("our layout");
            assert_eq!(pairs(&lines), pairs(&parsed));
        }
    }
});
