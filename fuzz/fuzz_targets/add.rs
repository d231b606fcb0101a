//! `asset_cache_add` with arbitrary bytes: a documented status, never PANIC;
//! a failed add leaves memory and file unchanged; an asset added is on disk
//! (a fresh handle sees exactly what this one does) and reads back equal.
#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use asset_cache::ffi::asset_cache_status::ASSET_CACHE_OK;
use asset_cache_fuzz::*;
use libfuzzer_sys::fuzz_target;

static STATE: OnceLock<(std::path::PathBuf, Handle)> = OnceLock::new();
static RUNS: AtomicUsize = AtomicUsize::new(0);

fuzz_target!(|data: &[u8]| {
    let (dir, h) = STATE.get_or_init(|| {
        let dir = scratch_dir("add");
        let h = Handle::open(&dir, "fz");
        (dir, h)
    });
    let path = dir.join("fz.json");
    let json = c_string(data);
    let before = file_bytes(&path);
    let len_before = h.len();
    if h.add(&json) != ASSET_CACHE_OK {
        assert_eq!(file_bytes(&path), before, "a failed add changed the file");
        assert_eq!(h.len(), len_before, "a failed add changed memory");
    } else {
        let text = json.to_str().expect("OK only for UTF-8");
        // An id with a NUL cannot be asked for through a C string.
        if let Some(id) = id_of(text).filter(|id| !id.contains('\0')) {
            let (_, got) = h.get(&c_string(id.as_bytes()));
            let got = got.expect("an added asset is found");
            let want: serde_json::Value = serde_json::from_str(text).unwrap();
            let got: serde_json::Value = serde_json::from_str(&got).expect("get returns JSON");
            assert_eq!(got, want);
        }
        let mine: Vec<String> = h.get_all().iter().map(|r| r.get().to_owned()).collect();
        let fresh = Handle::open(dir, "fz");
        let theirs: Vec<String> = fresh.get_all().iter().map(|r| r.get().to_owned()).collect();
        assert_eq!(mine, theirs, "the file does not hold what memory does");
    }
    // Keep the file small so that every run stays fast.
    if RUNS.fetch_add(1, Ordering::Relaxed) % 64 == 63 {
        h.invalidate();
        assert!(h.is_empty());
    }
});
