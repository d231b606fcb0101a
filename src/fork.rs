//! What `fork()` does to a cache, and the two things done about it.
//!
//! A child made by `fork()` gets a copy of the parent's memory and
//! descriptors, but only the thread that called `fork()`. Whatever another
//! thread of the parent held at that instant stays held in the child, with
//! nobody left to release it:
//!
//! * **In-process locks.** A handle's I/O mutex and store lock, held by a
//!   parent thread in the middle of a write, would make every call on the
//!   inherited handle in the child wait forever (not even until the lock
//!   timeout: these are mutexes, not file locks), and its memory may be
//!   half-updated. So a handle is refused in any process other than the one
//!   that opened it: [`generation`] changes in every child (an atfork
//!   handler), each handle remembers the generation it was opened in, and
//!   the C API checks it first, before touching any lock of the handle
//!   (`ASSET_CACHE_INVALID_ARGUMENT`, at once). A child opens its own handle.
//!   This is what SQLite and LMDB ask for ("do not carry a connection across
//!   fork"), detected instead of left to hang.
//! * **File locks.** The lock descriptors of an operation in progress in
//!   another thread are inherited by the child. A flock (and the writer's
//!   turnstile, an OFD lock) belongs to the open file description, so it
//!   stays held until every copy is closed: a child that never touches the
//!   cache but lives on would keep the parent's lock held after the parent
//!   is done, and every process of that cache would wait and time out.
//!   (`O_CLOEXEC` only helps a child that calls `exec`.) So every lock
//!   descriptor is listed here while it is open, and an atfork handler
//!   points the child's copies at `/dev/null` (`dup2`, so that the numbers
//!   stay valid for whatever still owns them). It never unlocks: an unlock
//!   would release the parent's lock too. The list must match the child's
//!   descriptor table exactly, yet the kernel copies the descriptor table
//!   and memory at different instants of a `fork()`; so opening a lock
//!   descriptor and listing it (and unlisting and closing it) is one step
//!   that a `fork()` waits for (an atfork prepare handler; the step is one
//!   `open` or `close`, never a wait for a lock).
//!
//! Left open: if the list is full (more than `SLOTS` lock descriptors open
//! at once in one process) a descriptor goes unlisted, and a child forked
//! meanwhile keeps that lock until it exits or execs.

use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

/// How many lock descriptors can be listed at once (two per file-backed
/// handle, kept between its operations: folder and lock file; one per
/// single-flight claim in progress).
const SLOTS: usize = 1024;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();
#[allow(clippy::declare_interior_mutable_const)]
const FREE: AtomicI32 = AtomicI32::new(-1);
static LISTED: [AtomicI32; SLOTS] = [FREE; SLOTS];
/// Set by a thread about to fork, until the fork is done.
static FORKING: AtomicBool = AtomicBool::new(false);
/// Threads between opening a lock descriptor and listing it (or unlisting
/// and closing it).
static STEPPING: AtomicUsize = AtomicUsize::new(0);

/// Runs `step` (open and list, or unlist and close) so that no `fork()`
/// happens in the middle of it. The two flags form a handshake: a stepping
/// thread announces itself, then checks for a fork; a forking thread
/// announces itself, then waits for the steppers (SeqCst: each sees the
/// other's announcement, or finishes first).
fn step<R>(step: impl FnOnce() -> R) -> R {
    loop {
        STEPPING.fetch_add(1, Ordering::SeqCst);
        if !FORKING.load(Ordering::SeqCst) {
            break;
        }
        STEPPING.fetch_sub(1, Ordering::SeqCst);
        while FORKING.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
    let r = step();
    STEPPING.fetch_sub(1, Ordering::SeqCst);
    r
}

/// Runs in the parent just before `fork()`.
extern "C" fn before_fork() {
    while FORKING
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // Another thread is forking at the same time.
        std::thread::yield_now();
    }
    while STEPPING.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
}

/// Runs in the parent after `fork()`.
extern "C" fn in_parent() {
    FORKING.store(false, Ordering::SeqCst);
}

/// Runs in the child, right after `fork()`, with only the forking thread
/// alive: only async-signal-safe calls (atomics, open, dup2, close).
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
    STEPPING.store(0, Ordering::SeqCst);
    FORKING.store(false, Ordering::SeqCst);
    let path = b"/dev/null\0";
    // SAFETY: a NUL-terminated path; open is async-signal-safe.
    let null = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if null < 0 {
        return;
    }
    for slot in &LISTED {
        let fd = slot.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: `fd` is a descriptor of this process (inherited);
            // dup2 atomically makes it refer to /dev/null instead, dropping
            // this process's share of the lock file's open description.
            unsafe { libc::dup2(null, fd) };
        }
    }
    // SAFETY: the descriptor opened above.
    unsafe { libc::close(null) };
}

/// Installs the atfork handler, once per process.
pub fn install() {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that lives as long as the library
        // (glibc removes it if the library is unloaded).
        unsafe { libc::pthread_atfork(Some(before_fork), Some(in_parent), Some(in_child)) };
    });
}

/// The fork generation of this process: 0 in the process that installed
/// the handler, different in every child made since.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// A lock descriptor, listed for the atfork handler while it is open.
#[derive(Debug)]
pub struct Listed<F: AsRawFd> {
    slot: Option<usize>,
    fd: RawFd,
    file: ManuallyDrop<F>,
}

impl<F: AsRawFd> Listed<F> {
    /// Opens a lock descriptor with `open` and lists it, in one step.
    pub fn open<E>(open: impl FnOnce() -> Result<F, E>) -> Result<Self, E> {
        install();
        step(|| {
            let file = open()?;
            let fd = file.as_raw_fd();
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let start = NEXT.fetch_add(1, Ordering::Relaxed);
            let slot = (0..SLOTS).map(|i| (start + i) % SLOTS).find(|&i| {
                LISTED[i]
                    .compare_exchange(-1, fd, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            });
            Ok(Listed {
                slot,
                fd,
                file: ManuallyDrop::new(file),
            })
        })
    }

    pub fn get(&self) -> &F {
        &self.file
    }

    /// Whether the descriptor found a free slot in the list (a child made
    /// by `fork()` then points its copy at `/dev/null`). Only a listed
    /// descriptor may be kept open between operations.
    pub fn is_listed(&self) -> bool {
        self.slot.is_some()
    }
}

impl<F: AsRawFd> Drop for Listed<F> {
    fn drop(&mut self) {
        step(|| {
            if let Some(i) = self.slot {
                let _ =
                    LISTED[i].compare_exchange(self.fd, -1, Ordering::SeqCst, Ordering::Relaxed);
            }
            // SAFETY: dropped exactly once, here; never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.file) };
        })
    }
}
