//! Single-flight claims across hosts: who, among every process on every host
//! sharing a cache on one server, runs the fetch of an id (or refresh-all's
//! list-everything fetch) while the others wait for its result. The Redis
//! counterpart of the file backend's OFD byte-range claims
//! (`backend/file/claim.rs`), with the same two outcomes for the cache: held,
//! or timed out (`LockTimeout`).
//!
//! # Design
//!
//! * **A claim is `SET <claim key> <token> NX PX <lease>`** (`claim.lua`), the
//!   standard Redis lock: one key per id (`...:claim:id:<id>`) and one for
//!   refresh-all (`...:claim:all`), each holding the claimer's token (unique
//!   in the fleet: 128 random bits per process and a counter).
//! * **Released by compare-and-delete** (`release.lua`): a claim whose lease
//!   ran out and that another host took meanwhile is not ours to delete.
//! * **A dead fetcher releases at lease expiry; a live one keeps renewing.**
//!   While a claim is held, a keeper thread extends its lease every third of
//!   it (`renew.lua`, compare-and-PEXPIRE), on a connection of its own, so a
//!   slow but live fetch keeps its claim however long it takes, and a
//!   fetcher that dies (SIGKILL, a host lost) stops renewing and its claim
//!   ends within one lease. The lease is twice the backend timeout (at least
//!   1 s): a renewal that waits the whole backend timeout for a stalled
//!   server still leaves the lease running. Extending rather than sizing the
//!   lease for the slowest fetch keeps the takeover after a crash short (10 s
//!   with the default 5 s backend timeout, inside the default 30 s lock
//!   timeout) without ever cutting a live fetch short.
//! * **Waiters poll, with a pause doubling from 1 ms to 25 ms**, for at most
//!   the lock timeout, then fail with `LockTimeout`. Each poll is one script
//!   (`claim.lua`) that also answers `done` as soon as what the claim is for
//!   is in the live store, so a waiter returns as soon as the fetcher's add
//!   lands, without queueing for the claim behind the other waiters. Polling
//!   rather than pub/sub or keyspace notifications: a notification can be
//!   missed (a reconnect, a server restart, `notify-keyspace-events` off by
//!   default, which a managed Redis may not let us turn on) and a waiter would
//!   still need a timed re-check for a lease that expires without any
//!   command (expiry is not notified when a key is never touched), so polls
//!   would be needed anyway; at 25 ms at most, a waiter costs the server 40
//!   commands a second.
//! * **Each poll is bounded by the backend timeout**: a stopped or
//!   unreachable server fails the wait with `BackendUnavailable`, naming it.
//!
//! A child made by `fork()` while a claim is held does not hold it, and
//! dropping its copy releases nothing (the claim records its process).
//!
//! What a claim does not promise: exclusion after its lease was lost (a
//! server stalled past the lease, or restarted without persistence), or
//! across a failover to a replica that had not received it. The cost is one
//! duplicate fetch: the data itself is written by atomic scripts, so nothing
//! is lost or torn.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::keys::Keys;
use super::scripts;
use crate::backend::file::claim::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::expiry;

/// The shortest lease.
const MIN_LEASE: Duration = Duration::from_secs(1);
/// Pauses between polls double from the first to the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const LONGEST_PAUSE: Duration = Duration::from_millis(25);

/// How the handles of one cache claim on its server. Shared (`Arc`) by the
/// handle's claims: waits happen outside the handle's I/O mutex, on this
/// connection of their own.
pub struct RedisClaimer {
    conn: Mutex<Conn>,
    keys: Keys,
    lease: Duration,
}

impl std::fmt::Debug for RedisClaimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClaimer")
            .field("claims", &self.keys.claim(Target::All))
            .field("lease", &self.lease)
            .finish()
    }
}

/// What a wait for a claim ended with.
pub enum Claimed {
    /// This caller holds the claim and must fetch.
    Held(RedisClaim),
    /// What the claim is for is stored: load it instead of fetching.
    Done,
}

impl RedisClaimer {
    /// A claimer on the server of `conn` (a connection of its own is made
    /// from it) for the cache with `keys`.
    pub(crate) fn new(conn: &Conn, keys: Keys) -> RedisClaimer {
        RedisClaimer {
            lease: (conn.timeout() * 2).max(MIN_LEASE),
            conn: Mutex::new(conn.detached()),
            keys,
        }
    }

    /// The lease of a claim that is not renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Claims `target`, waiting up to `wait` (`None`: forever; zero: one
    /// try) while another claimer holds it. With `done_check`, a wait also
    /// ends (with [`Claimed::Done`]) once what the claim is for is stored.
    ///
    /// Errors: `LockTimeout` when the wait runs out; `BackendUnavailable`
    /// when a poll is not answered within the backend timeout; `Backend`
    /// when the server refuses (e.g. a key of another type at the claim key).
    pub fn claim(
        self: &Arc<Self>,
        target: Target<'_>,
        wait: Option<Duration>,
        done_check: bool,
    ) -> Result<Claimed> {
        let deadline = wait.map(|w| Instant::now() + w);
        let key = self.keys.claim(target);
        let (what, id) = match target {
            Target::All => ("all", ""),
            Target::Id(id) => ("id", id),
        };
        let token = super::new_sid();
        let lease_ms = self.lease.as_millis() as u64;
        let mut pause = FIRST_PAUSE;
        loop {
            let answer: String = {
                let arrived = Instant::now();
                let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
                conn.arrive(arrived);
                conn.begin();
                conn.run("claim", |con| {
                    scripts::CLAIM
                        .key(&self.keys.live[..])
                        .key(&key)
                        .arg(&token)
                        .arg(lease_ms)
                        .arg(if done_check { what } else { "claim-only" })
                        .arg(id)
                        .arg(expiry::now())
                        .invoke(con)
                })?
            };
            match answer.as_str() {
                "claimed" => return Ok(Claimed::Held(RedisClaim::new(self.clone(), key, token))),
                "done" => return Ok(Claimed::Done),
                "held" => {}
                other => {
                    return Err(Error::new(
                        ErrorKind::Backend,
                        format!("unexpected answer {other:?} to a claim on {key}"),
                    ))
                }
            }
            let left = match deadline {
                None => LONGEST_PAUSE,
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            if left.is_zero() {
                let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
                return Err(Error::new(
                    ErrorKind::LockTimeout,
                    format!(
                        "timed out after {} ms waiting for another fetch of {} to finish (claim {key} on {})",
                        wait.unwrap_or_default().as_millis(),
                        describe(target),
                        conn.server()
                    ),
                ));
            }
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Compare-and-delete; a failure is only logged (the lease ends it).
    fn release(&self, key: &str, token: &str) {
        let arrived = Instant::now();
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.arrive(arrived);
        conn.begin();
        let r: Result<i64> = conn.run("release a claim", |con| {
            scripts::RELEASE.key(key).arg(token).invoke(con)
        });
        if let Err(e) = r {
            crate::log::warn(&format!(
                "claim {key} not released ({e}); it ends when its lease of {} ms runs out",
                self.lease.as_millis()
            ));
        }
    }
}

fn describe(target: Target<'_>) -> String {
    match target {
        Target::Id(id) => format!("id {id:?}"),
        Target::All => "the whole store (refresh-all)".to_string(),
    }
}

/// A held claim: its keeper thread renews the lease until it is dropped,
/// which stops the keeper and releases the claim.
pub struct RedisClaim {
    claimer: Arc<RedisClaimer>,
    key: String,
    token: String,
    /// Dropping the sender stops the keeper.
    stop: Option<mpsc::Sender<()>>,
    /// The process that claimed: a child made by `fork()` holds a copy of
    /// this value but not the claim, and must not release the parent's.
    owner: u32,
}

impl std::fmt::Debug for RedisClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClaim")
            .field("key", &self.key)
            .finish()
    }
}

impl RedisClaim {
    fn new(claimer: Arc<RedisClaimer>, key: String, token: String) -> RedisClaim {
        let (stop, stopped) = mpsc::channel::<()>();
        let every = claimer.lease / 3;
        let lease_ms = claimer.lease.as_millis() as u64;
        // The keeper's own connection (made at its first renewal, so a
        // short fetch never connects): waiters of this handle polling on
        // the claimer's connection never delay a renewal.
        let mut conn = claimer
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .detached();
        let (k, t) = (key.clone(), token.clone());
        let keeper = thread::Builder::new()
            .name("asset-cache-claim".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    conn.begin();
                    let kept: Result<i64> = conn.run("renew a claim", |con| {
                        scripts::RENEW.key(&k).arg(&t).arg(lease_ms).invoke(con)
                    });
                    match kept {
                        Ok(1) => {}
                        Ok(_) => {
                            crate::log::warn(&format!(
                                "claim {k} was lost (its lease ran out): another host may fetch too"
                            ));
                            return;
                        }
                        // Retried at the next tick, while the lease runs.
                        Err(e) => crate::log::warn(&format!("claim {k} not renewed: {e}")),
                    }
                }
            });
        if let Err(e) = keeper {
            crate::log::warn(&format!(
                "no keeper thread for claim {key} ({e}): a fetch longer than {} ms may be duplicated",
                claimer.lease.as_millis()
            ));
        }
        RedisClaim {
            claimer,
            key,
            token,
            stop: Some(stop),
            owner: std::process::id(),
        }
    }
}

impl Drop for RedisClaim {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            // A copy in a child of fork(): the claim is the parent's (as
            // the file backend's claims stay with the parent, `fork.rs`).
            // Nothing else is touched: the child has no keeper thread, and
            // the mutexes may have been held at the fork.
            std::mem::forget(self.stop.take());
            return;
        }
        drop(self.stop.take());
        self.claimer.release(&self.key, &self.token);
    }
}
