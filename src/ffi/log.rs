//! Logging across the ABI: the C enum of levels (generated from the one
//! table, `src/log_levels.rs`), the callback type, and how a host installs it.

use std::ffi::{c_char, c_int, c_void, CString};

use super::boundary::run;
use super::status::{asset_cache_status, asset_cache_status::*, Failure};
use crate::log::{self, Level};

macro_rules! log_levels {
    (
        $(#[doc = $enum_doc:literal])*
        enum $c_enum:ident {
            $( $(#[doc = $doc:literal])* $level:ident = $value:literal, $c_name:ident, [$($name:literal),+]; )*
        }
    ) => {
        $(#[doc = $enum_doc])*
        #[allow(non_camel_case_types)]
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $c_enum {
            $( $(#[doc = $doc])* $c_name = $value, )*
        }

        impl From<Level> for $c_enum {
            fn from(level: Level) -> Self {
                match level {
                    $(Level::$level => $c_enum::$c_name,)*
                }
            }
        }
    };
}
include!("../log_levels.rs");

/// A log callback: `userdata` as installed, the level, and the message
/// (NUL-terminated UTF-8, valid only during the call). It is called from
/// whichever thread runs the operation, possibly concurrently, and must not
/// call back into the library.
#[allow(non_camel_case_types)]
pub type asset_cache_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: asset_cache_log_level,
        message: *const c_char,
    ),
>;

/// Installs `callback` to receive every log message at `max_level` or more
/// severe (an asset_cache_log_level: 1 error .. 4 debug), with `userdata`
/// passed back unchanged; a NULL callback removes it. Process-wide.
/// Independently, the environment variable
/// ASSET_CACHE_LOG=error|warn|info|debug sends messages to stderr. It is
/// read once per process, at the first open: a value that is not a level
/// gives one warning on stderr naming the valid levels, and stderr logging
/// stays off; an empty value is off, silently. The
/// library is silent by default. A bug caught inside a function that returns
/// no status (a panic) is reported here at ASSET_CACHE_LOG_ERROR.
/// Statuses: OK, INVALID_ARGUMENT (level not an asset_cache_log_level), PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_set_log_callback(
    callback: asset_cache_log_callback,
    max_level: c_int,
    userdata: *mut c_void,
) -> asset_cache_status {
    run(|| {
        let level = Level::from_number(max_level.into()).ok_or_else(|| {
            let names: Vec<String> = Level::ALL
                .iter()
                .map(|l| format!("{} ({})", *l as i32, l.name()))
                .collect();
            Failure::new(
                ASSET_CACHE_INVALID_ARGUMENT,
                format!("log level {max_level} is not one of {}", names.join(", ")),
            )
        })?;
        let sink = callback.map(|cb| {
            let userdata = userdata as usize;
            Box::new(move |level: Level, message: &str| {
                let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: the host promised a callable function and userdata.
                unsafe { cb(userdata as *mut c_void, level.into(), text.as_ptr()) };
            }) as log::Sink
        });
        log::set_sink(level, sink);
        Ok(ASSET_CACHE_OK)
    })
}
