#!/usr/bin/env bash
# Reliability: concurrent writers, readers during writes, SIGKILL during
# saves and adds, write faults (file-size limit, full tmpfs, read-only
# folder, permission denied, vanishing folder) and lock behaviour, each with
# child processes (tests/reliability/). Built in release: the crash and
# concurrency tests need real speed to hit the races they look for.
# Needs root (tmpfs mounts, dropping privileges). ASSET_CACHE_SOAK=1 runs the
# long variants; ASSET_CACHE_SEED=<n> replays a run's random choices.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test reliability
