//! Reliability tests: the core's promises (no lost update, atomic writes,
//! crash safety, clear errors on faults, a lock that holds) checked by many
//! processes that race, crash, and hit failing file systems.
//!
//! One binary with its own `main` (no libtest harness): run with an
//! environment variable naming a role, it becomes one of the child processes
//! the tests start, so every child runs exactly the library under test.
//!
//! Run: `scripts/test-reliability.sh`, or
//! `cargo test --release --test reliability [-- <name filter>...]`.
//! `ASSET_CACHE_SOAK=1` runs the long variants (more processes, more kills,
//! more iterations); `ASSET_CACHE_SEED=<n>` replays a run's random choices.
//! Needs root for the tmpfs disk-full and read-only tests (it mounts small
//! tmpfs folders) and for dropping privileges in the permission test; it
//! fails, rather than skips, where that is impossible.

mod contention;
mod crash;
mod faults;
mod limits;
mod locking;
mod readers;
mod removes;
mod single_flight;
mod splice;
mod support;
mod writers;

mod runner;

use runner::Test;

const TESTS: &[Test] = &[
    (
        "writers_processes_lose_no_add",
        writers::processes_lose_no_add,
    ),
    (
        "writers_mixed_ops_keep_every_later_add",
        writers::mixed_ops_keep_every_later_add,
    ),
    (
        "readers_see_complete_files_during_writes",
        readers::readers_see_complete_files,
    ),
    (
        "readers_without_lock_see_whole_rewrites_atomically",
        readers::lockless_readers_see_whole_rewrites,
    ),
    (
        "crash_during_rewrite_leaves_old_or_new",
        crash::kill_during_rewrite,
    ),
    (
        "crash_during_adds_loses_no_acknowledged_add",
        crash::kill_during_adds,
    ),
    (
        "crash_during_big_adds_leaves_a_file_python_loads",
        crash::kill_during_big_adds,
    ),
    (
        "splice_crash_leaves_a_file_python_loads_with_every_ack",
        splice::kill_during_splices,
    ),
    (
        "splice_beside_the_python_original_loses_nothing",
        splice::mixed_with_python_lose_nothing,
    ),
    (
        "splice_beside_the_stock_python_original_loses_only_to_python",
        splice::mixed_with_stock_python_loses_only_to_python,
    ),
    (
        "faults_write_failure_at_every_byte",
        faults::write_failure_at_every_byte,
    ),
    ("faults_disk_full_on_tmpfs", faults::disk_full_on_tmpfs),
    ("faults_read_only_folder", faults::read_only_folder),
    ("faults_permission_denied", faults::permission_denied),
    (
        "faults_read_only_reader_repairs_nothing",
        faults::read_only_reader_repairs_nothing,
    ),
    (
        "faults_missing_and_removed_folder",
        faults::missing_and_removed_folder,
    ),
    (
        "locking_replaced_lock_file_never_gives_two_holders",
        locking::replaced_lock_file_never_two_holders,
    ),
    (
        "locking_stopped_holder_gives_lock_timeout",
        locking::stopped_holder_gives_lock_timeout,
    ),
    (
        "locking_forked_child_cannot_release_parents_lock",
        locking::forked_child_cannot_release,
    ),
    (
        "locking_forked_child_does_not_keep_a_later_lock",
        locking::forked_child_does_not_keep_a_later_lock,
    ),
    (
        "locking_readers_do_not_starve_writers",
        locking::readers_do_not_starve_writers,
    ),
    (
        "limits_allocation_failure_gives_no_memory",
        limits::allocation_failure_gives_no_memory,
    ),
    (
        "limits_torn_append_on_a_full_disk_keeps_reads",
        limits::torn_append_on_a_full_disk_keeps_reads,
    ),
    (
        "limits_an_add_never_lists_the_folder",
        limits::an_add_never_lists_the_folder,
    ),
    (
        "limits_durable_write_without_folder_fsync_fails",
        limits::durable_write_without_folder_fsync_fails,
    ),
    (
        "contention_other_caches_readers_do_not_block_a_writer",
        contention::other_caches_readers_do_not_block_a_writer,
    ),
    (
        "contention_a_reader_waiting_for_python_blocks_no_other_cache",
        contention::a_reader_waiting_for_python_blocks_no_other_cache,
    ),
    (
        "contention_a_queued_caller_keeps_its_own_timeout",
        contention::a_queued_caller_keeps_its_own_timeout,
    ),
    (
        "contention_a_python_holder_of_a_recreated_lock_file_keeps_us_out",
        contention::a_python_holder_of_a_recreated_lock_file_keeps_us_out,
    ),
    (
        "contention_invalidate_waits_for_the_lock",
        contention::invalidate_waits_for_the_lock,
    ),
    (
        "removes_concurrent_adds_and_removes_lose_nothing",
        removes::concurrent_adds_and_removes,
    ),
    (
        "removes_crash_leaves_a_file_python_reads",
        removes::kill_during_removes,
    ),
    (
        "single_flight_processes_fetch_each_id_once",
        single_flight::fetch_each_id_once,
    ),
    (
        "single_flight_refresh_all_fetches_once",
        single_flight::refresh_all_fetches_once,
    ),
    (
        "single_flight_killed_fetcher_hands_over",
        single_flight::killed_fetcher_hands_over,
    ),
];

fn child_role(role: &str) {
    match role {
        "writers.adder" => writers::child_adder(),
        "writers.threaded_adder" => writers::child_threaded_adder(),
        "writers.destroyer" => writers::child_destroyer(),
        "writers.loader" => writers::child_loader(),
        "readers.writer" => readers::child_writer(),
        "readers.reader" => readers::child_reader(),
        "crash.rewriter" => crash::child_rewriter(),
        "crash.adder" => crash::child_adder(),
        "crash.big_adder" => crash::child_big_adder(),
        "faults.fsize" => faults::child_fsize(),
        "faults.nobody" => faults::child_nobody(),
        "faults.reader" => faults::child_reader(),
        "faults.remover_victim" => faults::child_remover_victim(),
        "locking.holder" => locking::child_holder(),
        "locking.exclusive_loop" => locking::child_exclusive_loop(),
        "locking.vandal" => locking::child_vandal(),
        "locking.waiter" => locking::child_waiter(),
        "locking.forker" => locking::child_forker(),
        "locking.probe" => locking::child_probe(),
        "locking.kept_forker" => locking::child_kept_forker(),
        "locking.busy_reader" => locking::child_busy_reader(),
        "limits.no_memory" => limits::child_no_memory(),
        "limits.fds" => limits::child_fds(),
        "contention.busy_reader" => contention::child_busy_reader(),
        "contention.reader" => contention::child_reader(),
        "contention.python_like_holder" => contention::child_python_like_holder(),
        "contention.patient_writer" => contention::child_patient_writer(),
        "contention.quick_caller" => contention::child_quick_caller(),
        "contention.timed_adder" => contention::child_timed_adder(),
        "contention.invalidator" => contention::child_invalidator(),
        "removes.mixer" => removes::child_mixer(),
        "removes.remover" => removes::child_remover(),
        "single_flight.getter" => single_flight::child_getter(),
        "single_flight.refresher" => single_flight::child_refresher(),
        "single_flight.stuck_fetcher" => single_flight::child_stuck_fetcher(),
        "single_flight.taker" => single_flight::child_taker(),
        "splice.adder" => splice::child_adder(),
        "splice.mixed_adder" => splice::child_mixed_adder(),
        other => panic!("unknown child role {other:?}"),
    }
}

fn main() {
    if let Ok(role) = std::env::var(support::ROLE_VAR) {
        // A child outliving a failed test would run on forever.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        child_role(&role);
        std::process::exit(0);
    }
    println!(
        "reliability tests, seed {} (ASSET_CACHE_SEED), soak {}",
        support::seed(),
        support::soak()
    );
    runner::run("reliability", TESTS);
}
