#!/usr/bin/env bash
# The Go binding (bindings/go): go vet, gofmt, and `go test -race` against
# the library built by `cargo build --release`; then the example once more,
# built with -tags asset_cache_pkgconfig against a copy installed into a
# temporary prefix. ASSET_CACHE_LEAK_ITERATIONS=N lengthens the leak loop.
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
go vet ./...
go test -race -count=1 -v ./...

# The README's example as a program in a module of its own, using this
# checkout through a replace directive, exactly as the README tells.
consumer=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-go-consumer.XXXXXX")
cp example/main.go "$consumer/"
(
  cd "$consumer"
  go mod init example.com/consumer >/dev/null 2>&1
  go mod edit -require github.com/asset-cache/asset-cache/bindings/go@v0.0.0 \
    -replace "github.com/asset-cache/asset-cache/bindings/go=$root/bindings/go"
  go run . >out.txt
  printf '%s\n' 'first' 'm2: not cached' 'true true asset has no "id" member' >want.txt
  diff -u want.txt out.txt
) || { rm -rf "$consumer"; echo "the README's Go example failed" >&2; exit 1; }
rm -rf "$consumer"

# The route of a program outside this tree: install into a temporary prefix
# (scripts/install.sh) and build against that copy only, through pkg-config.
work=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-go.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash "$root/scripts/install.sh" "$work/prefix" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" LD_LIBRARY_PATH="$work/prefix/lib"
# Go's build cache keys on CGO_LDFLAGS but not on what pkg-config prints
# (golang/go#24544): without this, a cached build from an earlier, deleted
# prefix would be linked.
export CGO_LDFLAGS="$(go env CGO_LDFLAGS) $(pkg-config --libs-only-L asset_cache)"
go test -tags asset_cache_pkgconfig -c -o "$work/pkgconfig.test" .
# It must load the installed library, not the one in target/.
ldd "$work/pkgconfig.test" | grep -F "$work/prefix/lib/libasset_cache.so" \
  || { echo "the pkg-config build does not load the installed library" >&2; ldd "$work/pkgconfig.test"; exit 1; }
(cd "$work" && ./pkgconfig.test -test.run '^Example$' -test.v)
