#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI runs.
# Installs what a fresh machine lacks (scripts/install-deps.sh) first.
# Each suite is one script; a failing suite fails the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

suites=(
  rust          # cargo fmt --check, clippy -D warnings, cargo test
  c             # examples-c and the C++ wrapper under ctest: shared, static, valgrind, ASan+UBSan
  install       # install into a temp prefix; build and run a consumer via pkg-config and find_package
  go            # bindings/go: go vet, go test -race (leak loop included)
  interop       # tests/interop: the real Python original (PyPI) and JSON fidelity, pytest in a venv
  python        # bindings/python: the wheel in a fresh venv; drop-in vs aixplain 0.2.48, its SDK path, 8x100 adds, bench
  fuzz          # cargo-fuzz on the C ABI (FUZZ_SECONDS each, default 15), enormous inputs
  node          # bindings/node: npm ci, tsc on index.d.ts, node --test (leak loops included)
  packages      # the .deb (dpkg -i, build, dpkg -r) and npm tarball, installed outside the checkout; README quick starts
  reliability   # tests/reliability: concurrent writers, readers, SIGKILL, faults, locking (release)
  redis         # the Redis backend on private redis-servers: fleet of processes, SIGKILL/SIGSTOP, auth, 100k store
  bench-smoke   # benchmark harness (Rust + C driver) builds and runs every workload at N=200
)

failed=()
for s in "${suites[@]}"; do
  echo "=== suite: $s ==="
  start=$SECONDS
  if bash "scripts/test-$s.sh"; then
    echo "=== suite $s: passed in $((SECONDS - start)) s ==="
  else
    echo "=== suite $s: FAILED in $((SECONDS - start)) s ==="
    failed+=("$s")
  fi
done

passed=$(( ${#suites[@]} - ${#failed[@]} ))
echo "suites: ${passed} passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed suites: ${failed[*]}"
  exit 1
fi
