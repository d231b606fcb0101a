#!/usr/bin/env bash
# The packages users install, each built by scripts/package.sh (reusing the one
# `cargo build --release`) and installed from its artefact, outside the checkout:
#
#  1. The README's quick starts (the ```sh blocks marked <!-- quickstart: ... -->),
#     run as written from the checkout, with HOME a scratch folder (so `~/hello-c`
#     and the like are too); their programs' output is checked.
#  2. The Debian packages: their files, control fields, stripped libraries,
#     the -dbgsym package's debug info under the library's build id, and
#     lintian (Debian's checker: no error or warning);
#     installed with dpkg -i, hello.c and hello.cpp (tests/consumer) built with
#     pkg-config and with find_package (shared and static), the Go example built
#     the default way (and with the old asset_cache_pkgconfig tag) and still
#     running after its source folder moves; then dpkg -r, which must leave none
#     of the packages' files behind.
#  3. The npm tarball: installed into an empty folder with no Rust on PATH and no
#     checkout to fall back on (HOME elsewhere, ASSET_CACHE_LIB unset), loading
#     its bundled library; the README example run; a clear error naming the
#     platform where the package ships no library.
#
# Needs root (dpkg -i), as the test command does anyway; the packages must not
# be installed before (the suite removes them at the end, also on failure).
set -euo pipefail
# grep -q exits at the first match; under pipefail the writer's SIGPIPE
# would then fail the pipeline, so read all of the input.
quiet_grep() { grep "$@" >/dev/null; }
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH ASSET_CACHE_LIB CGO_LDFLAGS CGO_CFLAGS
export GOFLAGS="-buildvcs=false"
# The quick starts run with HOME elsewhere: keep rustup and cargo where they are.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"

for tool in cmake pkg-config cc c++ go node npm dpkg-shlibdeps objcopy file lintian; do
  command -v "$tool" >/dev/null || { bash scripts/install-deps.sh; break; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "test-packages: needs root to install the Debian packages (dpkg -i); run as root" >&2
  exit 1
fi

version=$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -1)
major=${version%%.*}
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=/usr/lib/$triplet
rt_pkg=libasset-cache$major
dev_pkg=libasset-cache-dev
dbg_pkg=$rt_pkg-dbgsym
pkgs=target/packages
rt_deb=$pkgs/${rt_pkg}_${version}-1_$arch.deb
dev_deb=$pkgs/${dev_pkg}_${version}-1_$arch.deb
dbg_deb=$pkgs/${dbg_pkg}_${version}-1_$arch.deb
tgz=$pkgs/asset-cache-$version.tgz

for p in $rt_pkg $dev_pkg $dbg_pkg; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ]; then
    echo "test-packages: $p is already installed; remove it first (dpkg -r $dbg_pkg $dev_pkg $rt_pkg)" >&2
    exit 1
  fi
done

# dpkg ARGS..., waiting (up to 5 minutes) while another apt or dpkg holds
# dpkg's lock, as `apt-get -o DPkg::Lock::Timeout` would.
dpkg_wait() {
  local i err
  for ((i = 0; i < 300; i++)); do
    # stdout goes through (dpkg --print-architecture), stderr is kept.
    if { err=$(dpkg "$@" 2>&1 >&3 3>&-); } 3>&1; then return 0; fi
    case $err in *"lock"*) sleep 1 ;; *) echo "$err" >&2; return 1 ;; esac
  done
  echo "dpkg $*: dpkg's lock stayed busy for 5 minutes: $err" >&2
  return 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-packages.XXXXXX")
cleanup() {
  dpkg_wait --purge $dbg_pkg $dev_pkg $rt_pkg >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

rm -f "$pkgs"/*.deb "$pkgs"/*.tgz
bash scripts/package.sh deb npm >"$work/package.log" 2>&1 || { cat "$work/package.log"; exit 1; }
for f in "$rt_deb" "$dev_deb" "$dbg_deb" "$tgz"; do
  [ -f "$f" ] || { ls -l "$pkgs"; echo "package.sh made no $f" >&2; exit 1; }
done

# The caches of Go and npm stay where they are (HOME changes below).
GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE) npm_config_cache=$(npm config get cache)
export GOCACHE GOMODCACHE npm_config_cache

hello_c='{"id":"m1","name":"GPT-4o"}'
hello_cpp=$(printf '%s\n' "$hello_c" 'm2: not cached' '1 asset(s)')
hello_go=$(printf '%s\n' 'first' 'm2: not cached' 'true true asset has no "id" member')
hello_node=$(printf '%s\n' 'first, updated' '{"id":"m2","name":"second"}' '2 assets, valid: true' \
  'undefined' 'ASSET_CACHE_MISSING_ID 5')

echo "--- 1. the README's quick starts ---"
# sudo as the README writes it (this runs as root already), and dpkg waiting
# for dpkg's lock when another apt or dpkg holds it.
mkdir -p "$work/bin" "$work/home"
printf '#!/bin/sh\nexec "$@"\n' >"$work/bin/sudo"
{ declare -f dpkg_wait; printf 'dpkg() { /usr/bin/dpkg "$@"; }\ndpkg_wait "$@"\n'; } >"$work/bin/dpkg"
sed -i '1i #!/usr/bin/env bash' "$work/bin/dpkg"
chmod +x "$work/bin/sudo" "$work/bin/dpkg"
python3 - "$work/quickstart" <<'PY'
import os, re, sys
out = sys.argv[1]
os.makedirs(out)
readme = open("README.md").read()
blocks = re.findall(r"<!-- quickstart: ([\w+-]+) -->\n```sh\n(.*?)```", readme, re.S)
names = [n for n, _ in blocks]
for need in ("c", "go", "node"):
    if need not in names:
        sys.exit(f"README.md has no quick start marked <!-- quickstart: {need} -->")
for i, (name, body) in enumerate(blocks):
    open(os.path.join(out, f"{i:02d}-{name}.sh"), "w").write(body)
PY
for block in "$work"/quickstart/*.sh; do
  name=$(basename "$block" .sh)
  name=${name#*-}
  echo "quick start: $name"
  if ! (cd "$repo" && HOME="$work/home" PATH="$work/bin:$PATH" bash -euo pipefail "$block") \
      >"$work/qs-$name.out" 2>"$work/qs-$name.err"; then
    fail "the README's $name quick start failed:"
    cat "$work/qs-$name.out" "$work/qs-$name.err"
    continue
  fi
  case $name in
    c) want="$hello_c"$'\n'"$hello_cpp" ;;
    go) want=$hello_go ;;
    node) want=$hello_node ;;
    *) want="" ;;
  esac
  # The programs' output ends what the block prints (npm install says what it added).
  if [ -n "$want" ] && ! diff -u <(printf '%s\n' "$want") \
      <(tail -n "$(printf '%s\n' "$want" | wc -l)" "$work/qs-$name.out"); then
    fail "the README's $name quick start printed something else (above)"
  fi
done

echo "--- 2. the Debian packages ---"
contents() { dpkg-deb --fsys-tarfile "$1" | tar -t | sed 's|^\./|/|' | grep -v '/$' | sort; }
docs() { printf '%s\n' "/usr/share/doc/$1/copyright" "/usr/share/doc/$1/changelog.Debian.gz" \
  "/usr/share/lintian/overrides/$1"; }
want_rt=$( (printf '%s\n' "$libdir/libasset_cache.so.$major" "$libdir/libasset_cache.so.$version"; docs $rt_pkg) | sort)
want_dev=$( (docs $dev_pkg; printf '%s\n' /usr/include/asset_cache.h /usr/include/asset_cache.hpp \
  "$libdir/libasset_cache.so" "$libdir/libasset_cache.a" \
  "$libdir/pkgconfig/asset_cache.pc" "$libdir/pkgconfig/asset_cache-static.pc" \
  "$libdir/cmake/asset_cache/asset_cache-config.cmake" \
  "$libdir/cmake/asset_cache/asset_cache-config-version.cmake") | sort)
diff -u <(echo "$want_rt") <(contents "$rt_deb") || fail "$rt_pkg: files differ (above)"
diff -u <(echo "$want_dev") <(contents "$dev_deb") || fail "$dev_pkg: files differ (above)"
[ "$(dpkg-deb -f "$dbg_deb" Depends)" = "$rt_pkg (= $version-1)" ] || fail "$dbg_pkg must depend on $rt_pkg (= $version-1)"
dpkg-deb -f "$rt_deb" Depends | quiet_grep 'libc6 (>= ' || fail "$rt_pkg does not depend on libc6"
[ "$(dpkg-deb -f "$dev_deb" Depends)" = "$rt_pkg (= $version-1)" ] \
  || fail "$dev_pkg must depend on exactly $rt_pkg (= $version-1): $(dpkg-deb -f "$dev_deb" Depends)"
dpkg-deb --ctrl-tarfile "$rt_deb" | tar -xO ./shlibs | quiet_grep "^libasset_cache $major $rt_pkg " \
  || fail "$rt_pkg has no shlibs entry"
dpkg-deb --ctrl-tarfile "$rt_deb" | tar -xO ./triggers | quiet_grep '^activate-noawait ldconfig$' \
  || fail "$rt_pkg has no ldconfig trigger"
# Debian's own checker: no error, no warning (its overrides ship in the
# packages, each with its reason). Checked: before the copyright files,
# changelogs, trigger and 0644 library, it reported 6 errors.
if ! lint=$(lintian --fail-on error,warning --tag-display-limit 0 "$rt_deb" "$dev_deb" "$dbg_deb" 2>&1); then
  fail "lintian: $(grep -v 'running with root privileges' <<<"$lint")"
fi
mkdir "$work/x"
dpkg-deb -x "$rt_deb" "$work/x" && dpkg-deb -x "$dev_deb" "$work/x" && dpkg-deb -x "$dbg_deb" "$work/x"
so=$work/x$libdir/libasset_cache.so.$version
# The debug info under the library's build id, where gdb and debuginfod look.
build_id=$(readelf -n "$so" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$build_id" ] || fail "the packaged library has no build id"
want_dbg=$( (docs $dbg_pkg; echo "/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug") | sort)
diff -u <(echo "$want_dbg") <(contents "$dbg_deb") || fail "$dbg_pkg: files differ (above)"
readelf -d "$so" | quiet_grep "(SONAME).*\[libasset_cache.so.$major\]" || fail "packaged library: soname"
# Stripped: checked against the unstripped target/release copies, which fail both.
for f in "$so" "$work/x$libdir/libasset_cache.a"; do
  if readelf -S --wide "$f" | quiet_grep -E '\.debug_(info|line)'; then fail "$f: debug info packaged"; fi
done
file "$so" | quiet_grep ', stripped' || fail "packaged library not stripped: $(file "$so")"
debug=$work/x/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
readelf -S --wide "$debug" | quiet_grep -E '\.debug_info' || fail "$dbg_pkg holds no debug info"
readelf -n "$debug" | quiet_grep "Build ID: $build_id" || fail "$dbg_pkg's debug info is not the library's"
grep -q '^prefix=/usr$' "$work/x$libdir/pkgconfig/asset_cache.pc" || fail "asset_cache.pc: prefix is not /usr"
if grep -rlF -e "$repo" -e _CPack_Packages "$work/x$libdir/pkgconfig" "$work/x$libdir/cmake"; then
  fail "packaged pkg-config/CMake files name the build folder (above)"
fi
echo "sizes: $(stat -c '%n %s' "$so" "$work/x$libdir/libasset_cache.a" | sed "s|$work/x||g" | paste -sd' ')"

# The quick start installed them; install again (as the test the issue asks
# for: dpkg -i) if it did not.
if [ "$(dpkg-query -W -f='${db:Status-Status}' $dev_pkg 2>/dev/null || true)" != installed ]; then
  dpkg_wait -i "$rt_deb" "$dev_deb" >/dev/null
fi
dpkg_wait -i "$dbg_deb" >/dev/null
[ "$(pkg-config --modversion asset_cache)" = "$version" ] || fail "pkg-config does not find asset_cache $version"

# check_installed PROGRAM: loads the library the package installed (ldd may
# name it through /lib, the same folder on a merged-/usr system).
check_installed() {
  local loaded
  loaded=$(ldd "$1" | sed -n "s/^[[:space:]]*libasset_cache.so.$major => \([^ ]*\) .*/\1/p")
  [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$libdir/libasset_cache.so.$major")" ] \
    || fail "$1 does not load $libdir/libasset_cache.so.$major: $(ldd "$1" | grep asset_cache || true)"
}
check_static() {
  if readelf -d "$1" | quiet_grep "NEEDED.*libasset_cache"; then fail "$1 needs the shared library"; fi
}
# expect OUTPUT PROGRAM: runs it in a folder of its own.
expect() {
  local dir out
  mkdir -p "$work/run"
  dir=$(mktemp -d "$work/run/XXXXXX")
  out=$(cd "$dir" && "$2" 2>/dev/null) || { fail "$2 failed"; return; }
  [ "$out" = "$1" ] || fail "$2 printed: $out"
}

b=$work/pc && mkdir -p "$b"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
{
  cc -Wall -Wextra -Werror -o "$b/hello" tests/consumer/hello.c $(pkg-config --cflags --libs asset_cache)
  c++ -std=c++17 -Wall -Wextra -Werror -o "$b/hello_cpp" tests/consumer/hello.cpp \
    $(pkg-config --cflags --libs asset_cache)
  cc -o "$b/hello_static" tests/consumer/hello.c $(pkg-config --cflags --libs asset_cache-static)
} || fail "pkg-config builds against the package"
check_installed "$b/hello" && expect "$hello_c" "$b/hello"
check_installed "$b/hello_cpp" && expect "$hello_cpp" "$b/hello_cpp"
check_static "$b/hello_static" && expect "$hello_c" "$b/hello_static"

for link in shared static; do
  b=$work/cmake-$link
  # No CMAKE_PREFIX_PATH: the package's files are where CMake looks by itself.
  if cmake -S tests/consumer -B "$b" -DCONSUMER_LINK=$link >/dev/null && cmake --build "$b" >/dev/null; then
    for p in hello hello_cpp consumer consumer_cpp; do
      if [ $link = shared ]; then check_installed "$b/$p"; else check_static "$b/$p"; fi
    done
    expect "$hello_c" "$b/hello"
    expect "$hello_cpp" "$b/hello_cpp"
    mkdir -p "$work/run/consumer-$link"
    "$b/consumer" "$work/run/consumer-$link" >/dev/null || fail "consumer ($link, find_package) failed"
  else
    fail "find_package(asset_cache) build ($link)"
  fi
done

# Go: the module's source in a folder that then moves, as a checkout would.
# The default build links the installed library by its soname, so the program
# must not care. The same check on a build with -tags asset_cache_inrepo
# (which loads target/release of the checkout it was built in) must see it
# break: that is how this check is known to catch the breakage.
go_build() { # DIR TAGS: builds DIR/app/hello against DIR/checkout/bindings/go
  local dir=$1 tags=$2
  mkdir -p "$dir/checkout/target/release" "$dir/app"
  cp -r bindings "$dir/checkout/" && rm -rf "$dir/checkout/bindings/node"
  cp -r include "$dir/checkout/"
  cp -P target/release/libasset_cache.so target/release/libasset_cache.so.* "$dir/checkout/target/release/"
  cp bindings/go/example/main.go "$dir/app/"
  (
    cd "$dir/app"
    go mod init example.com/hello >/dev/null 2>&1
    go mod edit -require github.com/asset-cache/asset-cache/bindings/go@v0.0.0 \
      -replace "github.com/asset-cache/asset-cache/bindings/go=$dir/checkout/bindings/go"
    go build -tags "$tags" -o hello .
  )
}
for tags in "" asset_cache_pkgconfig; do
  d=$work/go-${tags:-default}
  if go_build "$d" "$tags"; then
    check_installed "$d/app/hello"
    mv "$d/checkout" "$d/moved"
    expect "$hello_go" "$d/app/hello"
  else
    fail "the Go example does not build (tags: '${tags}')"
  fi
done
go_build "$work/go-inrepo" asset_cache_inrepo || fail "the Go example does not build with -tags asset_cache_inrepo"

echo "--- dpkg -r ---"
listed=$( (contents "$rt_deb"; contents "$dev_deb"; contents "$dbg_deb") | sort -u)
dpkg_wait -r $dbg_pkg $dev_pkg $rt_pkg >/dev/null
# (A package with a postrm stays known as config-files until purged; it has
# no conffiles, so no file may remain.)
for p in $rt_pkg $dev_pkg $dbg_pkg; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  case $st in not-installed | config-files | "") ;; *) fail "$p is '$st' after dpkg -r" ;; esac
done
left=$(while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done <<<"$listed")
[ -z "$left" ] || fail "dpkg -r left files behind: $left"
[ ! -e "$libdir/cmake/asset_cache" ] || fail "dpkg -r left $libdir/cmake/asset_cache"
if ldconfig -p | quiet_grep libasset_cache; then fail "ldconfig still lists libasset_cache after dpkg -r"; fi
dpkg_wait --purge $dbg_pkg $dev_pkg $rt_pkg >/dev/null
# Controls, now that no library is installed: the moved default build fails
# (it did load the package's library), and so does a moved build with
# -tags asset_cache_inrepo (which loads target/release of the checkout it
# was built in; while the package was installed, ld.so fell back to it).
# So the "runs after moving" check above can fail.
for d in "$work/go-default/app" "$work/go-inrepo/app"; do
  [ "$d" = "$work/go-inrepo/app" ] && mv "$work/go-inrepo/checkout" "$work/go-inrepo/moved"
  if (cd "$d" && ./hello) >/dev/null 2>&1; then
    fail "control: $d/hello ran with its checkout moved and no library installed"
  fi
done
(cd "$work/go-inrepo" && mv moved checkout && cd app && ./hello >/dev/null 2>&1) \
  || fail "control: the -tags asset_cache_inrepo build does not run from its checkout"

echo "--- 3. the npm tarball ---"
listing=$(tar -tzf "$tgz" | sort)
want=$(printf 'package/%s\n' README.md index.d.ts index.js package.json platform.js \
  prebuilds/linux-x64-glibc/libasset_cache.so | sort)
[ "$listing" = "$want" ] || { fail "the tarball's files differ:"; diff <(echo "$want") <(echo "$listing") || true; }
app=$work/npm-app
mkdir -p "$app" "$work/npm-home"
# An empty folder; PATH without cargo or rustc; HOME elsewhere.
node_bin=$(dirname "$(command -v node)")
npm_env=(env -u ASSET_CACHE_LIB HOME="$work/npm-home" PATH="$node_bin:/usr/bin:/bin")
if "${npm_env[@]}" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
  fail "cargo or rustc is reachable on the PATH used for the npm install"
fi
(
  cd "$app"
  "${npm_env[@]}" npm init -y >/dev/null
  "${npm_env[@]}" npm install --no-audit --no-fund "$repo/$tgz" >/dev/null
) || fail "npm install of the tarball failed"
cp bindings/node/example.js "$app/"
out=$(cd "$app" && "${npm_env[@]}" node example.js) || fail "example.js failed from the tarball"
[ "$out" = "$hello_node" ] || fail "example.js from the tarball printed: $out"
loaded=$(cd "$app" && "${npm_env[@]}" node -p "require('asset-cache').libraryPath()")
[ "$loaded" = "$app/node_modules/asset-cache/prebuilds/linux-x64-glibc/libasset_cache.so" ] \
  || fail "the installed package loads $loaded, not its bundled library"
# The bundled library is this version's (npm pack copies whatever target/release holds).
libversion=$(cd "$app" && "${npm_env[@]}" node -p "require('asset-cache').version()")
[ "$libversion" = "$version" ] || fail "the tarball bundles library $libversion, not $version"
# Where the package has no library: the first call says which platform it is.
for sim in "darwin arm64 darwin-arm64" "linux arm64 linux-arm64-glibc" "linux x64 linux-x64-musl"; do
  read -r platform cpu target <<<"$sim"
  musl=$([ "${target##*-}" = musl ] && echo 1 || echo 0)
  msg=$(cd "$app" && "${npm_env[@]}" node -e "
    Object.defineProperty(process, 'platform', { value: '$platform' });
    Object.defineProperty(process, 'arch', { value: '$cpu' });
    if ($musl) process.report.getReport = () => ({ header: {} });
    const { AssetCache } = require('asset-cache');
    try { new AssetCache('x', { dir: '.' }); console.log('opened'); }
    catch (e) { console.log(e.code + ' ' + e.message); }") || true
  case $msg in
    "ASSET_CACHE_NO_LIBRARY asset-cache: no prebuilt library for $target in this package (it ships linux-x64-glibc)"*) ;;
    *) fail "on $target the package said: $msg" ;;
  esac
done

if [ "$fails" -ne 0 ]; then echo "packages: $fails check(s) failed"; exit 1; fi
echo "packages: all checks passed"
