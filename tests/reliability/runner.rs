//! The test runner shared by the harness-less suites (reliability, redis):
//! each re-runs itself as child processes, so it cannot use libtest.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// A named test.
pub type Test = (&'static str, fn());

/// Runs the tests whose names contain one of the command line's filters
/// (all without one), prints `<suite>: N passed, N failed`, and exits 1 when
/// any failed or none matched.
pub fn run(suite: &str, tests: &[Test]) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    let all = Instant::now();
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        println!("test {name} ...");
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => println!(
                "test {name} ... ok ({:.1} s)",
                start.elapsed().as_secs_f64()
            ),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    println!(
        "{suite}: {} passed, {} failed, in {:.1} s",
        ran - failed.len(),
        failed.len(),
        all.elapsed().as_secs_f64()
    );
    if ran == 0 {
        println!("no test matched {filters:?}");
        std::process::exit(1);
    }
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
