//! One asset at a time over the C ABI: remove, contains, the ids, several
//! adds in one write, an add under another key. (Since 0.2.)

use std::ffi::c_char;

use super::boundary::{as_out, as_str, malloc_string, run, run_err, Outcome};
use super::error::asset_cache_error;
use super::fetch::parse_list;
use super::handle::{asset_cache, cache_ref};
use super::status::{asset_cache_status, asset_cache_status::*};
use crate::asset::RawAsset;

unsafe fn asset_cache_remove_body(
    cache: *const asset_cache,
    id: *const c_char,
    out_removed: *mut bool,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, id) = unsafe { (cache_ref(cache)?, as_str(id, "id")?) };
    let removed = cache.remove(id)?;
    // SAFETY: NULL or writable, per the docs.
    if let Some(out) = unsafe { out_removed.as_mut() } {
        *out = removed;
    }
    Ok(ASSET_CACHE_OK)
}

/// Removes the asset `id` (a model deleted or changed on the service) from
/// the file and from memory, after reading what other processes wrote.
/// `*out_removed` (may be NULL) receives whether it was cached. The file is
/// rewritten whole and renamed into place, so every reader, the Python
/// original included, sees it with or without the asset, never a mark it
/// cannot read. Statuses: OK, INVALID_ARGUMENT, INVALID_UTF8, MISSING_ID
/// (empty id), IO, LOCK, LOCK_TIMEOUT, PANIC. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_remove(
    cache: *const asset_cache,
    id: *const c_char,
    out_removed: *mut bool,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_remove_body(cache, id, out_removed) })
}

/// asset_cache_remove, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_remove_ex(
    cache: *const asset_cache,
    id: *const c_char,
    out_removed: *mut bool,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_remove_body(cache, id, out_removed)
    })
}

unsafe fn asset_cache_contains_body(
    cache: *const asset_cache,
    id: *const c_char,
    out_contains: *mut bool,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, id, out) = unsafe {
        (
            cache_ref(cache)?,
            as_str(id, "id")?,
            as_out(out_contains, "out_contains")?,
        )
    };
    *out = cache.contains(id);
    Ok(ASSET_CACHE_OK)
}

/// Writes to `*out_contains` whether `id` is cached and the store has not
/// expired, from memory (the SDK's `id in cache`). Statuses: OK,
/// INVALID_ARGUMENT, INVALID_UTF8, PANIC. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_contains(
    cache: *const asset_cache,
    id: *const c_char,
    out_contains: *mut bool,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_contains_body(cache, id, out_contains) })
}

/// asset_cache_contains, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_contains_ex(
    cache: *const asset_cache,
    id: *const c_char,
    out_contains: *mut bool,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_contains_body(cache, id, out_contains)
    })
}

unsafe fn asset_cache_ids_body(cache: *const asset_cache, out_json: *mut *mut c_char) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_json, "out_json")?) };
    let text = serde_json::to_string(&cache.ids()).unwrap_or_else(|_| "[]".into());
    *out = malloc_string(&[text.as_bytes()])?;
    Ok(ASSET_CACHE_OK)
}

/// The ids, in insertion order, as a JSON array of strings ("[]" when empty
/// or expired), from memory. `*out_json` is caller-owned (free it with
/// `asset_cache_string_free`). Statuses: OK, INVALID_ARGUMENT, NO_MEMORY,
/// PANIC. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_ids(
    cache: *const asset_cache,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_ids_body(cache, out_json) })
}

/// asset_cache_ids, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_ids_ex(
    cache: *const asset_cache,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe { asset_cache_ids_body(cache, out_json) })
}

unsafe fn asset_cache_add_many_body(
    cache: *const asset_cache,
    assets_json: *const c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, text) = unsafe { (cache_ref(cache)?, as_str(assets_json, "assets_json")?) };
    let pairs = parse_list(text)?
        .into_iter()
        .map(|a| a.checked_id().map(|id| (id, a)))
        .collect::<crate::Result<Vec<_>>>()?;
    cache.add_pairs(pairs)?;
    Ok(ASSET_CACHE_OK)
}

/// Adds the assets of `assets_json` (a JSON array of objects with a
/// non-empty string "id"; borrowed) in one write, keeping every other asset
/// (the SDK's `add_many`; `asset_cache_add_list` replaces them instead).
/// Every element is checked first: one bad element rejects the call, the
/// message names its index, nothing is written. Statuses: as
/// `asset_cache_add_list`. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_many(
    cache: *const asset_cache,
    assets_json: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_add_many_body(cache, assets_json) })
}

/// asset_cache_add_many, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_many_ex(
    cache: *const asset_cache,
    assets_json: *const c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_add_many_body(cache, assets_json)
    })
}

unsafe fn asset_cache_add_with_key_body(
    cache: *const asset_cache,
    key: *const c_char,
    asset_json: *const c_char,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, key, text) = unsafe {
        (
            cache_ref(cache)?,
            as_str(key, "key")?,
            as_str(asset_json, "asset_json")?,
        )
    };
    let asset = RawAsset::parse(text)?;
    cache.add_with_id(key.to_string(), asset)?;
    Ok(ASSET_CACHE_OK)
}

/// Adds one asset under `key` instead of its own "id" (a lookup by slug
/// answered with the canonical asset: the SDK's `add(asset, key=...)`).
/// `asset_json` must still be an object with a non-empty string "id".
/// Both strings are borrowed. Statuses: as `asset_cache_add`, and
/// MISSING_ID for an empty key. (Since 0.2.)
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_with_key(
    cache: *const asset_cache,
    key: *const c_char,
    asset_json: *const c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { asset_cache_add_with_key_body(cache, key, asset_json) })
}

/// asset_cache_add_with_key, with the failure also handed out through `err` (see
/// asset_cache_error; the rule of the `_ex` functions). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_with_key_ex(
    cache: *const asset_cache,
    key: *const c_char,
    asset_json: *const c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        asset_cache_add_with_key_body(cache, key, asset_json)
    })
}
