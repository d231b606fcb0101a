//! The file format's pure functions on arbitrary bytes, called directly
//! (no file, no lock): none panics; what `parse_lines` accepts, `parse` reads
//! the same; what `repair` returns parses, keeps the header line, and keeps
//! a prefix of the input's records; rendering what was parsed reads back the
//! same assets in the same order.
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
