//! The growable way to open a cache, in LMDB's style: an opaque options
//! object (`asset_cache_config`) with one setter per option, and
//! `asset_cache_open_config`. A new option is a new setter; the object's
//! layout is private, so it can grow without breaking any program.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{as_out, as_ref, as_str, run, run_err, run_void};
use super::error::asset_cache_error;
use super::handle::{asset_cache, open_handle};
use super::status::{asset_cache_status, asset_cache_status::*, Failure};
use crate::options::{validate_name, Options, DEFAULT_DIR};

/// Options for opening a cache, as an opaque object: create it with
/// asset_cache_config_new, set what you need with the asset_cache_config_set_*
/// functions (every option has a default except the name), open with
/// asset_cache_open_config, free it with asset_cache_config_free. Options
/// added in later versions come as new setters, so a program never passes a
/// struct of the wrong size. Since 0.2.0.
///
/// A setter that fails (status other than OK) leaves the option as it was
/// and marks the object invalid until that option is set successfully:
/// asset_cache_open_config then fails with that setter's status and
/// message, so a caller may check every setter or only the open.
///
/// Ownership: strings given to setters are copied; the caller keeps its own.
/// One object may open any number of caches and is not referenced by them.
/// Thread safety: setters and asset_cache_config_free need exclusive use;
/// asset_cache_open_config (const) may run concurrently on one object.
#[allow(non_camel_case_types)]
pub struct asset_cache_config {
    options: Options,
    name_set: bool,
    /// The latest failure of each setter that has failed since it last
    /// succeeded, in the order they happened.
    invalid: Vec<(&'static str, Failure)>,
}

/// Runs one setter on the config: records its failure, or clears the
/// setter's earlier failure on success.
unsafe fn set(
    cfg: *mut asset_cache_config,
    setter: &'static str,
    apply: impl FnOnce(&mut asset_cache_config) -> Result<(), Failure>,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or a config it lends exclusively.
        let cfg = unsafe { as_out(cfg, "config")? };
        let result = apply(cfg);
        cfg.invalid.retain(|(s, _)| *s != setter);
        match result {
            Ok(()) => Ok(ASSET_CACHE_OK),
            Err(failure) => {
                cfg.invalid.push((setter, failure.clone()));
                Err(failure)
            }
        }
    })
}

/// Creates an options object with every option at its default and no name.
///
/// On ASSET_CACHE_OK, `*out` receives the object, owned by the caller, to
/// free with asset_cache_config_free; on any other status `*out` is
/// untouched. Statuses: OK, INVALID_ARGUMENT (NULL `out`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_new(
    out: *mut *mut asset_cache_config,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or a writable pointer.
        let out = unsafe { as_out(out, "out")? };
        *out = Box::into_raw(Box::new(asset_cache_config {
            options: Options::new(""),
            name_set: false,
            invalid: Vec::new(),
        }));
        Ok(ASSET_CACHE_OK)
    })
}

/// Frees an options object. NULL is a no-op. Caches opened with it are not
/// affected. It must not be used afterwards, nor freed twice. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_free(cfg: *mut asset_cache_config) {
    run_void("asset_cache_config_free", || {
        if !cfg.is_null() {
            // SAFETY: the caller passes an object from asset_cache_config_new, once.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// Sets the folder of the cache and lock files (NUL-terminated UTF-8,
/// copied). NULL restores the default, ".cache" in the current directory at
/// open time, as in the Python original. The folder is created by the first
/// write, not by opening.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`, empty `dir`), INVALID_UTF8,
/// PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_dir(
    cfg: *mut asset_cache_config,
    dir: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    unsafe {
        set(cfg, "asset_cache_config_set_dir", |cfg| {
            let dir = if dir.is_null() {
                DEFAULT_DIR
            } else {
                as_str(dir, "dir")?
            };
            if dir.is_empty() {
                return Err(Failure::new(
                    ASSET_CACHE_INVALID_ARGUMENT,
                    "dir is empty (NULL means the default, \".cache\")",
                ));
            }
            cfg.options.dir = dir.into();
            Ok(())
        })
    }
}

/// Sets the base name of the files, `<dir>/<name>.json` and
/// `<dir>/<name>.lock` (NUL-terminated UTF-8, copied). Required: there is no
/// default. It must not be empty, be longer than 200 bytes, or contain '/',
/// '\\', "..", or a control character.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg` or `name`, bad name),
/// INVALID_UTF8, PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_name(
    cfg: *mut asset_cache_config,
    name: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    unsafe {
        set(cfg, "asset_cache_config_set_name", |cfg| {
            let name = as_str(name, "name")?;
            validate_name(name)?;
            cfg.options.name = name.to_owned();
            cfg.name_set = true;
            Ok(())
        })
    }
}

/// Sets the lifetime of a new store, in seconds, at least 1 (a store that
/// expires as it is made keeps nothing). By default the environment variable
/// CACHE_EXPIRY_TIME is read once, at open, as the Python original's `int()`
/// reads it, or 86400 (one day) is used when it is unset or not a positive
/// integer (with a warning in the log).
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`, `seconds` 0 or negative), PANIC.
/// Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_ttl_seconds(
    cfg: *mut asset_cache_config,
    seconds: i64,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_ttl_seconds", |cfg| {
            let seconds = u64::try_from(seconds).map_err(|_| {
                Failure::new(
                    ASSET_CACHE_INVALID_ARGUMENT,
                    format!("ttl_seconds must be at least 1, got {seconds}"),
                )
            })?;
            cfg.options.ttl = Some(crate::expiry::check_ttl(Duration::from_secs(seconds))?);
            Ok(())
        })
    }
}

/// Sets the longest wait for another process's lock, in milliseconds, after
/// which a call fails with ASSET_CACHE_LOCK_TIMEOUT. 0 tries once; negative
/// waits forever. Default ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_lock_timeout_ms(
    cfg: *mut asset_cache_config,
    milliseconds: i64,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_lock_timeout_ms", |cfg| {
            cfg.options.lock_timeout = u64::try_from(milliseconds).ok().map(Duration::from_millis);
            Ok(())
        })
    }
}

/// When `durable` is true, every write is flushed to stable storage (fsync,
/// and the folder after a rename) before the call returns, surviving power
/// loss as well as crashes. Default false: writes survive a crash of the
/// process, not of the machine. A write that cannot be made durable fails
/// with ASSET_CACHE_IO (see asset_cache_options.durable for the states).
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_durable(
    cfg: *mut asset_cache_config,
    durable: bool,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_durable", |cfg| {
            cfg.options.durable = durable;
            Ok(())
        })
    }
}

/// Sets the mode of a cache file or lock file the library creates: 0600 by
/// default (read and write for the owner only, as the aiXplain SDK's
/// development branch writes its cache), e.g. 0660 for a cache shared by a
/// group on purpose. Applied exactly, whatever the umask; the temporary file
/// of a rewrite is 0600 until it takes its final mode. A rewrite keeps the
/// mode of the file it replaces (and its owner and group where the process
/// may set them); a lock file created beside an existing cache file takes
/// that file's mode. `mode` must give the owner read and write (0600) and be
/// at most 0777.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`, bad `mode`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_file_mode(
    cfg: *mut asset_cache_config,
    mode: u32,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_file_mode", |cfg| {
            Options::new("x").file_mode(mode).validate_modes()?;
            cfg.options.file_mode = mode;
            Ok(())
        })
    }
}

/// Sets the mode of each folder the library creates (the first write
/// creates the cache folder and its missing parents): 0700 by default, e.g.
/// 02770 for a folder shared by a group (set-group-ID, so that new files
/// take the folder's group). Applied exactly, whatever the umask; a new
/// folder also keeps the set-group-ID bit it inherits from its parent.
/// Existing folders are never changed. `mode` must give the owner read,
/// write and search (0700) and be at most 07777.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`, bad `mode`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_dir_mode(
    cfg: *mut asset_cache_config,
    mode: u32,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_dir_mode", |cfg| {
            Options::new("x").dir_mode(mode).validate_modes()?;
            cfg.options.dir_mode = mode;
            Ok(())
        })
    }
}

/// Stale-if-error: for how long after the store's expiry, in milliseconds,
/// a failed fetch (asset_cache_get_or_fetch, asset_cache_refresh_all,
/// asset_cache_claim_fail) returns the expired value with ASSET_CACHE_STALE
/// instead of ASSET_CACHE_FETCH_FAILED. 0 or negative (the default): never.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_stale_if_error_ms(
    cfg: *mut asset_cache_config,
    milliseconds: i64,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_stale_if_error_ms", |cfg| {
            cfg.options.stale_if_error = u64::try_from(milliseconds)
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis);
            Ok(())
        })
    }
}

/// A size cap: keep the most recently written `max_entries` assets, older
/// ones being dropped at the next write (re-adding an asset makes it the
/// newest). 0: no cap, whatever the environment. Not called: the
/// environment variable CACHE_MAX_ENTRIES is read at open (as the SDK's
/// development branch reads it), and without it there is no cap.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_max_entries(
    cfg: *mut asset_cache_config,
    max_entries: usize,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_max_entries", |cfg| {
            cfg.options.max_entries = Some(max_entries);
            Ok(())
        })
    }
}

/// Fresh reads: the longest, in milliseconds, a read (asset_cache_get,
/// asset_cache_get_all, asset_cache_contains, ...) may lag behind other
/// processes' writes without asset_cache_load. 0: every read checks (one
/// stat of the file); negative (the default): reads see memory only, as in
/// the Python original. A check costs one stat of the cache file at most
/// once per bound; a load only when the file changed.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_max_staleness_ms(
    cfg: *mut asset_cache_config,
    milliseconds: i64,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_max_staleness_ms", |cfg| {
            cfg.options.max_staleness = u64::try_from(milliseconds).ok().map(Duration::from_millis);
            Ok(())
        })
    }
}

/// Keeps the cache on a Redis server (7.0 or later, or Valkey) instead of in
/// the folder, so that processes on many hosts share it:
/// `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS; the
/// server's certificate is checked against the system's trust store, or
/// only against the PEM CA certificates of the file named by
/// `?ssl_ca_certs=/path/ca.pem`, percent-encoded, read here) or
/// `redis+unix:///path/to.sock` (NUL-terminated UTF-8, copied). NULL
/// restores the default, the file backend. The URL is parsed here; nothing
/// is sent until asset_cache_open_config. Every operation behaves as with
/// files (insertion order, whole-store expiry, atomic add_list, load reading
/// only what changed, remove, the size cap, get-or-fetch and refresh-all
/// single-flight across every host on the server); see README.md for the
/// commands behind each. Failures of a call on Redis:
/// ASSET_CACHE_BACKEND_UNAVAILABLE (server unreachable, connection dropped,
/// no answer within the backend timeout) and ASSET_CACHE_BACKEND_ERROR
/// (credentials refused, a key of another type at the cache's key names, a
/// TLS certificate not trusted or not naming the server); memory is then as
/// it was, and the handle connects again at its next call (then reading the
/// store whole once: the server may have restarted from older data or
/// failed over to a replica). The lock timeout
/// bounds the wait for another host's fetch (get-or-fetch, refresh-all);
/// the folder and the modes are not used.
/// Statuses: OK, INVALID_ARGUMENT (NULL `cfg`; a URL that does not parse,
/// an ssl_ca_certs file that cannot be read, is not a regular file of at
/// most 4 MiB (a FIFO or a device is refused, never read) or holds no PEM
/// certificate, `#insecure` (certificate checks cannot be turned off), or any URL in a
/// build without the Redis backend), INVALID_UTF8, PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_backend_url(
    cfg: *mut asset_cache_config,
    url: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    unsafe {
        set(cfg, "asset_cache_config_set_backend_url", |cfg| {
            if url.is_null() {
                cfg.options.backend_url = None;
                return Ok(());
            }
            let url = as_str(url, "url")?;
            crate::backend::any::check_url(url)?;
            cfg.options.backend_url = Some(url.to_string());
            Ok(())
        })
    }
}

/// Sets how long a call on a backend server waits for each answer
/// (connecting included), in milliseconds, at least 1; past it the call
/// fails with ASSET_CACHE_BACKEND_UNAVAILABLE. Threads calling one handle
/// take turns on its connection: a call that waited for its turn behind
/// one that got no answer fails at once when its turn comes, so every
/// caller fails within about one timeout of its start, however many queue.
/// Default ASSET_CACHE_DEFAULT_BACKEND_TIMEOUT_MS (5000). It also sizes the lease
/// of a get-or-fetch claim on Redis: twice it (at least 1 s), renewed while
/// the fetch runs, so a fetcher that dies is taken over that long after.
/// Not used by the file backend. Statuses: OK, INVALID_ARGUMENT (NULL
/// `cfg`, 0 or negative), PANIC. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_config_set_backend_timeout_ms(
    cfg: *mut asset_cache_config,
    milliseconds: i64,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a valid config.
    unsafe {
        set(cfg, "asset_cache_config_set_backend_timeout_ms", |cfg| {
            let ms = u64::try_from(milliseconds)
                .ok()
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    Failure::new(
                        ASSET_CACHE_INVALID_ARGUMENT,
                        format!("backend timeout must be at least 1 ms, got {milliseconds}"),
                    )
                })?;
            cfg.options.backend_timeout = Duration::from_millis(ms);
            Ok(())
        })
    }
}

/// Opens a cache with the options of `cfg` and loads its file if there is
/// one; opening never creates files, the first write does. An unreadable
/// file is moved aside to `<name>.json.corrupt` (with a warning in the log)
/// and the cache starts empty; an expired file is deleted.
///
/// On ASSET_CACHE_OK, `*out` receives a handle the caller owns and must free
/// with asset_cache_free; on any other status `*out` is untouched. `cfg` is
/// only read during the call: free it or reuse it afterwards.
/// On a status other than OK, when `err` is not NULL, `*err` receives an
/// error object the caller owns and frees with asset_cache_error_free
/// (initialize `*err` to NULL: it is written only on failure).
/// Statuses: INVALID_ARGUMENT (NULL `cfg` or `out`, no name set, or the
/// first setter that failed and was not set successfully since, whose
/// status this is), INVALID_UTF8, IO, LOCK, LOCK_TIMEOUT, PANIC; on Redis
/// (asset_cache_config_set_backend_url) BACKEND_UNAVAILABLE and
/// BACKEND_ERROR instead of IO, LOCK and LOCK_TIMEOUT. Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_open_config(
    cfg: *const asset_cache_config,
    out: *mut *mut asset_cache,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    run_err(err, || {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cfg, out) = unsafe { (as_ref(cfg, "config")?, as_out(out, "out")?) };
        if let Some((setter, failure)) = cfg.invalid.first() {
            return Err(Failure::new(
                failure.status,
                format!("{setter} failed: {}", failure.message),
            ));
        }
        if !cfg.name_set {
            return Err(Failure::new(
                ASSET_CACHE_INVALID_ARGUMENT,
                "the config has no cache name: call asset_cache_config_set_name",
            ));
        }
        *out = open_handle(cfg.options.clone())?;
        Ok(ASSET_CACHE_OK)
    })
}
