#!/usr/bin/env bash
# Builds the library and installs it for C and C++ programs under PREFIX
# (default /usr/local): shared library with its soname links, static library,
# headers, pkg-config files and the CMake package. See CMakeLists.txt.
#   usage: scripts/install.sh [PREFIX]      (DESTDIR is honoured, for packaging)
set -euo pipefail
prefix=${1:-/usr/local}
# Said up front: a bare `scripts/install.sh` writes into /usr/local.
echo "scripts/install.sh: installing into $prefix (scripts/install.sh PREFIX for another)" >&2
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cmake -S . -B build/lib -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/lib
cmake --install build/lib --prefix "$prefix"
