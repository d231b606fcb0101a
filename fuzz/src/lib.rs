//! Helpers shared by the fuzz targets: a handle per process in a scratch
//! folder, and safe wrappers over the C ABI that check its contract (the
//! status is one the header documents for the call, out-parameters are
//! written on OK only, returned strings are valid NUL-terminated JSON).

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;

use ::asset_cache::ffi::asset_cache_status::{self, *};
use ::asset_cache::ffi::{self as c, asset_cache_options};
use c::{
    asset_cache_add, asset_cache_add_list, asset_cache_free, asset_cache_get, asset_cache_get_all,
    asset_cache_invalidate, asset_cache_last_error, asset_cache_len, asset_cache_load,
    asset_cache_open, asset_cache_options_init, asset_cache_string_free,
};

/// A scratch folder for this fuzzing process.
pub fn scratch_dir(target: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("asset-cache-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// The bytes as a C string: up to the first NUL, as a C caller's would be.
pub fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("no NUL before end")
}

pub struct Handle(*mut c::asset_cache);

// SAFETY: the C API documents a handle as usable from any thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    pub fn open(dir: &Path, name: &str) -> Handle {
        let mut opts = std::mem::MaybeUninit::<asset_cache_options>::uninit();
        let dir_c = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let name_c = CString::new(name).unwrap();
        // SAFETY: options_init fills every field; the strings outlive the call.
        let status = unsafe {
            asset_cache_options_init(opts.as_mut_ptr());
            let mut opts = opts.assume_init();
            opts.dir = dir_c.as_ptr();
            opts.name = name_c.as_ptr();
            opts.ttl_seconds = 3600;
            opts.lock_timeout_ms = 10_000;
            let mut out = ptr::null_mut();
            let status = asset_cache_open(&opts, &mut out);
            if status == ASSET_CACHE_OK {
                assert!(!out.is_null());
                return Handle(out);
            }
            assert!(out.is_null(), "out written on failure");
            status
        };
        panic!("open failed: {status:?} {}", last_error());
    }

    pub fn add(&self, json: &CStr) -> asset_cache_status {
        // SAFETY: valid handle and NUL-terminated string.
        let s = unsafe { asset_cache_add(self.0, json.as_ptr()) };
        expect_one_of(
            "add",
            s,
            &[
                ASSET_CACHE_OK,
                ASSET_CACHE_INVALID_UTF8,
                ASSET_CACHE_INVALID_JSON,
                ASSET_CACHE_MISSING_ID,
            ],
        );
        s
    }

    pub fn add_list(&self, json: &CStr) -> asset_cache_status {
        // SAFETY: valid handle and NUL-terminated string.
        let s = unsafe { asset_cache_add_list(self.0, json.as_ptr()) };
        expect_one_of(
            "add_list",
            s,
            &[
                ASSET_CACHE_OK,
                ASSET_CACHE_INVALID_UTF8,
                ASSET_CACHE_INVALID_JSON,
                ASSET_CACHE_MISSING_ID,
            ],
        );
        s
    }

    /// `get`, checking that a found asset is a JSON object.
    pub fn get(&self, id: &CStr) -> (asset_cache_status, Option<String>) {
        let mut out: *mut std::ffi::c_char = ptr::null_mut();
        // SAFETY: valid handle, string and out-pointer.
        let s = unsafe { asset_cache_get(self.0, id.as_ptr(), &mut out) };
        expect_one_of(
            "get",
            s,
            &[
                ASSET_CACHE_OK,
                ASSET_CACHE_NOT_FOUND,
                ASSET_CACHE_INVALID_UTF8,
            ],
        );
        if s != ASSET_CACHE_OK {
            assert!(out.is_null(), "get wrote its out-parameter on {s:?}");
            return (s, None);
        }
        (s, Some(take(out)))
    }

    pub fn get_all(&self) -> Vec<Box<serde_json::value::RawValue>> {
        let mut out: *mut std::ffi::c_char = ptr::null_mut();
        // SAFETY: valid handle and out-pointer.
        let s = unsafe { asset_cache_get_all(self.0, &mut out) };
        expect_one_of("get_all", s, &[ASSET_CACHE_OK]);
        let text = take(out);
        serde_json::from_str(&text).expect("get_all returned a JSON array")
    }

    pub fn len(&self) -> usize {
        let mut n = usize::MAX;
        // SAFETY: valid handle and out-pointer.
        let s = unsafe { asset_cache_len(self.0, &mut n) };
        expect_one_of("len", s, &[ASSET_CACHE_OK]);
        n
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn invalidate(&self) {
        // SAFETY: valid handle.
        let s = unsafe { asset_cache_invalidate(self.0) };
        expect_one_of("invalidate", s, &[ASSET_CACHE_OK]);
    }

    pub fn load(&self) {
        // SAFETY: valid handle.
        let s = unsafe { asset_cache_load(self.0) };
        expect_one_of("load", s, &[ASSET_CACHE_OK]);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and freed once.
        unsafe { asset_cache_free(self.0) }
    }
}

/// Takes ownership of a string the library returned, checking it is UTF-8.
fn take(out: *mut std::ffi::c_char) -> String {
    assert!(!out.is_null(), "OK without a string");
    // SAFETY: the library returned a NUL-terminated string we now own.
    let text = unsafe { CStr::from_ptr(out) }
        .to_str()
        .expect("returned text is UTF-8")
        .to_owned();
    // SAFETY: returned by the library, freed once.
    unsafe { asset_cache_string_free(out) };
    text
}

pub fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(asset_cache_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// A status outside the documented set, PANIC above all, is a bug.
pub fn expect_one_of(call: &str, got: asset_cache_status, allowed: &[asset_cache_status]) {
    assert!(
        allowed.contains(&got),
        "{call} returned {got:?} ({}), not one of {allowed:?}",
        last_error()
    );
    if got != ASSET_CACHE_OK {
        assert!(!last_error().is_empty(), "{call} failed with no message");
    }
}

/// The file's bytes, or None when it does not exist.
pub fn file_bytes(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

/// The top-level "id" of a JSON object, the last one as in Python; None when
/// the text is not such an object.
pub fn id_of(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("id")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}
