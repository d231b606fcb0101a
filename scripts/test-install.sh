#!/usr/bin/env bash
# Installs the library into a temporary prefix (scripts/install.sh, the
# documented command) and builds tests/consumer against the installed copy
# only: through pkg-config and through find_package(asset_cache), each linked
# shared and static, in C and in C++; every program is run. Also checks the
# installed layout, the soname, DESTDIR staging, and that the CMake package
# still works after the prefix is moved.
set -euo pipefail
# grep -q exits at the first match; under pipefail the writer's SIGPIPE
# would then fail the pipeline, so read all of the input.
quiet_grep() { grep "$@" >/dev/null; }
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH
for tool in cmake pkg-config readelf cc c++; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
version=$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -1)
major=${version%%.*}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

echo "--- install into $prefix ---"
bash scripts/install.sh "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
lib=$prefix/lib
for f in include/asset_cache.h include/asset_cache.hpp lib/libasset_cache.a \
         "lib/libasset_cache.so.$version" lib/pkgconfig/asset_cache.pc \
         lib/pkgconfig/asset_cache-static.pc lib/cmake/asset_cache/asset_cache-config.cmake \
         lib/cmake/asset_cache/asset_cache-config-version.cmake; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$lib/libasset_cache.so.$major")" = "libasset_cache.so.$version" ] \
  || fail "libasset_cache.so.$major is not a symlink to libasset_cache.so.$version"
[ "$(readlink "$lib/libasset_cache.so")" = "libasset_cache.so.$major" ] \
  || fail "libasset_cache.so is not a symlink to libasset_cache.so.$major"
readelf -d "$lib/libasset_cache.so.$version" | quiet_grep "(SONAME).*\[libasset_cache.so.$major\]" \
  || fail "the installed library's soname is not libasset_cache.so.$major"
cmp -s include/asset_cache.h "$prefix/include/asset_cache.h" || fail "installed header differs"
# The installed libraries are stripped (cargo's release build keeps debug
# info: about 23 MB and 86 MB unstripped, 3 MB and 46 MB stripped). Checked by installing the unstripped
# copies: both were reported.
for f in "lib/libasset_cache.so.$version" lib/libasset_cache.a; do
  if readelf -S --wide "$prefix/$f" | quiet_grep -E '\.debug_(info|line)'; then
    fail "$f holds debug info: not stripped"
  fi
done
[ -z "$(readelf --wide -s "$prefix/lib/libasset_cache.so.$version" | sed -n '/Symbol table .\.symtab/,$p')" ] \
  || fail "libasset_cache.so.$version keeps its full symbol table (.symtab)"
nm -D --defined-only "$prefix/lib/libasset_cache.so.$version" | quiet_grep ' T asset_cache_open$' \
  || fail "the stripped library lost its exported functions"
if grep -rq "$repo" "$prefix/lib/pkgconfig" "$prefix/lib/cmake"; then
  fail "installed package files point into the source tree"
fi

# DESTDIR stages an install for packaging: files under DESTDIR, paths without it.
DESTDIR=$work/stage cmake --install build/lib --prefix /opt/ac >/dev/null
[ -f "$work/stage/opt/ac/lib/libasset_cache.so.$version" ] || fail "DESTDIR: library not staged"
grep -q '^prefix=/opt/ac$' "$work/stage/opt/ac/lib/pkgconfig/asset_cache.pc" \
  || fail "DESTDIR: asset_cache.pc does not say prefix=/opt/ac"

# check_shared PROGRAM: asks for the soname, and resolves it into the prefix.
check_shared() {
  readelf -d "$1" | quiet_grep "(NEEDED).*\[libasset_cache.so.$major\]" \
    || fail "$1 does not record libasset_cache.so.$major"
  ldd "$1" | quiet_grep "libasset_cache.so.$major => $2/" \
    || fail "$1 does not load the library from $2: $(ldd "$1" | grep asset_cache)"
}
check_static() {
  if readelf -d "$1" | quiet_grep "NEEDED.*libasset_cache"; then fail "$1 needs the shared library"; fi
}
# run_ok PROGRAM: runs it in a scratch folder of its own.
run_ok() {
  local dir=$work/run/$(basename "$1")
  mkdir -p "$dir"
  "$1" "$dir" || fail "$1 failed"
}

# run_hello PROGRAM: the README example, run in a folder of its own (it uses
# ".cache" there), must print the asset it added.
run_hello() {
  local dir=$work/run/$(basename "$1")
  mkdir -p "$dir"
  local out
  out=$(cd "$dir" && "$1" 2>&1) || fail "$1 failed: $out"
  grep -qF '{"id":"m1","name":"GPT-4o"}' <<<"$out" || fail "$1 printed: $out"
  [ -f "$dir/.cache/models.json" ] || fail "$1 wrote no .cache/models.json"
}

echo "--- pkg-config ---"
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion asset_cache)" = "$version" ] || fail "pkg-config version"
pkg-config --static --libs asset_cache | quiet_grep -- "-lpthread" || fail "Libs.private missing"
libdir=$(pkg-config --variable=libdir asset_cache)
b=$work/pc
mkdir -p "$b"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
{
  cc -Wall -Wextra -Werror -pedantic -o "$b/c-shared" tests/consumer/consumer.c \
    $(pkg-config --cflags --libs asset_cache) -Wl,-rpath,"$libdir"
  c++ -std=c++17 -Wall -Wextra -Werror -pedantic -o "$b/cpp-shared" tests/consumer/consumer.cpp \
    $(pkg-config --cflags --libs asset_cache) -Wl,-rpath,"$libdir"
  cc -Wall -Wextra -Werror -pedantic -o "$b/c-static" tests/consumer/consumer.c \
    $(pkg-config --cflags --libs asset_cache-static)
  c++ -std=c++17 -Wall -Wextra -Werror -pedantic -o "$b/cpp-static" tests/consumer/consumer.cpp \
    $(pkg-config --cflags --libs asset_cache-static)
  cc -Wall -Wextra -Werror -pedantic -o "$b/hello-shared" tests/consumer/hello.c \
    $(pkg-config --cflags --libs asset_cache) -Wl,-rpath,"$libdir"
  cc -Wall -Wextra -Werror -pedantic -o "$b/hello-static" tests/consumer/hello.c \
    $(pkg-config --cflags --libs asset_cache-static)
} || fail "pkg-config builds"
for p in c-shared cpp-shared; do check_shared "$b/$p" "$lib"; run_ok "$b/$p"; done
for p in c-static cpp-static; do check_static "$b/$p"; run_ok "$b/$p"; done
check_shared "$b/hello-shared" "$lib"; run_hello "$b/hello-shared"
check_static "$b/hello-static"; run_hello "$b/hello-static"
unset PKG_CONFIG_PATH

echo "--- find_package(asset_cache) ---"
for link in shared static; do
  b=$work/cmake-$link
  if cmake -S tests/consumer -B "$b" -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_LINK=$link >/dev/null \
     && cmake --build "$b" >/dev/null; then
    for p in consumer consumer_cpp hello hello_cpp; do
      if [ $link = shared ]; then check_shared "$b/$p" "$lib"; else check_static "$b/$p"; fi
      case $p in hello*) run_hello "$b/$p" ;; *) run_ok "$b/$p" ;; esac
    done
  else
    fail "find_package build ($link)"
  fi
done

# The soname only changes with the major version, and so does compatibility.
mkdir -p "$work/future" && sed "s/find_package(asset_cache 0.1 /find_package(asset_cache $((major + 1)).0 /" \
  tests/consumer/CMakeLists.txt >"$work/future/CMakeLists.txt"
cp tests/consumer/consumer.c tests/consumer/consumer.cpp "$work/future/"
if cmake -S "$work/future" -B "$work/future/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  fail "find_package accepted version $((major + 1)).0 from a $version install"
fi

echo "--- the CMake package after moving the prefix ---"
mv "$prefix" "$work/moved"
b=$work/cmake-moved
if cmake -S tests/consumer -B "$b" -DCMAKE_PREFIX_PATH="$work/moved" >/dev/null \
   && cmake --build "$b" >/dev/null; then
  check_shared "$b/consumer" "$work/moved/lib"
  run_ok "$b/consumer"
else
  fail "find_package from a moved prefix"
fi

# The README shows tests/consumer/hello.c and hello.cpp: where it names one,
# it must show that file as it is, so its examples are the ones tested here.
for f in tests/consumer/hello.c tests/consumer/hello.cpp; do
  if grep -qF "$f" README.md && ! python3 -c 'import sys; sys.exit(open(sys.argv[2]).read() not in open(sys.argv[1]).read())' README.md "$f"; then
    fail "README.md names $f but does not show it as it is"
  fi
done

if [ "$fails" -ne 0 ]; then echo "install: $fails check(s) failed"; exit 1; fi
echo "install: all checks passed"
