//! Get-or-fetch and refresh-all over the C ABI, in two shapes (see
//! `single_flight`): a callback for hosts whose fetch runs on the calling
//! thread (C, C++, Go), and a claim (begin, then complete or fail) for hosts
//! whose fetch runs in their own event loop (Node, Python asyncio).
//!
//! Strings, in either direction, are never handed over: whatever the library
//! receives (an id, a fetched JSON text, a failure message) is borrowed for
//! the call and copied; whatever it returns through `char **` belongs to the
//! caller, who frees it with `asset_cache_string_free`.

use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

use serde_json::value::RawValue;

use super::boundary::{as_out, as_str, malloc_string, run, run_err, run_void, Outcome};
use super::error::asset_cache_error;
use super::handle::{asset_cache, cache_ref};
use super::status::{asset_cache_status, asset_cache_status::*, Failure};
use crate::asset::RawAsset;
use crate::error::{Error, ErrorKind, Result};
use crate::single_flight::{Begin, FetchClaim, Got, Source};

/// What a fetch callback answers through: pass it to exactly one of
/// `asset_cache_fetch_ok` or `asset_cache_fetch_fail`, during the callback.
/// Owned by the library; valid only during the callback.
#[allow(non_camel_case_types)]
pub struct asset_cache_fetch {
    result: Option<std::result::Result<String, String>>,
}

/// A fetch callback for `asset_cache_get_or_fetch` (`id` is the id looked
/// up) and `asset_cache_refresh_all` (`id` is NULL). It runs the fetch and
/// answers through `fetch`: `asset_cache_fetch_ok` with the JSON text (one
/// asset object, or for refresh-all an array of them), or
/// `asset_cache_fetch_fail` with a message. Answering neither counts as a
/// failure.
///
/// It runs on the calling thread, with no lock of the cache held (only the
/// claim, which other callers of the same id wait for), so it may call this
/// library, on this handle too. It must return normally: no C++ exception,
/// `longjmp` or Go panic may cross it. `id` is borrowed for the call.
#[allow(non_camel_case_types)]
pub type asset_cache_fetch_callback = Option<
    unsafe extern "C" fn(userdata: *mut c_void, id: *const c_char, fetch: *mut asset_cache_fetch),
>;

/// A claim on a fetch, from `asset_cache_begin_fetch` or
/// `asset_cache_begin_refresh_all`: while the caller holds it, every other
/// caller of the fleet (thread or process) asking for the same id waits. End
/// it with exactly one of `asset_cache_claim_complete`,
/// `asset_cache_claim_fail` or `asset_cache_claim_abandon`, which free it.
/// It may be ended on any thread. A process that dies holding it releases it
/// (at once with files; on Redis, where the fleet is every host sharing the
/// server, when its lease runs out: 2x the backend timeout).
#[allow(non_camel_case_types)]
pub struct asset_cache_claim {
    claim: FetchClaim,
}

/// Answers a fetch callback with the fetched JSON text: one asset object
/// (get-or-fetch; stored under the id looked up, which need not be its own
/// "id") or an array of them (refresh-all). `json` is copied. It is checked
/// when the callback returns, with the same statuses as `asset_cache_add` /
/// `asset_cache_add_list`. A NULL `fetch` or `json` is ignored.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_fetch_ok(fetch: *mut asset_cache_fetch, json: *const c_char) {
    run_void("asset_cache_fetch_ok", || {
        // SAFETY: the caller passes the `fetch` its callback got, or NULL.
        let (Some(fetch), false) = (unsafe { fetch.as_mut() }, json.is_null()) else {
            return;
        };
        // SAFETY: a NUL-terminated string, per the docs.
        let text = unsafe { CStr::from_ptr(json) }
            .to_string_lossy()
            .into_owned();
        fetch.result = Some(Ok(text));
    })
}

/// Answers a fetch callback with a failure: `message` (copied; NULL gives a
/// generic one) becomes the message of the FETCH_FAILED or STALE status.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_fetch_fail(
    fetch: *mut asset_cache_fetch,
    message: *const c_char,
) {
    run_void("asset_cache_fetch_fail", || {
        // SAFETY: the caller passes the `fetch` its callback got, or NULL.
        let Some(fetch) = (unsafe { fetch.as_mut() }) else {
            return;
        };
        let message = if message.is_null() {
            "the fetch failed (no message)".to_string()
        } else {
            // SAFETY: a NUL-terminated string, per the docs.
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        };
        fetch.result = Some(Err(message));
    })
}

/// Runs the callback and turns its answer into the fetched text.
fn call(
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut asset_cache_fetch),
    userdata: *mut c_void,
    id: Option<&CStr>,
) -> Result<String> {
    let mut fetch = asset_cache_fetch { result: None };
    let id_ptr = id.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: the callback is the caller's, called as documented; `fetch`
    // lives across the call.
    unsafe { callback(userdata, id_ptr, &mut fetch) };
    match fetch.result {
        Some(Ok(text)) => Ok(text),
        Some(Err(message)) => Err(Error::fetch_failed(message)),
        None => Err(Error::fetch_failed(
            "the fetch callback answered neither asset_cache_fetch_ok nor asset_cache_fetch_fail",
        )),
    }
}

/// A list of assets from JSON text, with `add_list`'s checks and messages.
pub(super) fn parse_list(text: &str) -> Result<Vec<RawAsset>> {
    let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!("expected a JSON array of assets: {e}"),
        )
    })?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let asset = RawAsset::from_raw(raw);
            asset
                .checked_id()
                .map(|_| asset)
                .map_err(|e| Error::new(ErrorKind::MissingId, format!("element {i}: {e}")))
        })
        .collect()
}

fn json_array<'a>(
    assets: impl ExactSizeIterator<Item = &'a RawAsset>,
) -> Result<*mut c_char, Failure> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(assets.len() * 2 + 1);
    parts.push(b"[");
    for (i, a) in assets.enumerate() {
        if i > 0 {
            parts.push(b",");
        }
        parts.push(a.json().as_bytes());
    }
    parts.push(b"]");
    malloc_string(&parts)
}

/// Writes the value and turns its source into the status: OK, or STALE with
/// the fetch's message.
fn deliver(out: &mut *mut c_char, got: Got<*mut c_char>) -> Outcome {
    *out = got.value;
    match got.source {
        Source::Cache | Source::Fetch => Ok(ASSET_CACHE_OK),
        // Out-parameters written, and the fetch's message for the caller.
        Source::Stale(e) => Err(Failure::new(ASSET_CACHE_STALE, e.message())),
    }
}

fn wait_of(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

unsafe fn asset_cache_get_or_fetch_body(
    cache: *const asset_cache,
    id: *const c_char,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, id_str, out) = unsafe {
        (
            cache_ref(cache)?,
            as_str(id, "id")?,
            as_out(out_json, "out_json")?,
        )
    };
    let callback =
        fetch.ok_or_else(|| Failure::new(ASSET_CACHE_INVALID_ARGUMENT, "fetch is NULL"))?;
    // SAFETY: as_str checked that `id` is a NUL-terminated string.
    let id_c = unsafe { CStr::from_ptr(id) };
    let got = cache.get_or_fetch(id_str, || {
        RawAsset::parse(&call(callback, userdata, Some(id_c))?)
    })?;
    let text = malloc_string(&[got.value.json().as_bytes()])?;
    deliver(
        out,
        Got {
            value: text,
            source: got.source,
        },
    )
}

/// The asset `id`: from the cache when present and valid; otherwise `fetch`
/// runs, in one caller of the whole fleet at a time (threads and processes
/// of this library on this host, whatever their language; on Redis, on
/// every host sharing the server), its answer is stored under `id` and
/// returned. The others wait for it (up to the lock timeout) and get the
/// stored asset without fetching. Memory is brought up to date with the
/// file (or server) before fetching, so another process's add counts.
///
/// On OK or STALE, `*out_json` receives the asset's JSON text, owned by the
/// caller (free it with `asset_cache_string_free`).
/// Statuses: OK; STALE (the fetch failed within the stale-if-error grace
/// period: `*out_json` is the expired asset, `asset_cache_last_error` the
/// fetch's message); FETCH_FAILED (the fetch's message; nothing stored);
/// INVALID_JSON, MISSING_ID (what the fetch answered is not an asset, as for
/// `asset_cache_add`; nothing stored); LOCK_TIMEOUT (another caller's fetch
/// outlasted the lock timeout); INVALID_ARGUMENT (NULL argument), INVALID_UTF8,
/// IO, LOCK, NO_MEMORY, PANIC; on Redis BACKEND_UNAVAILABLE and BACKEND_ERROR
/// (as for `asset_cache_add`) instead of IO and LOCK. Thread-safe.
/// (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_or_fetch(
    cache: *const asset_cache,
    id: *const c_char,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_get_or_fetch_body(cache, id, fetch, userdata, out_json) })
}

/// asset_cache_get_or_fetch, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_or_fetch_ex(
    cache: *const asset_cache,
    id: *const c_char,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_get_or_fetch_body(cache, id, fetch, userdata, out_json)
    })
}

unsafe fn asset_cache_refresh_all_body(
    cache: *const asset_cache,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_json, "out_json")?) };
    let callback =
        fetch.ok_or_else(|| Failure::new(ASSET_CACHE_INVALID_ARGUMENT, "fetch is NULL"))?;
    let got = cache.refresh_all(|| parse_list(&call(callback, userdata, None)?))?;
    let text = json_array(got.value.iter())?;
    deliver(
        out,
        Got {
            value: text,
            source: got.source,
        },
    )
}

/// The whole store when valid (not expired, not empty); otherwise `fetch`
/// (called with a NULL id) runs in one caller of the whole fleet at a time,
/// and its answer, a JSON array of assets, replaces the store as
/// `asset_cache_add_list` does; the others wait and read the new store.
///
/// On OK or STALE, `*out_json` receives the store's assets as a JSON array,
/// owned by the caller. Statuses as `asset_cache_get_or_fetch`.
/// (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_refresh_all(
    cache: *const asset_cache,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_refresh_all_body(cache, fetch, userdata, out_json) })
}

/// asset_cache_refresh_all, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_refresh_all_ex(
    cache: *const asset_cache,
    fetch: asset_cache_fetch_callback,
    userdata: *mut c_void,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_refresh_all_body(cache, fetch, userdata, out_json)
    })
}

unsafe fn asset_cache_begin_fetch_body(
    cache: *const asset_cache,
    id: *const c_char,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, id, claim_out, json_out) = unsafe {
        (
            cache_ref(cache)?,
            as_str(id, "id")?,
            as_out(out_claim, "out_claim")?,
            as_out(out_json, "out_json")?,
        )
    };
    match cache.begin_fetch(id, wait_of(wait_ms))? {
        Begin::Cached(asset) => {
            *json_out = malloc_string(&[asset.json().as_bytes()])?;
            *claim_out = std::ptr::null_mut();
            Ok(ASSET_CACHE_OK)
        }
        Begin::Claimed(claim) => {
            *claim_out = Box::into_raw(Box::new(asset_cache_claim { claim }));
            Err(Failure::new(
                ASSET_CACHE_NOT_FOUND,
                "not cached: this caller holds the claim and must fetch",
            ))
        }
    }
}

/// The first half of `asset_cache_get_or_fetch`, for a fetch that runs
/// elsewhere (an event loop): waits up to `wait_ms` (negative: forever; 0:
/// not at all) for another caller's fetch of `id`, then
/// * OK: the asset is cached; `*out_json` receives it (caller-owned) and
///   `*out_claim` is set to NULL;
/// * NOT_FOUND: it is not; `*out_claim` receives a claim, and the caller
///   fetches, then ends the claim with `asset_cache_claim_complete`,
///   `asset_cache_claim_fail` or `asset_cache_claim_abandon`;
/// * LOCK_TIMEOUT: another caller still fetches it (at once when `wait_ms`
///   is 0: poll again later, e.g. from a timer, without blocking).
///
/// Other statuses: INVALID_ARGUMENT, INVALID_UTF8, MISSING_ID (empty id),
/// IO, LOCK, NO_MEMORY, PANIC; on Redis BACKEND_UNAVAILABLE and
/// BACKEND_ERROR instead of IO and LOCK. On Redis a claim is a key with a
/// lease that the library renews while the claim is held: a holder that
/// dies releases it when the lease runs out (2x the backend timeout), not
/// at once as with files. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_begin_fetch(
    cache: *const asset_cache,
    id: *const c_char,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_begin_fetch_body(cache, id, wait_ms, out_claim, out_json) })
}

/// asset_cache_begin_fetch, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_begin_fetch_ex(
    cache: *const asset_cache,
    id: *const c_char,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_begin_fetch_body(cache, id, wait_ms, out_claim, out_json)
    })
}

unsafe fn asset_cache_begin_refresh_all_body(
    cache: *const asset_cache,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, claim_out, json_out) = unsafe {
        (
            cache_ref(cache)?,
            as_out(out_claim, "out_claim")?,
            as_out(out_json, "out_json")?,
        )
    };
    match cache.begin_refresh_all(wait_of(wait_ms))? {
        Begin::Cached(all) => {
            *json_out = json_array(all.iter())?;
            *claim_out = std::ptr::null_mut();
            Ok(ASSET_CACHE_OK)
        }
        Begin::Claimed(claim) => {
            *claim_out = Box::into_raw(Box::new(asset_cache_claim { claim }));
            Err(Failure::new(
                ASSET_CACHE_NOT_FOUND,
                "not cached: this caller holds the claim and must fetch",
            ))
        }
    }
}

/// `asset_cache_begin_fetch` for refresh-all: OK with the valid store's
/// assets as a JSON array in `*out_json`, or NOT_FOUND with a claim in
/// `*out_claim` (complete it with the array of every asset), or
/// LOCK_TIMEOUT. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_begin_refresh_all(
    cache: *const asset_cache,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_begin_refresh_all_body(cache, wait_ms, out_claim, out_json) })
}

/// asset_cache_begin_refresh_all, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_begin_refresh_all_ex(
    cache: *const asset_cache,
    wait_ms: i64,
    out_claim: *mut *mut asset_cache_claim,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_begin_refresh_all_body(cache, wait_ms, out_claim, out_json)
    })
}

/// Takes the claim back from the caller (it is freed whatever happens next).
unsafe fn take_claim(claim: *mut asset_cache_claim) -> std::result::Result<FetchClaim, Failure> {
    if claim.is_null() {
        return Err(Failure::new(ASSET_CACHE_INVALID_ARGUMENT, "claim is NULL"));
    }
    // SAFETY: the caller passes a claim from asset_cache_begin_*, once.
    Ok(unsafe { Box::from_raw(claim) }.claim)
}

unsafe fn asset_cache_claim_complete_body(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    json: *const c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or a claim from asset_cache_begin_*.
    let claim = unsafe { take_claim(claim)? };
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, text) = unsafe { (cache_ref(cache)?, as_str(json, "json")?) };
    if claim.id().is_some() {
        cache.complete(claim, RawAsset::parse(text)?)?;
    } else {
        cache.complete_all(claim, parse_list(text)?)?;
    }
    Ok(ASSET_CACHE_OK)
}

/// Ends a claim with what was fetched: `json` (borrowed) is one asset for a
/// claim from `asset_cache_begin_fetch` (stored under the claimed id), or an
/// array of assets for one from `asset_cache_begin_refresh_all` (replacing
/// the store). Frees the claim, whatever the status; waiters then read what
/// was stored. Statuses: as `asset_cache_add` / `asset_cache_add_list`
/// (INVALID_JSON, MISSING_ID: nothing stored). (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_claim_complete(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    json: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_claim_complete_body(cache, claim, json) })
}

/// asset_cache_claim_complete, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_claim_complete_ex(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    json: *const c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_claim_complete_body(cache, claim, json)
    })
}

unsafe fn asset_cache_claim_fail_body(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    message: *const c_char,
    out_json: *mut *mut c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or a claim from asset_cache_begin_*.
    let claim = unsafe { take_claim(claim)? };
    let cache = unsafe { cache_ref(cache)? };
    let message = if message.is_null() {
        "the fetch failed (no message)".to_string()
    } else {
        // SAFETY: a NUL-terminated string, per the docs.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    };
    let error = Error::fetch_failed(message);
    let got = if claim.id().is_some() {
        let got = cache.fail(claim, error)?;
        Got {
            value: malloc_string(&[got.value.json().as_bytes()])?,
            source: got.source,
        }
    } else {
        let got = cache.fail_all(claim, error)?;
        Got {
            value: json_array(got.value.iter())?,
            source: got.source,
        }
    };
    // SAFETY: NULL or a writable pointer, per the docs.
    match unsafe { out_json.as_mut() } {
        Some(out) => deliver(out, got),
        None => {
            // SAFETY: allocated by malloc_string above.
            unsafe { libc::free(got.value.cast()) };
            deliver(
                &mut std::ptr::null_mut(),
                Got {
                    value: std::ptr::null_mut(),
                    source: got.source,
                },
            )
        }
    }
}

/// Ends a claim whose fetch failed, with `message` (borrowed; NULL gives a
/// generic one). Frees the claim; the next waiter fetches. Statuses:
/// STALE (within the stale-if-error grace period: `*out_json`, which may be
/// NULL when not wanted, receives the expired asset, or for refresh-all the
/// expired store's array, caller-owned), else FETCH_FAILED with `message`.
/// (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_claim_fail(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    message: *const c_char,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_claim_fail_body(cache, claim, message, out_json) })
}

/// asset_cache_claim_fail, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_claim_fail_ex(
    cache: *const asset_cache,
    claim: *mut asset_cache_claim,
    message: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_claim_fail_body(cache, claim, message, out_json)
    })
}

/// Ends a claim without a result (the fetch was cancelled): frees it, and
/// the next waiter fetches. NULL is a no-op. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_claim_abandon(claim: *mut asset_cache_claim) {
    run_void("asset_cache_claim_abandon", || {
        // SAFETY: the caller passes NULL or a claim from asset_cache_begin_*.
        let _ = unsafe { take_claim(claim) };
    })
}
