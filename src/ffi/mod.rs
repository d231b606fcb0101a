//! The C ABI, compiled by cbindgen into `include/asset_cache.h`; the doc
//! comments here are the header's documentation. One concern per file:
//!
//! * `boundary`: the one panic boundary every exported function runs in,
//!   and the pointer helpers.
//! * [`status`]: the status enum, generated from its one table
//!   (`status_table.rs`), and the failure a call returns.
//! * `error`: the thread's last error and the error object.
//! * `handle`: the cache handle, its free, and the strings handed out.
//! * `config`: the growable options object and `asset_cache_open_config`.
//! * `options_0_1`: the frozen 0.1 options struct and its open calls.
//! * `ops`: the operations on a cache, each with its `_ex` twin.
//! * `log`: log levels (from `src/log_levels.rs`) and the log callback.
//!
//! Results go to trailing out-parameters, written only on success.

#![allow(clippy::missing_safety_doc)] // The safety rules are in each doc comment, for C readers.

// In the header's reading order: cbindgen follows it.
mod boundary;
mod config;
mod error;
mod fetch;
mod handle;
mod log;
mod ops;
mod options_0_1;
mod per_asset;
pub mod status;

use std::ffi::c_char;

pub use config::*;
pub use error::*;
pub use fetch::*;
pub use handle::*;
pub use log::*;
pub use ops::*;
pub use options_0_1::*;
pub use per_asset::*;
pub use status::asset_cache_status;

use boundary::run_value;
use status::text_of_code;

/// How long a call waits for another process's lock unless told otherwise,
/// in milliseconds: the default of asset_cache_config_set_lock_timeout_ms
/// and of asset_cache_options_init.
pub const ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS: i64 = 30000;

// The header's constant is the core's default: the build fails if they part.
const _: () = assert!(
    ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS as u128 == crate::options::DEFAULT_LOCK_TIMEOUT.as_millis()
);

/// How long a call on a backend server (Redis) waits for each answer unless
/// told otherwise, in milliseconds: the default of
/// asset_cache_config_set_backend_timeout_ms.
pub const ASSET_CACHE_DEFAULT_BACKEND_TIMEOUT_MS: i64 = 5000;

const _: () = assert!(
    ASSET_CACHE_DEFAULT_BACKEND_TIMEOUT_MS as u128
        == crate::options::DEFAULT_BACKEND_TIMEOUT.as_millis()
);

/// The largest cache file read, in bytes (4 GiB). A larger file is kept
/// aside as `<name>.json.corrupt` unread, like any unreadable file, and a
/// write that would make the file larger fails with ASSET_CACHE_IO. Below
/// it, memory that cannot be allocated gives ASSET_CACHE_NO_MEMORY, never an
/// abort. Memory use is about 1.1x the file size. Must equal the Rust
/// `asset_cache::MAX_FILE_BYTES` (tests/hostile.rs checks).
pub const ASSET_CACHE_MAX_FILE_BYTES: u64 = 4_294_967_296;

/// The library's version, e.g. "0.2.0": compare it with
/// ASSET_CACHE_VERSION_STRING to check that the header and the loaded library
/// agree. Static storage; never free it.
#[no_mangle]
pub extern "C" fn asset_cache_version() -> *const c_char {
    run_value("asset_cache_version", c"".as_ptr(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The library's version as MAJOR * 10000 + MINOR * 100 + PATCH, the same
/// encoding as ASSET_CACHE_VERSION_NUMBER.
#[no_mangle]
pub extern "C" fn asset_cache_version_number() -> u32 {
    run_value("asset_cache_version_number", 0, || crate::VERSION_NUMBER)
}

/// A static, NUL-terminated description of a status code: any integer, so
/// that a program built against an older header can name a status added
/// later; unknown codes give "unknown status". Never free it.
#[no_mangle]
pub extern "C" fn asset_cache_status_str(status: std::ffi::c_int) -> *const c_char {
    run_value("asset_cache_status_str", c"unknown status".as_ptr(), || {
        text_of_code(status).as_ptr().cast()
    })
}
