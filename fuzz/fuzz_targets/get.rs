//! `asset_cache_get` with arbitrary ids, and ids added through `add` built from
//! arbitrary strings (escaping every way JSON allows): a documented status,
//! never PANIC; a found asset carries the id asked for.
#![no_main]

use std::sync::OnceLock;

use asset_cache::ffi::asset_cache_status::*;
use asset_cache_fuzz::*;
use libfuzzer_sys::fuzz_target;

static STATE: OnceLock<Handle> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let h = STATE.get_or_init(|| {
        let h = Handle::open(&scratch_dir("get"), "fz");
        for seed in [
            r#"{"id":"m1"}"#,
            r#"{"id":"\u00e9\ud83d\ude00","n":1}"#,
            r#"{"id":"a\"b\\c\/d"}"#,
            r#"{"id":" "}"#,
        ] {
            assert_eq!(h.add(&c_string(seed.as_bytes())), ASSET_CACHE_OK);
        }
        h
    });
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let id = c_string(rest);
    if op % 2 == 1 {
        if let Ok(s) = id.to_str() {
            // As JSON text, with every non-ASCII char escaped when op says so.
            let quoted = if op & 2 != 0 {
                s.chars()
                    .map(|c| match c {
                        '"' => "\\\"".to_owned(),
                        '\\' => "\\\\".to_owned(),
                        c if (c as u32) < 0x20 || !c.is_ascii() => c
                            .encode_utf16(&mut [0; 2])
                            .iter()
                            .map(|u| format!("\\u{u:04x}"))
                            .collect(),
                        c => c.to_string(),
                    })
                    .collect::<String>()
            } else {
                let quoted = serde_json::to_string(s).unwrap();
                quoted[1..quoted.len() - 1].to_owned()
            };
            let asset = format!("{{\"id\":\"{quoted}\",\"op\":{op}}}");
            let want = if s.is_empty() {
                ASSET_CACHE_MISSING_ID
            } else {
                ASSET_CACHE_OK
            };
            assert_eq!(h.add(&c_string(asset.as_bytes())), want, "{asset}");
            if !s.is_empty() {
                let (_, got) = h.get(&id);
                let got = got.expect("an added asset is found by its id");
                assert_eq!(got, asset, "the asset's text changed");
            }
        }
    }
    let (status, got) = h.get(&id);
    if let Some(text) = got {
        assert_eq!(id_of(&text).as_deref(), id.to_str().ok(), "found {text}");
    }
    if id.to_str().is_err() {
        assert_eq!(status, ASSET_CACHE_INVALID_UTF8);
    }
    if h.len() > 1000 {
        h.invalidate();
    }
});
