//! The format's unit tests.

use super::*;
use std::sync::Arc;

use serde_json::Value;

fn store(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn render_then_parse_round_trips_and_is_appendable() {
    let pairs = store(&[
        ("a", serde_json::json!({"id":"a"})),
        ("b", serde_json::json!({"id":"b","x":[1,2]})),
    ]);
    let rev = new_rev();
    let bytes = render(5.5, &rev, pairs.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
    let p: Parsed<Value> = parse(&bytes).unwrap();
    assert_eq!(p.rev.as_deref(), Some(rev.as_str()));
    assert_eq!(p.records, 2);
    assert_eq!(p.store.expiry(), 5.5);
    assert_eq!(
        p.store.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

fn lines(bytes: &[u8]) -> Option<Parsed<Value>> {
    parse_lines(&Arc::new(bytes.to_vec()))
}

#[test]
fn line_parse_equals_whole_parse_on_our_layout_only() {
    // A duplicate id is last-wins.
    let big = "x".repeat(1000);
    let pairs = store(&[
        ("a", serde_json::json!({"id":"a","pad":big})),
        ("q\"\\", serde_json::json!({"id":"q\"\\"})),
        ("b", serde_json::json!({"id":"b","pad":big})),
        ("a", serde_json::json!({"id":"a","v":2})),
        ("c", serde_json::json!({"id":"c","pad":big})),
    ]);
    let rev = new_rev();
    let bytes = render(7.25, &rev, pairs.iter().map(|(k, v)| (k.as_str(), v))).unwrap();
    let whole: Parsed<Value> = parse(&bytes).unwrap();
    let streamed = lines(&bytes).expect("our layout parses by lines");
    assert_eq!(streamed.rev, whole.rev);
    assert_eq!(streamed.records, 5);
    assert_eq!(streamed.store.expiry(), 7.25);
    assert_eq!(
        streamed.store.iter().collect::<Vec<_>>(),
        whole.store.iter().collect::<Vec<_>>()
    );
    assert_eq!(
        streamed.store.get("a"),
        Some(&serde_json::json!({"id":"a","v":2}))
    );
    // An empty store in our layout.
    let empty = render(1.0, &rev, std::iter::empty::<(&str, &Value)>()).unwrap();
    assert_eq!(lines(&empty).unwrap().store.len(), 0);

    // Anything else falls back to the whole-file parse.
    let py = b"{\n    \"expiry\": 1,\n    \"data\": {}\n}";
    assert!(lines(py).is_none());
    let torn = &bytes[..bytes.len() - 10];
    assert!(lines(torn).is_none());
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"x\n");
    assert!(lines(&trailing).is_none());
    let no_newline = &bytes[..bytes.len() - 1];
    assert!(lines(no_newline).is_none());
    let mut bad_record = bytes.clone();
    let at = bad_record.len() - 5;
    bad_record[at] = b'!';
    assert!(lines(&bad_record).is_none());
}

#[test]
fn python_layout_parses_without_rev_and_int_expiry_is_accepted() {
    let py = b"{\n    \"expiry\": 1764086400,\n    \"data\": {\n        \"a\": {\n            \"id\": \"a\"\n        }\n    }\n}";
    let p: Parsed<Value> = parse(py).unwrap();
    assert_eq!(p.rev, None);
    assert_eq!(p.store.expiry(), 1764086400.0);
    assert_eq!(p.store.len(), 1);
}

#[test]
fn wrong_shapes_are_unreadable() {
    for bad in [
        &b"[]"[..],
        b"{\"data\":{}}",
        b"{\"expiry\":1}",
        b"{\"expiry\":\"x\",\"data\":{}}",
        b"{\"expiry\":1,\"data\":[]}",
        b"",
    ] {
        assert!(
            parse::<Value>(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn repair_drops_only_a_torn_last_record() {
    let rev = new_rev();
    let v = serde_json::json!({"id":"a"});
    let old = render(9.0, &rev, [("a", &v)].into_iter()).unwrap();
    let mut full = old[..old.len() - TAIL.len()].to_vec();
    render_record(
        &mut full,
        false,
        "b",
        &serde_json::json!({"id":"b","pad":"xxxxxxxx"}),
    )
    .unwrap();
    full.extend_from_slice(TAIL);
    let off = old.len() - TAIL.len();
    for cut in off + 1..full.len() {
        let mut torn = full[..cut].to_vec();
        if torn.len() < old.len() {
            torn.extend_from_slice(&old[torn.len()..]);
        }
        let fixed = repair(&torn).unwrap_or_else(|| panic!("cut {cut}"));
        assert!(
            fixed == old || fixed == full,
            "cut {cut}: {}",
            String::from_utf8_lossy(&fixed)
        );
    }
}

#[test]
fn records_go_after_the_last_or_at_the_next_page_and_never_past_the_tail() {
    assert_eq!(place_record(100, 50, 10_000), Some(100));
    // Would straddle the boundary at 4096: moved to it.
    assert_eq!(place_record(4090, 50, 10_000), Some(4096));
    // Ends exactly at a boundary: stays.
    assert_eq!(place_record(4046, 50, 10_000), Some(4046));
    assert_eq!(place_record(4096, 4096, 10_000), Some(4096));
    // Longer than a page, or no room before the closing `}}`.
    assert_eq!(place_record(0, 4097, 100_000), None);
    assert_eq!(place_record(100, 50, 149), None);
    assert_eq!(place_record(100, 50, 150), Some(100));
    assert_eq!(place_record(4090, 50, 4140), None);
}

#[test]
fn records_written_into_the_reservoir_are_read_back_by_every_reader() {
    let v = |id: &str, pad: usize| serde_json::json!({"id": id, "pad": "p".repeat(pad)});
    let assets = [("a", v("a", 80_000))];
    let r = render_file(3.0, &new_rev(), assets.iter().map(|(k, v)| (*k, v)), &[]).unwrap();
    assert_eq!(
        r.bytes.len() as u64,
        r.end + reservoir_len(r.live as usize) as u64 + 4
    );
    assert_eq!(records_end(&r.bytes), Some(r.end));
    // Write records the way the file backend does, one of them pushed
    // to the next page boundary.
    let mut file = r.bytes.clone();
    let tail = (file.len() - TAIL.len()) as u64;
    let mut end = r.end;
    let mut moved = 0;
    for (id, pad) in [("b", 100), ("c", 3900), ("a", 5)] {
        let mut rec = Vec::new();
        render_record(&mut rec, false, id, &v(id, pad)).unwrap();
        let at = place_record(end, rec.len() as u64, tail).unwrap();
        moved += usize::from(at != end);
        assert_eq!(at / PAGE, (at + rec.len() as u64 - 1) / PAGE, "one page");
        file[at as usize..at as usize + rec.len()].copy_from_slice(&rec);
        // A reader that knew the file up to `end` finds exactly the new
        // record, whatever it reads beyond the next page boundary.
        let region = &file[end as usize..tail as usize];
        let new_end = records_since(end, region, tail).unwrap();
        assert_eq!(new_end, at + rec.len() as u64);
        let short = &region[..(next_page(end) + 1 - end).min(region.len() as u64) as usize];
        if let Some(e) = records_since(end, short, tail) {
            assert_eq!(e, new_end, "a short read may only stop at the right end");
        }
        let got: Vec<(String, Value)> =
            parse_new_records(&file[end as usize..new_end as usize]).unwrap();
        assert_eq!(got, vec![(id.to_string(), v(id, pad))]);
        end = new_end;
        // Nothing new after it.
        assert_eq!(
            records_since(end, &file[end as usize..tail as usize], tail),
            Some(end)
        );
        // Every whole-file reader sees the same store, and the end.
        let whole: Parsed<Value> = parse(&file).unwrap();
        let lines = parse_lines::<Value>(&Arc::new(file.clone())).expect("our layout");
        assert_eq!(lines.end, Some(end));
        assert_eq!(whole.end, Some(end));
        assert_eq!(
            lines.store.iter().collect::<Vec<_>>(),
            whole.store.iter().collect::<Vec<_>>()
        );
    }
    assert_eq!(moved, 1, "the 3.9 KB record went to a page boundary");
    let last: Parsed<Value> = parse(&file).unwrap();
    assert_eq!(
        last.store.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(last.store.get("a"), Some(&v("a", 5)));
    // A torn append of version 0.1 after the reservoir is repaired.
    let mut torn = file[..file.len() - TAIL.len()].to_vec();
    torn.extend_from_slice(b",\"d\":{\"id\":\"d\",");
    let fixed = repair(&torn).unwrap();
    assert_eq!(
        parse::<Value>(&fixed).unwrap().store.len(),
        3,
        "{}",
        String::from_utf8_lossy(&fixed)
    );
}
