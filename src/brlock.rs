//! A reader-writer lock whose readers do not share a cache line.
//!
//! A plain `RwLock` makes every reader write the lock's one counter, so two
//! threads calling `get` on two cores pass that cache line back and forth on
//! every call, and adding a thread barely adds throughput. Here each thread
//! reads under one of several locks (its shard, fixed per thread), and a
//! writer takes all of them. Writes are rare and already serialized by the
//! cache's I/O mutex, so taking a few uncontended locks costs them nothing
//! measurable.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 8;

/// One lock on a cache line (two, for the adjacent-line prefetcher) of its own.
#[repr(align(128))]
#[derive(Default)]
struct Shard(RwLock<()>);

pub struct BrLock<T> {
    shards: [Shard; SHARDS],
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through the guards below: shared
// references while some shard is read-locked, a unique reference while every
// shard is write-locked, so the usual RwLock bounds apply.
unsafe impl<T: Send> Send for BrLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for BrLock<T> {}

fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl<T> BrLock<T> {
    pub fn new(value: T) -> Self {
        BrLock {
            shards: Default::default(),
            value: UnsafeCell::new(value),
        }
    }

    /// Shared access. A poisoned lock is used anyway: the value is only ever
    /// replaced whole or changed by operations that cannot leave it torn.
    pub fn read(&self) -> ReadGuard<'_, T> {
        let guard = self.shards[my_shard()]
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner());
        ReadGuard {
            _guard: guard,
            // SAFETY: a shard is read-locked, so no writer holds all of them.
            value: unsafe { &*self.value.get() },
        }
    }

    /// Exclusive access: every shard, always in the same order, so two
    /// writers cannot deadlock and no reader can be inside.
    pub fn write(&self) -> WriteGuard<'_, T> {
        let guards =
            std::array::from_fn(|i| self.shards[i].0.write().unwrap_or_else(|e| e.into_inner()));
        WriteGuard {
            _guards: guards,
            lock: self,
        }
    }
}

pub struct ReadGuard<'a, T> {
    _guard: RwLockReadGuard<'a, ()>,
    value: &'a T,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
    }
}

pub struct WriteGuard<'a, T> {
    _guards: [RwLockWriteGuard<'a, ()>; SHARDS],
    lock: &'a BrLock<T>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: every shard is write-locked by this guard.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: every shard is write-locked by this guard, which is borrowed
        // mutably, so this is the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn writers_exclude_readers_on_every_shard() {
        // Each writer fills the whole array with one value; a reader running
        // on any shard while a writer is inside would see two values.
        let lock = Arc::new(BrLock::new(vec![0u64; 4096]));
        let threads: Vec<_> = (0..2 * SHARDS)
            .map(|t| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for i in 0..300u64 {
                        if t % 4 == 0 {
                            let mut w = lock.write();
                            for x in w.iter_mut() {
                                *x = std::hint::black_box(i);
                            }
                        } else {
                            let r = lock.read();
                            let first = r[0];
                            assert!(
                                r.iter().all(|&x| x == first),
                                "a reader saw a half-done write"
                            );
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
