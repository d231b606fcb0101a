#!/usr/bin/env bash
# The Rust core: formatting, lints, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
bash scripts/check-readme.sh
