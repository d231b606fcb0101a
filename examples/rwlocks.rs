//! crossbeam-utils' `ShardedLock` (the store's lock) against std's `RwLock`,
//! in one run, on the pattern of `get`:
//! take the read lock, look an id up in a large map, copy out a few bytes,
//! let the lock go; 1, 2 and 4 threads, while another thread writes once a
//! millisecond (adds are rare). Prints `lock<TAB>threads<TAB>M gets/s`,
//! the median of BENCH_REPS (default 5) runs of 0.3 s each, counted per
//! second of the readers' own CPU time (per reader), so that time a reader
//! spends descheduled on a busy machine does not count against its lock.
//!
//!   cargo run --release --example rwlocks [N]      N ids, default 100000

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use crossbeam_utils::sync::ShardedLock;

type Map = HashMap<String, String>;

trait ReadWrite: Sync {
    fn with_read(&self, f: &mut dyn FnMut(&Map));
    fn with_write(&self, f: &mut dyn FnMut(&mut Map));
}

impl ReadWrite for ShardedLock<Map> {
    fn with_read(&self, f: &mut dyn FnMut(&Map)) {
        f(&self.read().unwrap())
    }
    fn with_write(&self, f: &mut dyn FnMut(&mut Map)) {
        f(&mut self.write().unwrap())
    }
}

impl ReadWrite for RwLock<Map> {
    fn with_read(&self, f: &mut dyn FnMut(&Map)) {
        f(&self.read().unwrap())
    }
    fn with_write(&self, f: &mut dyn FnMut(&mut Map)) {
        f(&mut self.write().unwrap())
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:024x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect()
}

fn thread_cpu_seconds() -> f64 {
    // SAFETY: a valid clock id and a valid out-pointer.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Gets per reader-CPU-second over `threads` readers for `run`, with one writer.
fn measure(lock: &dyn ReadWrite, keys: &[String], threads: usize, run: Duration) -> f64 {
    let stop = AtomicBool::new(false);
    let (gets, cpu) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                lock.with_write(&mut |m| {
                    m.insert(
                        keys[i as usize % keys.len()].clone(),
                        format!("{{\"v\":{i}}}"),
                    );
                });
                i += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let readers: Vec<_> = (0..threads)
            .map(|t| {
                let stop = &stop;
                s.spawn(move || {
                    let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ t as u64;
                    let mut n = 0u64;
                    let cpu = thread_cpu_seconds();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let id = &keys[x as usize % keys.len()];
                            lock.with_read(&mut |m| {
                                black_box(m.get(id).map(|v| v.as_bytes()[0]));
                            });
                        }
                        n += 256;
                    }
                    (n, thread_cpu_seconds() - cpu)
                })
            })
            .collect();
        std::thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .fold((0u64, 0f64), |(g, c), (n, t)| (g + n, c + t))
    });
    gets as f64 / cpu
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let keys = ids(n);
    let map: Map = keys
        .iter()
        .map(|k| (k.clone(), format!("{{\"id\":\"{k}\"}}")))
        .collect();
    let crossbeam = ShardedLock::new(map.clone());
    let std_rw = RwLock::new(map);
    let locks: [(&str, &dyn ReadWrite); 2] = [
        ("crossbeam ShardedLock", &crossbeam),
        ("std RwLock", &std_rw),
    ];
    for threads in [1, 2, 4] {
        // Interleaved: each rep measures every lock once, so drift in the
        // machine's load falls on all of them alike.
        let mut runs: Vec<Vec<f64>> = vec![Vec::new(); locks.len()];
        for _ in 0..reps {
            for (i, (_, lock)) in locks.iter().enumerate() {
                runs[i].push(measure(*lock, &keys, threads, Duration::from_millis(300)));
            }
        }
        for (i, (name, _)) in locks.iter().enumerate() {
            let mut r = runs[i].clone();
            r.sort_by(f64::total_cmp);
            println!("{name}\t{threads}\t{:.2}", r[r.len() / 2] / 1e6);
        }
    }
}
