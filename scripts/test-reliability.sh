#!/usr/bin/env bash
# Reliability: concurrent writers, readers during writes, SIGKILL during
# saves, adds and splices into a file the Python original wrote (beside the
# real original, from the venv of scripts/python-original.sh), write faults
# (file-size limit, full tmpfs, read-only folder, permission denied,
# vanishing folder) and lock behaviour, each with
# child processes (tests/reliability/). Built in release: the crash and
# concurrency tests need real speed to hit the races they look for.
# Needs root (tmpfs mounts, dropping privileges). ASSET_CACHE_SOAK=1 runs the
# long variants; ASSET_CACHE_SEED=<n> replays a run's random choices.
set -euo pipefail
cd "$(dirname "$0")/.."
# The splice tests run the real Python original beside our writers.
. scripts/python-original.sh
ensure_python_original
cargo test --release --test reliability
