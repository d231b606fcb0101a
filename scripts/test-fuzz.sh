#!/usr/bin/env bash
# Test 8 of issue 3: coverage-guided fuzzing of the C ABI (add, add_list, get,
# file loading) with cargo-fuzz (libFuzzer + ASan, whose leak check is on), and
# of the file format's pure functions called directly (target `format`),
# then the enormous-input tests of tests/hostile.rs (its quick tests, names and
# symlinks, run with the rust suite).
#
# Each target starts from its seed corpus in fuzz/corpus/<target>/ (kept in
# the repo, small) plus what earlier runs found in target/fuzz-corpus/<target>/
# (not committed), and runs for FUZZ_SECONDS (default 15) seconds. A longer run:
#   FUZZ_SECONDS=600 bash scripts/test-fuzz.sh
# A finding is saved in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# (cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 allows them on stable.)
set -euo pipefail
# grep -q exits at the first match; under pipefail the writer's SIGPIPE
# would then fail the pipeline, so read all of the input.
quiet_grep() { grep "$@" >/dev/null; }
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${FUZZ_SECONDS:-15}

if ! cargo fuzz --version 2>/dev/null | quiet_grep '^cargo-fuzz 0\.13\.'; then
  cargo install cargo-fuzz --version '^0.13' --locked
fi
export RUSTC_BOOTSTRAP=1
targets=(add add_list get load_file format)
(cd fuzz && cargo fuzz build)
failed=()
for t in "${targets[@]}"; do
  echo "--- fuzz: $t for ${seconds} s ---"
  mkdir -p "target/fuzz-corpus/$t"
  log="target/fuzz-corpus/$t.log"
  # The targets' scratch cache folders go here, removed after each run.
  scratch="$PWD/target/fuzz-tmp"
  rm -rf "$scratch" && mkdir -p "$scratch"
  # The first folder receives new inputs; the committed seeds stay as they are.
  if (cd fuzz && TMPDIR="$scratch" cargo fuzz run "$t" "../target/fuzz-corpus/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1) >"$log" 2>&1; then
    grep -E '^(Done|stat::peak_rss_mb)' "$log" || true
  else
    tail -n 60 "$log"
    failed+=("$t")
  fi
  rm -rf "$scratch"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi

echo "--- enormous inputs (tests/hostile.rs, ignored in the rust suite) ---"
# Without RUSTC_BOOTSTRAP, which would make cargo rebuild everything the rust
# suite already built.
env -u RUSTC_BOOTSTRAP cargo test --test hostile -- --ignored --test-threads=2
