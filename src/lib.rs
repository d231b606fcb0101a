//! asset-cache: a persistent, expiring, multi-process-safe cache of JSON
//! assets keyed by id, sharing its files with the `AssetCache` of the aiXplain
//! Python SDK (`aixplain.utils.asset_cache`).
//!
//! The data path of a C call, module by module:
//!
//! ```text
//! C string --ffi--> &str --asset::RawAsset::parse--> RawAsset (JSON text, id checked once)
//!   --cache::AssetCache::add_with_id--> I/O mutex (one thread talks to storage)
//!   --> Backend::write_lock      (file backend: lock::acquire, flock <name>.lock)
//!   --> Backend::sync            (read what others wrote) --> store::Store (memory = storage)
//!   --> Backend::append          (file backend: format::render_record, io::Opened::append_at;
//!                                 or format::render + io::replace, atomically)
//!   --> store::Store::insert     (memory changes only once storage has)
//! ```
//!
//! * `asset`: what can be cached ([`Asset`], and [`RawAsset`] for the C ABI).
//! * `cache`: [`AssetCache`], the Python original's operations and the
//!   in-process locking (the I/O mutex over the backend, the store's
//!   reader-writer lock), over a [`Backend`].
//! * `store`: assets by id in insertion order, plus the expiry; its hash
//!   index (`index`) and the huge-page advice for its big buffers (`memory`).
//! * `backend`: the storage seam ([`Backend`], [`Change`]) and the file
//!   backend ([`FileBackend`]), whose rooms are `backend/file/format.rs` (the
//!   bytes: render, parse, header rev, repair), `backend/file/io.rs` (open,
//!   pwrite with rollback, atomic replace, temporary files, quarantine) and
//!   `backend/file/lock.rs` (the inter-process lock).
//! * `single_flight`: get-or-fetch and refresh-all, one fetch per id for the
//!   whole fleet (claims from the backend: `backend/file/claim.rs`), and
//!   stale-if-error.
//! * `options`: [`Options`] and the rules for a cache's name.
//! * [`expiry`]: TTL and clock rules shared with the Python original.
//! * `fork`: keeps a child made by `fork()` from hanging on an inherited
//!   handle or holding its parent's lock.
//! * [`ffi`]: the `extern "C"` layer, compiled into the C header.
//!
//! ```no_run
//! use asset_cache::{AssetCache, Options};
//! let cache: AssetCache<serde_json::Value> = AssetCache::open(Options::new("model").dir("/tmp/c"))?;
//! cache.add(serde_json::json!({"id": "m1", "name": "GPT"}))?;
//! assert!(cache.get("m1").is_some());
//! # Ok::<(), asset_cache::Error>(())
//! ```

mod asset;
mod backend;
mod cache;
mod error;
pub mod expiry;
pub mod ffi;
mod fork;
pub(crate) mod fresh;
mod index;
pub mod log;
mod memory;
mod options;
mod single_flight;
mod store;

pub use asset::{Asset, RawAsset};
pub use backend::any::AnyBackend;
pub use backend::file::io::MAX_FILE_BYTES;
pub use backend::file::FileBackend;
#[cfg(feature = "redis")]
pub use backend::redis::RedisBackend;
pub use backend::{Backend, Change, Claim, Claimer, Edit};
pub use cache::AssetCache;
pub use error::{Error, ErrorKind, Result};
pub use options::{validate_name, Options, DEFAULT_DIR, DEFAULT_LOCK_TIMEOUT};
pub use single_flight::{Begin, FetchClaim, Got, Source};

/// Not part of the API: the file format and the inter-process lock, reachable
/// for this crate's own integration tests and fuzz targets only. Anything
/// here may change in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::backend::file::{claim, format, lock};
}

/// MAJOR * 10000 + MINOR * 100 + PATCH, as in the header's
/// ASSET_CACHE_VERSION_NUMBER.
pub const VERSION_NUMBER: u32 = {
    const fn num(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < b.len() {
            n = n * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        n
    }
    num(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + num(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + num(env!("CARGO_PKG_VERSION_PATCH"))
};
