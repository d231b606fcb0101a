//! Redis backend tests: many processes standing for many hosts, a server
//! killed, restarted and stopped under writes, refused credentials, planted
//! keys, bad URLs, a large store. Each test starts the servers it must
//! control (private: 127.0.0.1, own port and folder); the others use the
//! shared server that scripts/test-redis.sh starts
//! (`ASSET_CACHE_REDIS_URL`).
//!
//! One binary with its own `main` (no libtest harness): run with
//! `ASSET_CACHE_REDIS_ROLE` set, it becomes one of the child processes the
//! tests start. Run: `scripts/test-redis.sh`, or
//! `cargo test --test redis [-- <name filter>...]` with a server's URL in
//! `ASSET_CACHE_REDIS_URL`.

mod edits;
mod faults;
mod fleet;
mod flight;
mod large;
mod server;
mod support;
mod tls;

#[path = "../reliability/runner.rs"]
mod runner;

use runner::Test;

const TESTS: &[Test] = &[
    (
        "fleet_eight_hosts_lose_no_add",
        fleet::eight_hosts_lose_no_add,
    ),
    (
        "flight_eight_hosts_fetch_each_id_once",
        flight::eight_hosts_fetch_each_id_once,
    ),
    (
        "flight_refresh_all_from_eight_hosts_fetches_once",
        flight::refresh_all_from_eight_hosts_fetches_once,
    ),
    (
        "flight_a_killed_fetcher_is_taken_over_after_its_lease",
        flight::a_killed_fetcher_is_taken_over_after_its_lease,
    ),
    (
        "flight_a_slow_live_fetcher_keeps_its_claim_past_the_lease",
        flight::a_slow_live_fetcher_keeps_its_claim_past_the_lease,
    ),
    (
        "flight_the_file_backends_scenarios_on_redis",
        flight::the_file_backends_scenarios_on_redis,
    ),
    (
        "flight_a_claim_wait_on_a_stopped_server_fails_within_the_timeout",
        flight::a_claim_wait_on_a_stopped_server_fails_within_the_timeout,
    ),
    (
        "edits_remove_and_the_size_cap_across_two_hosts",
        edits::remove_and_the_size_cap_across_two_hosts,
    ),
    (
        "faults_sigkill_restart_keeps_every_acknowledged_add",
        faults::sigkill_restart_keeps_every_acknowledged_add,
    ),
    (
        "faults_sigstop_fails_within_the_timeout",
        faults::sigstop_fails_within_the_timeout,
    ),
    (
        "faults_sigstop_fails_every_queued_call_of_a_handle_within_the_timeout",
        faults::sigstop_fails_every_queued_call_of_a_handle_within_the_timeout,
    ),
    (
        "faults_a_restart_from_older_data_is_read_whole",
        faults::a_restart_from_older_data_is_read_whole,
    ),
    (
        "faults_an_add_refused_for_memory_says_so",
        faults::an_add_refused_for_memory_says_so,
    ),
    (
        "faults_wrong_password_and_no_password_are_refused",
        faults::wrong_password_and_no_password_are_refused,
    ),
    (
        "faults_wrong_type_key_is_refused_by_name",
        faults::wrong_type_key_is_refused_by_name,
    ),
    (
        "faults_unusable_urls_and_absent_servers",
        faults::unusable_urls_and_absent_servers,
    ),
    (
        "faults_a_server_that_is_not_redis_is_named_as_such",
        faults::a_server_that_is_not_redis_is_named_as_such,
    ),
    (
        "tls_rediss_with_a_private_ca",
        tls::rediss_with_a_private_ca,
    ),
    (
        "large_hundred_thousand_assets_in_slices",
        large::hundred_thousand_assets_in_slices,
    ),
];

fn child_role(role: &str) {
    match role {
        "fleet.adder" => fleet::child_adder(),
        "large.loader" => large::child_loader(),
        "flight.getter" => flight::child_getter(),
        "flight.refresher" => flight::child_refresher(),
        "flight.claimer" => flight::child_claimer(),
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
    runner::run("redis", TESTS);
}
