//! Get-or-fetch and refresh-all with cross-process single-flight, and
//! stale-if-error.
//!
//! The SDK's access pattern (see the issue): on a miss, fetch one asset from
//! the service and add it; when the store is invalid, list every asset and
//! replace the store. Done naively by every process of a fleet, each miss and
//! each expiry costs one fetch per process. Here one caller in the fleet
//! fetches and the others wait for its result:
//!
//! ```text
//! get -> hit? return it                                  (no claim, no I/O)
//!     -> claim the id (claim::acquire; waits while another fetches)
//!     -> load: re-read the file (the one before us has usually just added it)
//!     -> hit? release, return it                         (waited, no fetch)
//!     -> fetch -> ok:  add under the id, release, return it
//!              -> err: release; within the grace period return the expired
//!                      asset marked stale, else return the error
//! ```
//!
//! Refresh-all is the same over the whole store, with its own claim and
//! "valid" meaning [`AssetCache::has_valid_cache`].
//!
//! Two shapes of the same protocol:
//! * the callback shape ([`AssetCache::get_or_fetch`],
//!   [`AssetCache::refresh_all`]) for hosts whose fetch can run on the
//!   calling thread (Rust, C, C++, Go);
//! * the claim shape ([`AssetCache::begin_fetch`] /
//!   [`AssetCache::begin_refresh_all`], then [`AssetCache::complete`] or
//!   [`AssetCache::fail`], or dropping the [`FetchClaim`] to abandon it) for
//!   hosts whose fetch runs in their own event loop (Node, Python asyncio).
//!   A `begin` with a zero wait never blocks on another fetcher: it returns
//!   `LockTimeout` at once, and the host polls again from its event loop.
//!
//! The claim is only held while this caller fetches: releasing it (complete,
//! fail, drop, or the process dying) lets the next waiter re-read the store
//! and, if the asset is still missing (a failed fetch), fetch it itself.
//! Nothing here knows the file backend: claims come from the backend's
//! [`Claimer`](crate::Claimer) (the file backend's are OFD byte-range locks on
//! its lock file, see `backend/file/claim.rs`; the Redis backend's are
//! `SET NX PX` keys with a renewed lease, see `backend/redis/claim.rs`, and a
//! wait there also ends as soon as the result is stored, without taking the
//! claim).

use std::time::{Duration, Instant};

use crate::asset::Asset;
use crate::backend::file::claim::Target;
use crate::backend::{Backend, Claim};
use crate::cache::AssetCache;
use crate::error::{Error, ErrorKind, Result};
use crate::expiry;
use crate::store::Store;

/// The end of a wait that may take several claims (`None`: no end).
struct Deadline(Option<Instant>);

impl Deadline {
    fn new(wait: Option<Duration>) -> Self {
        Deadline(wait.map(|w| Instant::now() + w))
    }

    /// What is left of the wait (zero once it has run out: one more try).
    fn left(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Where a returned value came from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The cache had it (possibly after waiting for another caller's fetch).
    Cache,
    /// This caller's fetch produced it; it is now stored.
    Fetch,
    /// The fetch failed (the error) within the stale-if-error grace period,
    /// so the expired value is returned. Nothing was stored.
    Stale(Error),
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Got<V> {
    pub value: V,
    pub source: Source,
}

impl<V> Got<V> {
    fn new(value: V, source: Source) -> Self {
        Got { value, source }
    }

    /// True when the value is an expired one served because the fetch failed.
    pub fn is_stale(&self) -> bool {
        matches!(self.source, Source::Stale(_))
    }
}

/// The right (and duty) to fetch one id, or the whole store: held by one
/// caller in the fleet at a time. Finish it with [`AssetCache::complete`] /
/// [`AssetCache::complete_all`] or [`AssetCache::fail`]; dropping it
/// abandons the fetch (the next waiter fetches instead).
#[derive(Debug)]
pub struct FetchClaim {
    target: Owned,
    _claim: Claim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Id(String),
    All,
}

impl FetchClaim {
    /// The id being fetched; `None` for a refresh-all claim.
    pub fn id(&self) -> Option<&str> {
        match &self.target {
            Owned::Id(id) => Some(id),
            Owned::All => None,
        }
    }
}

/// What [`AssetCache::begin_fetch`] found.
#[derive(Debug)]
pub enum Begin<V> {
    /// The value is cached and valid: nothing to fetch.
    Cached(V),
    /// The caller must fetch, then complete or fail the claim.
    Claimed(FetchClaim),
}

impl<T: Asset + Clone, B: Backend<T>> AssetCache<T, B> {
    /// The asset `id` from the cache if present and valid; otherwise `fetch`
    /// runs (in exactly one caller of the fleet at a time, see the module
    /// documentation), its result is stored under `id` and returned.
    ///
    /// A waiter waits at most the lock timeout for another caller's fetch,
    /// then fails with `LockTimeout`. A `fetch` failing with
    /// [`ErrorKind::FetchFailed`] (see [`Error::fetch_failed`]) within the
    /// stale-if-error grace period of an expired asset returns that asset
    /// with [`Source::Stale`]; any other failure is returned as it is, and
    /// nothing is stored.
    pub fn get_or_fetch(&self, id: &str, fetch: impl FnOnce() -> Result<T>) -> Result<Got<T>> {
        match self.begin_fetch(id, self.lock_timeout())? {
            Begin::Cached(asset) => Ok(Got::new(asset, Source::Cache)),
            Begin::Claimed(claim) => match fetch() {
                Ok(asset) => self
                    .complete(claim, asset)
                    .map(|a| Got::new(a, Source::Fetch)),
                Err(e) => self.fail(claim, e),
            },
        }
    }

    /// The assets of a valid store; otherwise `fetch_all` runs (in exactly
    /// one caller of the fleet at a time) and its result replaces the store,
    /// as `add_list` does. Waits, errors and stale-if-error as
    /// [`AssetCache::get_or_fetch`], over the whole store.
    pub fn refresh_all(&self, fetch_all: impl FnOnce() -> Result<Vec<T>>) -> Result<Got<Vec<T>>> {
        match self.begin_refresh_all(self.lock_timeout())? {
            Begin::Cached(all) => Ok(Got::new(all, Source::Cache)),
            Begin::Claimed(claim) => match fetch_all() {
                Ok(assets) => self
                    .complete_all(claim, assets)
                    .map(|a| Got::new(a, Source::Fetch)),
                Err(e) => self.fail_all(claim, e),
            },
        }
    }

    /// The first half of [`AssetCache::get_or_fetch`]: the cached asset, or
    /// a claim to fetch it, after waiting up to `wait` (`None`: forever;
    /// zero: not at all) for another caller's fetch of the same id.
    pub fn begin_fetch(&self, id: &str, wait: Option<Duration>) -> Result<Begin<T>> {
        if id.is_empty() {
            return Err(Error::new(ErrorKind::MissingId, "asset id is empty"));
        }
        if let Some(asset) = self.get(id) {
            return Ok(Begin::Cached(asset));
        }
        let deadline = Deadline::new(wait);
        let mut done_check = true;
        loop {
            let claim = self.claim(Target::Id(id), deadline.left(), done_check)?;
            // Whoever held the claim before us has usually just added it.
            self.load()?;
            if let Some(asset) = self.get(id) {
                return Ok(Begin::Cached(asset));
            }
            if let Some(claim) = claim {
                return Ok(Begin::Claimed(FetchClaim {
                    target: Owned::Id(id.to_string()),
                    _claim: claim,
                }));
            }
            // Stored when the claim was tried, gone when loaded (removed,
            // invalidated, or not valid JSON): claim it for real.
            done_check = false;
        }
    }

    /// The first half of [`AssetCache::refresh_all`].
    pub fn begin_refresh_all(&self, wait: Option<Duration>) -> Result<Begin<Vec<T>>> {
        if self.has_valid_cache() {
            return Ok(Begin::Cached(self.get_all()));
        }
        let deadline = Deadline::new(wait);
        let mut done_check = true;
        loop {
            let claim = self.claim(Target::All, deadline.left(), done_check)?;
            self.load()?;
            if self.has_valid_cache() {
                return Ok(Begin::Cached(self.get_all()));
            }
            if let Some(claim) = claim {
                return Ok(Begin::Claimed(FetchClaim {
                    target: Owned::All,
                    _claim: claim,
                }));
            }
            done_check = false;
        }
    }

    /// Stores the fetched asset under the claimed id, then releases the
    /// claim. On error (e.g. `Io`) nothing is stored and the claim is
    /// released all the same.
    pub fn complete(&self, claim: FetchClaim, asset: T) -> Result<T> {
        let Owned::Id(id) = &claim.target else {
            return Err(Error::invalid_argument(
                "a refresh-all claim is completed with a list of assets (complete_all)",
            ));
        };
        self.add_with_id(id.clone(), asset.clone())?;
        Ok(asset)
    }

    /// Replaces the store by the fetched assets (as `add_list`), then
    /// releases the claim; returns the new store's assets.
    pub fn complete_all(&self, claim: FetchClaim, assets: Vec<T>) -> Result<Vec<T>> {
        if claim.target != Owned::All {
            return Err(Error::invalid_argument(
                "a claim on one id is completed with one asset (complete)",
            ));
        }
        self.add_list(assets)?;
        Ok(self.get_all())
    }

    /// Ends a claim whose fetch failed with `error`: the claim is released,
    /// and within the stale-if-error grace period of an expired asset (or
    /// store, for refresh-all) that value is returned as [`Source::Stale`]
    /// when `error` is [`ErrorKind::FetchFailed`]. Otherwise `error` is
    /// returned.
    pub fn fail(&self, claim: FetchClaim, error: Error) -> Result<Got<T>> {
        let Owned::Id(id) = &claim.target else {
            return Err(Error::invalid_argument(
                "a refresh-all claim is failed with fail_all",
            ));
        };
        let id = id.clone();
        drop(claim);
        if error.kind() == ErrorKind::FetchFailed {
            if let Some(asset) = self.stale_asset(&id) {
                return Ok(Got::new(asset, Source::Stale(error)));
            }
        }
        Err(error)
    }

    /// [`AssetCache::fail`] for a refresh-all claim.
    pub fn fail_all(&self, claim: FetchClaim, error: Error) -> Result<Got<Vec<T>>> {
        if claim.target != Owned::All {
            return Err(Error::invalid_argument(
                "a claim on one id is failed with fail",
            ));
        }
        drop(claim);
        if error.kind() == ErrorKind::FetchFailed {
            if let Some(all) = self.stale_all() {
                return Ok(Got::new(all, Source::Stale(error)));
            }
        }
        Err(error)
    }

    fn claim(
        &self,
        target: Target<'_>,
        wait: Option<Duration>,
        done_check: bool,
    ) -> Result<Option<Claim>> {
        self.claimer().claim(target, wait, done_check)
    }

    /// The expired asset `id`, if this handle still has it and the grace
    /// period after its store's expiry has not passed.
    fn stale_asset(&self, id: &str) -> Option<T> {
        self.with_expired(|store| store.get(id).cloned())
    }

    fn stale_all(&self) -> Option<Vec<T>> {
        self.with_expired(|store| (!store.is_empty()).then(|| store.values().cloned().collect()))
    }

    fn with_expired<R>(&self, f: impl FnOnce(&Store<T>) -> Option<R>) -> Option<R> {
        let grace = self.stale_if_error()?;
        self.with_expired_store(|store| {
            let deadline = store.expiry() + grace.as_secs_f64();
            (store.is_expired() && !expiry::has_passed(deadline))
                .then(|| f(store))
                .flatten()
        })
    }
}
