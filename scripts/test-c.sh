#!/usr/bin/env bash
# The C and C++ examples under ctest, linked once against the shared and once
# against the static library.
set -euo pipefail
cd "$(dirname "$0")/.."
for link in shared static; do
  echo "--- examples-c, $link library ---"
  cmake -S examples-c -B "build/c-$link" -DASSET_CACHE_LINK=$link -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "build/c-$link" -j2
  ctest --test-dir "build/c-$link" --output-on-failure
done
