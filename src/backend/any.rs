//! The backend chosen when a cache is opened: the file backend, or (with
//! [`Options::backend_url`](crate::Options::backend_url)) Redis. This is what
//! the C ABI and the bindings open, so that one open call reaches both.
//!
//! A file-backed cache pays one branch per storage call (never per `get`,
//! which reads memory), and nothing else.

use super::file::{self, FileBackend};
#[cfg(feature = "redis")]
use super::redis::RedisBackend;
use super::{sealed, Backend, Change, Claimer};
use crate::asset::Asset;
use crate::error::Result;
use crate::store::Store;

/// Either backend, chosen at run time.
// The file variant is the common one and lives once per cache, behind the
// cache's I/O mutex: not boxed, so that its calls need no indirection.
#[allow(clippy::large_enum_variant)]
pub enum AnyBackend {
    File(FileBackend),
    /// Boxed: a file-backed handle does not carry a Redis connection's size.
    #[cfg(feature = "redis")]
    Redis(Box<RedisBackend>),
}

/// The lock of the backend in use.
pub enum AnyLock<F> {
    File(F),
    /// Redis takes no lock.
    #[cfg(feature = "redis")]
    Redis,
}

impl sealed::Sealed for AnyBackend {}

/// Checks a backend URL without connecting: what opening would refuse with
/// INVALID_ARGUMENT.
pub fn check_url(url: &str) -> Result<()> {
    #[cfg(feature = "redis")]
    {
        super::redis::check_url(url)
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(crate::error::Error::invalid_argument(
            "this build has no Redis backend (built without the `redis` feature)",
        ))
    }
}

/// Calls `$call` on the backend in use, with its own lock taken out of
/// `$lock` (a lock of the other backend cannot occur: each handle keeps one).
macro_rules! on {
    ($self:ident, $b:ident => $file:expr, $redis:expr) => {
        match $self {
            AnyBackend::File($b) => $file,
            #[cfg(feature = "redis")]
            AnyBackend::Redis($b) => {
                let $b = &mut **$b;
                $redis
            }
        }
    };
}

macro_rules! locked {
    ($self:ident, $lock:ident, |$b:ident, $l:ident| $call:expr) => {
        match ($self, $lock) {
            (AnyBackend::File($b), AnyLock::File($l)) => $call,
            #[cfg(feature = "redis")]
            (AnyBackend::Redis($b), AnyLock::Redis) => {
                let $b = &mut **$b;
                let $l = &mut ();
                $call
            }
            #[cfg(feature = "redis")]
            _ => unreachable!("a lock of one backend used with the other"),
        }
    };
}

impl<T: Asset> Backend<T> for AnyBackend {
    type ReadLock = AnyLock<file::ReadLock>;
    type WriteLock = AnyLock<file::WriteLock>;

    fn read_lock(&mut self) -> Result<Self::ReadLock> {
        on!(
            self,
            b => Backend::<T>::read_lock(b).map(AnyLock::File),
            Backend::<T>::read_lock(b).map(|()| AnyLock::Redis)
        )
    }

    fn write_lock(&mut self) -> Result<Self::WriteLock> {
        on!(
            self,
            b => Backend::<T>::write_lock(b).map(AnyLock::File),
            Backend::<T>::write_lock(b).map(|()| AnyLock::Redis)
        )
    }

    fn sync_read(
        &mut self,
        lock: &mut Self::ReadLock,
        memory: &Store<T>,
    ) -> Result<Option<Change<T>>> {
        locked!(self, lock, |b, l| b.sync_read(l, memory))
    }

    fn sync(&mut self, lock: &mut Self::WriteLock, memory: &Store<T>) -> Result<Change<T>> {
        locked!(self, lock, |b, l| b.sync(l, memory))
    }

    fn syncs_before_write(&self) -> bool {
        match self {
            AnyBackend::File(b) => Backend::<T>::syncs_before_write(b),
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::syncs_before_write(&**b),
        }
    }

    fn append(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        id: &str,
        asset: &T,
    ) -> Result<Option<Change<T>>> {
        locked!(self, lock, |b, l| b.append(l, memory, id, asset))
    }

    fn rewrite(&mut self, lock: &mut Self::WriteLock, store: &Store<T>) -> Result<()> {
        locked!(self, lock, |b, l| b.rewrite(l, store))
    }

    fn save(&mut self, lock: &mut Self::WriteLock, memory: &Store<T>) -> Result<()> {
        locked!(self, lock, |b, l| b.save(l, memory))
    }

    fn remove_expired(&mut self, lock: &mut Self::WriteLock) -> Result<()> {
        locked!(self, lock, |b, l| Backend::<T>::remove_expired(b, l))
    }

    fn invalidate(&mut self) -> Result<()> {
        on!(self, b => Backend::<T>::invalidate(b), Backend::<T>::invalidate(b))
    }

    fn is_stored(&self) -> bool {
        match self {
            AnyBackend::File(b) => Backend::<T>::is_stored(b),
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::is_stored(&**b),
        }
    }

    fn rewrite_filtered(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        keep: &mut dyn FnMut(usize, &str) -> bool,
        appended: Option<(&str, &T)>,
    ) -> Result<()> {
        locked!(self, lock, |b, l| b
            .rewrite_filtered(l, memory, keep, appended))
    }

    fn caps_on_append(&self) -> bool {
        match self {
            AnyBackend::File(b) => Backend::<T>::caps_on_append(b),
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::caps_on_append(&**b),
        }
    }

    fn remove(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        id: &str,
    ) -> Result<(bool, Option<Change<T>>)> {
        locked!(self, lock, |b, l| b.remove(l, memory, id))
    }

    fn arrived(&mut self, at: std::time::Instant) {
        match self {
            AnyBackend::File(_) => {}
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::arrived(&mut **b, at),
        }
    }

    fn watched_file(&self) -> Option<std::path::PathBuf> {
        match self {
            AnyBackend::File(b) => Backend::<T>::watched_file(b),
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::watched_file(&**b),
        }
    }

    fn claimer(&self) -> Claimer {
        match self {
            AnyBackend::File(b) => Backend::<T>::claimer(b),
            #[cfg(feature = "redis")]
            AnyBackend::Redis(b) => Backend::<T>::claimer(&**b),
        }
    }
}
