#!/usr/bin/env bash
# The Rust core: formatting, lints, documentation without a warning, unit and
# integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
cargo test
bash scripts/check-readme.sh
