//! The single panic boundary, and the helpers that turn raw pointers into
//! references. Every exported function runs its body through one of the
//! `run*` functions here, which all go through [`catch`]; a test
//! (`every_export_runs_inside_the_boundary` in `tests/header.rs`) checks it.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::error::{asset_cache_error, hand_out, set_last_error};
use super::status::{asset_cache_status, Failure};
use crate::error::ErrorKind;
use crate::log;

pub type Outcome = Result<asset_cache_status, Failure>;

/// Runs `body`, turning a panic into the text of its payload. The only
/// `catch_unwind` of the library.
fn catch<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// Runs an exported function's body that returns a status: a panic becomes
/// `ASSET_CACHE_PANIC`, and any non-OK status leaves its message for
/// `asset_cache_last_error`.
pub fn run(body: impl FnOnce() -> Outcome) -> asset_cache_status {
    run_err(std::ptr::null_mut(), body)
}

/// [`run`], and on a non-OK status also hands the failure to the caller as
/// an error object through `err`, when `err` is not NULL.
pub fn run_err(
    err: *mut *mut asset_cache_error,
    body: impl FnOnce() -> Outcome,
) -> asset_cache_status {
    let outcome = catch(body).unwrap_or_else(|what| {
        log::error(&format!("internal error (panic caught): {what}"));
        Err(Failure::new(
            asset_cache_status::ASSET_CACHE_PANIC,
            format!("internal error: {what}"),
        ))
    });
    match outcome {
        Ok(asset_cache_status::ASSET_CACHE_OK) => asset_cache_status::ASSET_CACHE_OK,
        Ok(status) => {
            let failure = Failure::new(status, status.text());
            fail(err, failure)
        }
        Err(failure) => fail(err, failure),
    }
}

fn fail(err: *mut *mut asset_cache_error, failure: Failure) -> asset_cache_status {
    // Neither step can panic: both only copy the message (allocation failure
    // aborts, as everywhere in Rust).
    set_last_error(&failure.message);
    if !err.is_null() {
        // SAFETY: the caller passes NULL or a writable `asset_cache_error *`.
        unsafe { *err = hand_out(&failure) };
    }
    failure.status
}

/// For exported functions that return no status: a panic is logged at the
/// error level (naming `function`) and the function returns normally.
pub fn run_void(function: &str, body: impl FnOnce()) {
    run_value(function, (), body)
}

/// For exported functions that return a value other than a status: a panic
/// is logged at the error level (naming `function`) and `on_panic` returned.
pub fn run_value<T>(function: &str, on_panic: T, body: impl FnOnce() -> T) -> T {
    catch(body).unwrap_or_else(|what| {
        log::error(&format!(
            "{function}: internal error (panic caught): {what}"
        ));
        on_panic
    })
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

/// `&mut T` for an out-parameter or an object the caller lends exclusively.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;
    use std::sync::{Arc, Mutex};

    // How these were checked: with `run_value`'s log call removed, the
    // void-panic test fails; with `fail` not writing `*err`, the error
    // object test fails.
    #[test]
    fn a_panic_in_a_void_function_is_logged_not_swallowed() {
        let seen = Arc::new(Mutex::new(Vec::<(Level, String)>::new()));
        let sink = seen.clone();
        log::set_sink(
            Level::Error,
            Some(Box::new(move |level, message| {
                sink.lock().unwrap().push((level, message.to_string()))
            })),
        );
        run_void("asset_cache_test_void", || panic!("boom in void"));
        let got = run_value("asset_cache_test_value", 7, || -> i32 {
            panic!("boom in value")
        });
        log::set_sink(Level::Error, None);
        assert_eq!(got, 7);
        let seen = seen.lock().unwrap();
        let find = |needle: &str| {
            seen.iter()
                .any(|(l, m)| *l == Level::Error && m.contains(needle))
        };
        assert!(
            find("asset_cache_test_void: internal error (panic caught): boom in void"),
            "{seen:?}"
        );
        assert!(
            find("asset_cache_test_value: internal error (panic caught): boom in value"),
            "{seen:?}"
        );
    }

    #[test]
    fn a_panic_in_a_status_function_is_a_panic_status_with_an_error_object() {
        let mut err: *mut asset_cache_error = std::ptr::null_mut();
        let status = run_err(&mut err, || panic!("boom in status"));
        assert_eq!(status, asset_cache_status::ASSET_CACHE_PANIC);
        assert!(!err.is_null());
        // SAFETY: `err` was just handed out and is freed once.
        unsafe {
            assert_eq!(super::super::error::asset_cache_error_status(err), status);
            let msg = CStr::from_ptr(super::super::error::asset_cache_error_message(err));
            assert_eq!(msg.to_str().unwrap(), "internal error: boom in status");
            super::super::error::asset_cache_error_free(err);
        }
    }
}
