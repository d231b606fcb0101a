//! Loading arbitrary bytes as the cache file: opening never fails and never
//! destroys the file (it is loaded, repaired when an append was torn, deleted
//! only when it has a valid expired "expiry", or else kept aside byte for byte
//! as .corrupt); a write afterwards keeps everything that was loaded.
#![no_main]

use std::sync::OnceLock;

use asset_cache::ffi::asset_cache_status::ASSET_CACHE_OK;
use asset_cache_fuzz::*;
use asset_cache::internals::format;
use libfuzzer_sys::fuzz_target;

/// Whether the bytes are a cache file whose expiry has passed, the only kind
/// the library may delete. Lenient where this simple parse cannot tell.
fn may_expire(data: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Head {
        expiry: f64,
        #[allow(dead_code)]
        data: serde::de::IgnoredAny,
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // A file in the library's layout whose torn tail is repaired keeps the
    // expiry of its header line, which may have passed; so does a file whose
    // ids serde reads though Head's stricter skip refuses them (a raw
    // control character), with the Python original's `"expiry": <n>`.
    let header_expiry = data
        .strip_prefix(b"{\"expiry\":")
        .and_then(|rest| rest.split(|&b| b == b',').next())
        .and_then(|num| std::str::from_utf8(num).ok()?.trim().parse::<f64>().ok());
    if header_expiry.is_some_and(|e| e <= now + 1.0) {
        return true;
    }
    match serde_json::from_slice::<Head>(data) {
        Ok(head) => head.expiry <= now + 1.0,
        Err(e) => e.to_string().contains("duplicate field"),
    }
}

static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| scratch_dir("load_file"));
    let path = dir.join("lf.json");
    let aside = dir.join("lf.json.corrupt");
    let _ = std::fs::remove_file(&aside);
    std::fs::write(&path, data).unwrap();

    let h = Handle::open(dir, "lf");
    let loaded = h.len();
    match (file_bytes(&path), file_bytes(&aside)) {
        (None, Some(kept)) => {
            assert_eq!(kept, data, "the corrupt file was not kept byte for byte");
            assert_eq!(loaded, 0);
        }
        (None, None) => {
            assert_eq!(loaded, 0, "deleted (expired) yet assets loaded");
            assert!(may_expire(data), "a file that had not expired was deleted");
        }
        (Some(now), None) => {
            // Loaded as it is, or rewritten without a torn last append: the
            // same records, in the same bytes but for the whitespace between
            // tokens (assets are held compact: issue 11), under a new header
            // line (and with the spaces between records and of the reservoir
            // laid out anew).
            if now != data {
                let records = |b: &[u8]| -> Vec<u8> {
                    let body = &b[b.iter().position(|&c| c == b'\n').expect("a header line") + 1..];
                    body.split(|&c| c == b'\n')
                        .map(|line| format::compact::compact(line, 4096).bytes)
                        .filter(|line| !line.is_empty())
                        .flat_map(|line| line.into_iter().chain([b'\n']))
                        .collect()
                };
                let kept = records(&now);
                let kept = kept.strip_suffix(b"}}\n").expect("ends the layout's way");
                assert!(records(data).starts_with(kept), "repair changed records");
            }
        }
        (Some(_), Some(_)) => panic!("both a cache file and a corrupt copy"),
    }
    let all: Vec<String> = h.get_all().iter().map(|r| r.get().to_owned()).collect();
    assert!(all.len() <= loaded);
    let (_, present) = h.get(c"fuzz-added");
    assert_eq!(h.add(c"{\"id\":\"fuzz-added\"}"), ASSET_CACHE_OK);
    let fresh = Handle::open(dir, "lf");
    assert_eq!(fresh.len(), loaded + usize::from(present.is_none()));
    let after: Vec<String> = fresh.get_all().iter().map(|r| r.get().to_owned()).collect();
    for old in &all {
        if id_of(old).as_deref() != Some("fuzz-added") {
            assert!(after.contains(old), "a write lost {old}");
        }
    }
    let bytes = file_bytes(&path).expect("the add wrote a file");
    serde_json::from_slice::<Box<serde_json::value::RawValue>>(&bytes)
        .expect("the file written is JSON");
    h.load();
    assert_eq!(h.len(), fresh.len());
});
