#!/usr/bin/env bash
# The Go binding (bindings/go): go vet, gofmt, and `go test -race` with
# -tags asset_cache_inrepo (against the library built by `cargo build
# --release`); then the README's example as a module of its own, built the
# default way (pkg-config) against a copy installed into a temporary prefix.
# (scripts/test-packages.sh builds it against the Debian package.)
# ASSET_CACHE_LEAK_ITERATIONS=N lengthens the leak loop.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Go (golang-go), and cmake + pkg-config for the install step, from apt.
for tool in go cmake pkg-config; do
  command -v "$tool" >/dev/null || { bash scripts/install-deps.sh; break; }
done
go version

# The module sits inside this git repository: don't stamp VCS data (it fails
# on a checkout owned by another user). Without a home directory, keep Go's
# caches under target/.
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
if [ -z "${HOME:-}" ] || [ ! -w "${HOME:-/nonexistent}" ]; then
  export GOCACHE="$root/target/go/cache" GOPATH="$root/target/go/path"
fi
export CGO_ENABLED=1

cargo build --release

cd bindings/go
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi
go vet -tags asset_cache_inrepo ./...
go test -tags asset_cache_inrepo -race -count=1 -v ./...

# The default build links an installed library: install into a temporary
# prefix (scripts/install.sh) and build against that copy only.
work=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-go.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash "$root/scripts/install.sh" "$work/prefix" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# The rpath, as the binding's documentation says for a non-system prefix.
# Go's build cache keys on CGO_LDFLAGS but not on what pkg-config prints
# (golang/go#24544), so the prefix in it also keeps a cached build from an
# earlier, deleted prefix from being linked.
export CGO_LDFLAGS="$(go env CGO_LDFLAGS) -Wl,-rpath,$work/prefix/lib"

# The README's example as a program in a module of its own, using this
# checkout through a replace directive, as the README tells.
consumer=$work/consumer
mkdir "$consumer"
cp example/main.go "$consumer/"
(
  cd "$consumer"
  go mod init example.com/consumer >/dev/null 2>&1
  go mod edit -require github.com/asset-cache/asset-cache/bindings/go@v0.0.0 \
    -replace "github.com/asset-cache/asset-cache/bindings/go=$root/bindings/go"
  go build -o consumer .
  # It must load the installed library, not the one in target/.
  ldd ./consumer | grep -F "$work/prefix/lib/libasset_cache.so" \
    || { echo "the default build does not load the installed library" >&2; ldd ./consumer; exit 1; }
  ./consumer >out.txt
  printf '%s\n' 'first' 'm2: not cached' 'true true asset has no "id" member' >want.txt
  diff -u want.txt out.txt
) || { echo "the README's Go example failed" >&2; exit 1; }

# The tag the binding used to need for this still builds the same.
go test -tags asset_cache_pkgconfig -c -o "$work/pkgconfig.test" .
ldd "$work/pkgconfig.test" | grep -F "$work/prefix/lib/libasset_cache.so" >/dev/null \
  || { echo "-tags asset_cache_pkgconfig does not load the installed library" >&2; exit 1; }
(cd "$work" && ./pkgconfig.test -test.run '^Example$' -test.v)
