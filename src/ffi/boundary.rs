//! The single panic boundary, and the helpers that turn raw pointers into
//! references. Every exported function runs its body through [`run`].

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{asset_cache_status, set_last_error, Failure};
use crate::error::ErrorKind;

pub type Outcome = Result<asset_cache_status, Failure>;

/// Runs an exported function's body: a panic becomes `ASSET_CACHE_PANIC`, and
/// any non-OK status leaves its message for `asset_cache_last_error`.
pub fn run(body: impl FnOnce() -> Outcome) -> asset_cache_status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Failure::new(
            asset_cache_status::ASSET_CACHE_PANIC,
            format!("internal error: {what}"),
        ))
    });
    match outcome {
        Ok(status) => status,
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    }
}

/// Like [`run`] for functions with no status to return: a panic is swallowed.
pub fn run_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

fn null(what: &str) -> Failure {
    Failure::new(
        asset_cache_status::ASSET_CACHE_INVALID_ARGUMENT,
        format!("{what} is NULL"),
    )
}

/// `&T` from a pointer the caller promises is NULL or valid.
pub unsafe fn as_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees `ptr` is NULL or points to a live `T`.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// `&mut T` for an out-parameter.
pub unsafe fn as_out<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller guarantees `ptr` is NULL or points to writable `T`.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// `&str` from a NUL-terminated UTF-8 string.
pub unsafe fn as_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: the caller guarantees a NUL-terminated string at `ptr`.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            ErrorKind::InvalidUtf8.into(),
            format!(
                "{what} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Copies `parts` into one NUL-terminated buffer from `malloc`, which the
/// caller frees with `asset_cache_string_free`.
pub fn malloc_string(parts: &[&[u8]]) -> Result<*mut c_char, Failure> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // SAFETY: plain allocation; checked for NULL below.
    let buf = unsafe { libc::malloc(len + 1) }.cast::<u8>();
    if buf.is_null() {
        return Err(Failure::new(
            asset_cache_status::ASSET_CACHE_NO_MEMORY,
            format!("cannot allocate {} bytes for the result", len + 1),
        ));
    }
    let mut at = 0;
    for part in parts {
        // SAFETY: `buf` has room for `len + 1` bytes and `at + part.len() <= len`.
        unsafe { std::ptr::copy_nonoverlapping(part.as_ptr(), buf.add(at), part.len()) };
        at += part.len();
    }
    // SAFETY: `at == len`, within the allocation.
    unsafe { *buf.add(at) = 0 };
    Ok(buf.cast())
}
