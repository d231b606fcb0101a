//! asset-cache: a persistent, expiring, multi-process-safe cache of JSON
//! assets keyed by id, sharing its files with the `AssetCache` of the aiXplain
//! Python SDK (`aixplain.utils.asset_cache`).
//!
//! The data path of a C call, module by module:
//!
//! ```text
//! C string --ffi--> &str --asset::RawAsset::parse--> RawAsset (JSON text + id)
//!   --cache::AssetCache::add--> lock::acquire (flock <name>.lock)
//!   --> persist (read what others wrote) --> store::Store (memory = file)
//!   --> persist (append one record, or replace the file atomically) --> memory
//! ```
//!
//! * [`asset`]: what can be cached ([`Asset`], and [`RawAsset`] for the C ABI).
//! * [`store`]: assets by id in insertion order, plus the expiry; its hash
//!   index (`index`) and the huge-page advice for its big buffers (`memory`)
//!   are private.
//! * [`expiry`]: TTL and clock rules shared with the Python original.
//! * [`lock`]: the inter-process lock.
//! * [`persist`]: the file format, atomic replacement and appends.
//! * [`cache`]: [`AssetCache`], tying them together.
//! * [`ffi`]: the `extern "C"` layer, compiled into the C header.
//!
//! ```no_run
//! use asset_cache::{AssetCache, Options};
//! let cache: AssetCache<serde_json::Value> = AssetCache::open(Options::new("model").dir("/tmp/c"))?;
//! cache.add(serde_json::json!({"id": "m1", "name": "GPT"}))?;
//! assert!(cache.get("m1").is_some());
//! # Ok::<(), asset_cache::Error>(())
//! ```

pub mod asset;
mod brlock;
pub mod cache;
pub mod error;
pub mod expiry;
pub mod ffi;
mod index;
pub mod lock;
pub mod log;
mod memory;
pub mod persist;
pub mod store;

pub use asset::{Asset, RawAsset};
pub use cache::{validate_name, AssetCache, Options};
pub use error::{Error, ErrorKind, Result};
pub use store::Store;

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
