//! `asset_cache_add_list` with arbitrary bytes: a documented status, never
//! PANIC; a failed call leaves memory and file unchanged; on OK the cache
//! holds the distinct ids in first-seen order, and so does the file.
#![no_main]

use std::sync::OnceLock;

use asset_cache::ffi::asset_cache_status::ASSET_CACHE_OK;
use asset_cache_fuzz::*;
use libfuzzer_sys::fuzz_target;

static STATE: OnceLock<(std::path::PathBuf, Handle)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (dir, h) = STATE.get_or_init(|| {
        let dir = scratch_dir("add_list");
        let h = Handle::open(&dir, "fz");
        // Something to lose: a failed add_list must keep it.
        assert_eq!(h.add(c"{\"id\":\"kept\"}"), ASSET_CACHE_OK);
        (dir, h)
    });
    let path = dir.join("fz.json");
    let json = c_string(data);
    let before = file_bytes(&path);
    let len_before = h.len();
    if h.add_list(&json) != ASSET_CACHE_OK {
        assert_eq!(
            file_bytes(&path),
            before,
            "a failed add_list changed the file"
        );
        assert_eq!(h.len(), len_before, "a failed add_list changed memory");
        return;
    }
    let all = h.get_all();
    assert_eq!(all.len(), h.len());
    let text = json.to_str().expect("OK only for UTF-8");
    if let Ok(items) = serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(text) {
        let ids: Option<Vec<String>> = items.iter().map(|i| id_of(i.get())).collect();
        if let Some(ids) = ids {
            let mut distinct: Vec<String> = Vec::new();
            for id in ids {
                if !distinct.contains(&id) {
                    distinct.push(id);
                }
            }
            let got: Vec<String> = all.iter().map(|a| id_of(a.get()).unwrap()).collect();
            assert_eq!(got, distinct, "ids or their order differ");
        }
    }
    let mine: Vec<String> = all.iter().map(|r| r.get().to_owned()).collect();
    let fresh = Handle::open(dir, "fz");
    let theirs: Vec<String> = fresh.get_all().iter().map(|r| r.get().to_owned()).collect();
    assert_eq!(mine, theirs, "the file does not hold what memory does");
    // Put the asset a later failure must keep back.
    assert_eq!(h.add(c"{\"id\":\"kept\"}"), ASSET_CACHE_OK);
});
