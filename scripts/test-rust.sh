#!/usr/bin/env bash
# The Rust core: formatting, lints, documentation without a warning, unit and
# integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
cargo test
# The README's Rust example (examples/hello.rs), run where it writes nothing
# the checkout keeps.
out=$(d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && cargo build --quiet --example hello \
      && (cd "$d" && "$OLDPWD/target/debug/examples/hello"))
[ "$out" = '"GPT-4o"' ] || { echo "examples/hello.rs printed: $out"; exit 1; }
bash scripts/check-readme.sh
