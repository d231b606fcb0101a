#!/usr/bin/env bash
# Builds the packages users install into target/packages/, replacing those
# of earlier versions:
#   deb  libasset-cache0_<v>-1_<arch>.deb, libasset-cache-dev_<v>-1_<arch>.deb and
#        libasset-cache0-dbgsym_<v>-1_<arch>.deb (the shared library's debug info)
#        (CPack's DEB generator over the CMake install; see cmake/debian.cmake)
#   npm  asset-cache-<v>.tgz (`npm pack` of bindings/node, with the prebuilt,
#        stripped library for this platform inside)
#   usage: scripts/package.sh [deb|npm]...     (default: all of them)
# All of them reuse the one `cargo build --release` in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
out=$repo/target/packages
mkdir -p "$out"
[ $# -gt 0 ] || set -- deb npm

for kind in "$@"; do
  case $kind in
    deb)
      # Only this version's packages, so that a glob over them is unambiguous.
      rm -f "$out"/libasset-cache*.deb
      cmake -S . -B build/deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
      cmake --build build/deb
      rm -rf build/deb/cpack
      # CPack 3.25 generates the shlibs file for every component, so it also
      # inspects the -dbgsym package's .debug file (an ELF without a soname,
      # as every debug file) and warns, for developers, that it leaves it out
      # of shlibs, which is right. Only that warning is silenced.
      (cd build/deb && cpack -G DEB -B "$repo/build/deb/cpack" -D CMAKE_SUPPRESS_DEVELOPER_WARNINGS=ON >/dev/null)
      cp build/deb/cpack/*.deb "$out/"
      ;;
    npm)
      cargo build --release --lib
      rm -f "$out"/asset-cache-*.tgz
      # prepack (bindings/node/scripts/prebuild.js) copies the library in,
      # postpack removes it again.
      (cd bindings/node && npm pack --silent --pack-destination "$out" >/dev/null)
      ;;
    *)
      echo "package.sh: unknown package kind '$kind' (deb, npm)" >&2
      exit 2
      ;;
  esac
done
ls -l "$out"
