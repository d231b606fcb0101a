//! Unit tests of reading another writer's layout (the compactor, the compact
//! parse) and of splicing our records into it.

use super::*;
use crate::asset::RawAsset;
use serde_json::{json, Value};

/// Byte at a time: what the compactor must produce.
fn reference_minify(bytes: &[u8]) -> Vec<u8> {
    let (mut out, mut inside, mut escaped) = (Vec::new(), false, false);
    for &b in bytes {
        if inside {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                inside = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push(b);
            inside = b == b'"';
        }
    }
    out
}

/// The Python original's `json.dump(..., indent=4)` of `pairs` (serde's
/// pretty printer with 4 spaces writes the same bytes for ASCII text).
fn python_file(expiry: f64, pairs: &[(String, Value)]) -> Vec<u8> {
    let mut data = serde_json::Map::new();
    for (k, v) in pairs {
        data.insert(k.clone(), v.clone());
    }
    // Python writes "expiry" first; serde_json's map sorts its keys.
    let top = json!({"data": data});
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&top, &mut ser).unwrap();
    let expiry = format!(
        "\n    \"expiry\": {},",
        serde_json::to_string(&expiry).unwrap()
    );
    out.splice(1..1, expiry.into_bytes());
    out
}

fn assets(n: usize, tag: &str) -> Vec<(String, Value)> {
    (0..n)
        .map(|i| {
            let id = format!("{tag}{i}");
            let v = json!({
                "id": id, "name": format!("a  name: {i}"), "q": "say \"hi\" \\ ",
                "n": i, "nested": {"list": [1, 2.5, true, null, {"k": "v v"}], "e": {}},
                "pad": "x".repeat(i * 37 % 300),
            });
            (id, v)
        })
        .collect()
}

#[test]
fn compactor_matches_a_byte_at_a_time_minifier_for_any_chunking() {
    // Strings with escaped quotes and backslash runs of every parity,
    // placed across block boundaries by the varying pad.
    let mut text = String::from("{\n");
    for i in 0..300 {
        let bs = "\\\\".repeat(i % 5);
        text += &format!(
            "  \"k{i}\" :\t[ \"{}{bs}\\\" x \" , {i} ,\r\n \"{}\" ] ,\n",
            " ".repeat(i % 70),
            "\\\\".repeat(i % 3)
        );
    }
    text += "  \"end\" : null\n}\n";
    let want = reference_minify(text.as_bytes());
    assert!(serde_json::from_slice::<Value>(text.as_bytes()).is_ok());
    // Every tier this CPU has (AVX-512, SSSE3) and the portable one.
    // Checked to fail: with the SSSE3 tier's count off by one for mask 0x7f,
    // and with AVX-512's compress mask missing its first bit.
    assert!(compact::tiers().len() >= 2, "{:?}", compact::tiers());
    for chunk in [1, 7, 63, 64, 65, 4096, 1 << 20] {
        for tier in compact::tiers() {
            let c = compact::compact_tier(text.as_bytes(), chunk, tier);
            assert!(!c.merged, "chunk {chunk}, {tier:?}");
            assert_eq!(
                String::from_utf8_lossy(&c.bytes),
                String::from_utf8_lossy(&want),
                "chunk {chunk}, {tier:?}"
            );
            assert_eq!(c.total, text.len() as u64);
        }
    }
}

#[test]
fn whitespace_between_two_parts_of_a_value_is_an_error_wherever_it_falls() {
    // Checked to fail: with `check_gaps` never setting `merged`, "[1 2]" was
    // not flagged (and would have read as [12]).
    for bad in [
        "[1 2]",
        "[nu ll]",
        "[tr\n\nue]",
        "[- 1]",
        "[1 .5]",
        "[1  e5]",
    ] {
        for pad in 0..130 {
            let text = format!("{}{bad}", " ".repeat(pad));
            for tier in compact::tiers() {
                let c = compact::compact_tier(text.as_bytes(), 64, tier);
                assert!(c.merged, "{bad:?} after {pad} spaces, {tier:?}");
            }
        }
    }
    for good in [
        "[1, 2]",
        "[\"a b\", null ]",
        "{\"a\" : 1 }",
        "[ true ,false ]",
    ] {
        for pad in 0..130 {
            let text = format!("{}{good}", " ".repeat(pad));
            assert!(!compact::compact(text.as_bytes(), 64).merged, "{good:?}");
        }
    }
}

#[test]
fn a_python_file_reads_as_serde_reads_it_with_compact_assets_in_one_buffer() {
    let pairs = assets(60, "m");
    let file = python_file(1764086400.5, &pairs);
    let whole: Parsed<Value> = parse(&file).unwrap();
    for chunk in [64, 1000, 1 << 20] {
        let p: Parsed<RawAsset> = parse_foreign(&file, chunk).unwrap();
        assert_eq!(p.store.len(), 60);
        assert_eq!(p.store.expiry(), 1764086400.5);
        for ((id, a), (wid, w)) in p.store.iter().zip(whole.store.iter()) {
            assert_eq!(id, wid);
            assert_eq!(&serde_json::from_str::<Value>(a.json()).unwrap(), w);
            assert!(
                !a.json().contains('\n') && !a.json().contains("\"n\": "),
                "{}",
                a.json()
            );
        }
        // The splice goes right after the last asset's `}`.
        let at = file.len() - b"\n    }\n}".len();
        assert_eq!(
            p.layout,
            Layout::Foreign {
                splice_at: Some(at as u64)
            }
        );
        assert_eq!(file[at - 1], b'}');
    }
    // An empty "data": the splice goes right after its `{`.
    let empty = python_file(5.0, &[]);
    let p: Parsed<Value> = parse_foreign(&empty, 64).unwrap();
    let at = empty.iter().rposition(|&b| b == b'{').unwrap() + 1;
    assert_eq!(
        p.layout,
        Layout::Foreign {
            splice_at: Some(at as u64)
        }
    );
    // "data" not last: no splice there.
    let p: Parsed<Value> = parse_foreign(br#"{"data": {}, "expiry": 5}"#, 64).unwrap();
    assert_eq!(p.layout, Layout::Foreign { splice_at: None });
}

#[test]
fn foreign_parse_gives_serdes_error_for_bad_files() {
    for bad in [
        &b"{\"expiry\": 1, \"data\": {\"a\": [1 2]}}"[..],
        b"{\"expiry\": 1, \"data\": {\"a\": {}}",
        b"{\"expiry\": \"x\", \"data\": {}}",
        b"{\"data\": {}}",
        b"\xEF\xBB\xBF{\"expiry\": 1, \"data\": {}}",
        b"{\"expiry\": 1, \"data\": {\"a\": \"\t\"}}",
    ] {
        let want = parse::<Value>(bad).err().expect("serde refuses it").0;
        let got = parse_foreign::<Value>(bad, 64).err().expect("refused").0;
        assert_eq!(got, want, "{}", String::from_utf8_lossy(bad));
    }
}

/// Applies a splice to `file` as the backend would.
fn apply(file: &[u8], at: u64, s: &Splice) -> Vec<u8> {
    match s {
        Splice::InPage { at, bytes } => {
            let mut out = file[..*at as usize].to_vec();
            out.extend_from_slice(bytes);
            if out.len() < file.len() {
                out.extend_from_slice(&file[out.len()..]);
            }
            out
        }
        Splice::Copy { suffix } => {
            let mut out = file[..at as usize].to_vec();
            out.extend_from_slice(suffix);
            out
        }
    }
}

/// The bytes of `file`'s page before `at`, as the backend passes them.
fn page_before(file: &[u8], at: u64) -> &[u8] {
    &file[page_start(at) as usize..at as usize]
}

#[test]
fn a_splice_makes_a_hybrid_file_that_python_and_we_read_and_that_takes_records() {
    let pairs = assets(25, "p");
    let py = python_file(9.0, &pairs);
    let at = py.len() as u64 - 8;
    let (mut in_page, mut copies, mut compacted) = (0, 0, 0);
    // Every position of the splice within a page, by growing the first asset.
    for grow in (0..4200).step_by(97) {
        let mut pairs = pairs.clone();
        pairs[0].1["grow"] = json!("g".repeat(grow));
        let py = python_file(9.0, &pairs);
        let at = py.len() as u64 - 8;
        let rev = new_rev();
        // Records of 0.5 to 4 KB: in the page as it is, in it once
        // compacted, and over a page.
        let new = json!({"id": "ours", "v": 1, "pad": "y".repeat(500 + grow % 3500)});
        let mut record = Vec::new();
        render_record(&mut record, false, "ours", &new).unwrap();
        let (s, end) = splice(
            at,
            py.len() as u64,
            b"\n",
            &record,
            &rev,
            5000,
            page_before(&py, at),
        );
        match &s {
            Splice::InPage { at: from, bytes } => {
                in_page += 1;
                assert_eq!(
                    from / PAGE,
                    (from + bytes.len() as u64 - 1) / PAGE,
                    "one page"
                );
                if *from < at {
                    compacted += 1;
                }
            }
            Splice::Copy { .. } => copies += 1,
        }
        let hybrid = apply(&py, at, &s);
        // What Python's json.load reads: every asset, ours last.
        let v: Value = serde_json::from_slice(&hybrid).unwrap();
        assert_eq!(v["data"].as_object().unwrap().len(), 26);
        assert_eq!(v["data"]["ours"], new);
        // What we read: a hybrid file with its rev and where our record ends.
        let p: Parsed<Value> = parse_foreign(&hybrid, 4096).unwrap();
        assert_eq!(p.layout, Layout::Hybrid);
        assert_eq!(p.rev.as_deref(), Some(rev.as_str()));
        assert_eq!(p.end, Some(end));
        assert_eq!(tail_rev(&hybrid).as_deref(), Some(rev.as_str()));
        // The next record goes into the reservoir, as in our layout.
        let tail = (hybrid.len() - HYBRID_TAIL_LEN) as u64;
        let mut next = Vec::new();
        render_record(&mut next, false, "ours2", &json!({"id": "ours2"})).unwrap();
        if let Some(place) = place_record(end, next.len() as u64, tail) {
            let mut more = hybrid.clone();
            more[place as usize..place as usize + next.len()].copy_from_slice(&next);
            let p: Parsed<Value> = parse_foreign(&more, 4096).unwrap();
            assert_eq!(p.store.len(), 27);
            assert_eq!(p.end, Some(place + next.len() as u64));
            let region = &more[end as usize..tail as usize];
            assert_eq!(
                records_since(end, region, tail),
                Some(place + next.len() as u64)
            );
        }
    }
    // Checked to fail: without the compaction of the page's bytes before
    // the splice point in `splice`, `compacted` stayed 0.
    assert!(
        in_page > 5 && copies > 5 && compacted > 5,
        "{in_page} in page ({compacted} compacting the page), {copies} copies"
    );
    let _ = at;
}

/// serde_json skips an unknown member without checking its UTF-8, so a file
/// with bytes Python's `json.load` refuses there reads; a splice would keep
/// them, so such a file takes no splice (the next add rewrites it whole).
/// Found by the `load_file` fuzz target.
///
/// Checked to fail: with the UTF-8 check left out of `parse_compacted`,
/// the file below got a splice point.
#[test]
fn a_skipped_member_that_is_not_utf8_allows_no_splice() {
    let bad = b"{\"expiry\": 1, \"x\": \"\x89\", \"data\": {\"a\": {}}}";
    let p: Parsed<Value> = parse_foreign(bad, 64).unwrap();
    assert_eq!(p.layout, Layout::Foreign { splice_at: None });
    let good = b"{\"expiry\": 1, \"x\": \"\xc3\xa9\", \"data\": {\"a\": {}}}";
    let p: Parsed<Value> = parse_foreign(good, 64).unwrap();
    assert!(matches!(p.layout, Layout::Foreign { splice_at: Some(_) }));
}

/// serde_json reads an id without checking for raw control characters, so
/// a file Python refuses reads; a splice would keep them, so such a file
/// takes no splice. Found by the `load_file` fuzz target.
///
/// Checked to fail: without `odd_ids` in `parse_compacted`, the file below
/// got a splice point.
#[test]
fn an_id_with_a_raw_control_character_allows_no_splice() {
    let bad = b"{\"expiry\": 1, \"data\": {\"a\x17b\": {\"id\": \"a\"}}}";
    let p: Parsed<Value> = parse_foreign(bad, 64).unwrap();
    assert_eq!(p.layout, Layout::Foreign { splice_at: None });
}
