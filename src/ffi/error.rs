//! How a failure's message reaches the caller: the calling thread's last
//! error (`asset_cache_last_error`, for simple C callers), and the error
//! object (`asset_cache_error`) handed out through the optional `err`
//! out-parameter of the entry points added in 0.2, which any thread can read
//! (a binding running the call on a worker thread needs that).

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use super::boundary::{run_value, run_void};
use super::status::{asset_cache_status, Failure};

/// A failure, handed to the caller through an `asset_cache_error **err`
/// out-parameter: its status (asset_cache_error_status) and its message
/// (asset_cache_error_message). Since 0.2.0.
///
/// Ownership: the caller owns it and frees it with asset_cache_error_free.
/// Thread safety: it is plain data, tied to no thread or handle: it may be
/// read from any thread, concurrently, and freed from any thread once no
/// one reads it.
#[allow(non_camel_case_types)]
pub struct asset_cache_error {
    status: asset_cache_status,
    message: CString,
}

fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "\\0")).unwrap_or_default()
}

/// A new error object for `failure`, owned by the caller.
pub(crate) fn hand_out(failure: &Failure) -> *mut asset_cache_error {
    Box::into_raw(Box::new(asset_cache_error {
        status: failure.status,
        message: c_message(&failure.message),
    }))
}

/// A static "" for "no message".
fn empty() -> *const c_char {
    c"".as_ptr()
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message of a failure for `asset_cache_last_error`. Called
/// outside the panic boundary, so it must not panic: `try_with`, because a
/// call made from a thread's exit handlers may find the slot destroyed.
pub(crate) fn set_last_error(message: &str) {
    let c = c_message(message);
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

/// The message of the most recent call on this thread that returned a status
/// other than ASSET_CACHE_OK, naming the problem (e.g. which argument, which
/// array index, which file). "" before any such call. Owned by the library;
/// valid until the next failing call on the same thread. Never free it.
///
/// Only the thread that made the call can read it: a caller that runs calls
/// on other threads passes an `err` out-parameter instead (asset_cache_error).
#[no_mangle]
pub extern "C" fn asset_cache_last_error() -> *const c_char {
    run_value("asset_cache_last_error", empty(), || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or_else(|_| empty())
    })
}

/// The status of an error object: never ASSET_CACHE_OK for an object the
/// library handed out. A NULL `err` (no error) gives ASSET_CACHE_OK. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_error_status(
    err: *const asset_cache_error,
) -> asset_cache_status {
    run_value(
        "asset_cache_error_status",
        asset_cache_status::ASSET_CACHE_PANIC,
        || {
            // SAFETY: the caller passes NULL or a live error object.
            unsafe { err.as_ref() }.map_or(asset_cache_status::ASSET_CACHE_OK, |e| e.status)
        },
    )
}

/// The message of an error object, NUL-terminated UTF-8 naming the problem,
/// as asset_cache_last_error() would have given it. Owned by the error
/// object: valid until asset_cache_error_free(err); never free it. A NULL
/// `err` gives "". Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_error_message(err: *const asset_cache_error) -> *const c_char {
    run_value("asset_cache_error_message", empty(), || {
        // SAFETY: the caller passes NULL or a live error object.
        unsafe { err.as_ref() }.map_or(empty(), |e| e.message.as_ptr())
    })
}

/// Frees an error object. NULL is a no-op. It must not be used afterwards,
/// nor freed twice. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_error_free(err: *mut asset_cache_error) {
    run_void("asset_cache_error_free", || {
        if !err.is_null() {
            // SAFETY: the caller passes an error object handed out by
            // `hand_out`, once.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}
