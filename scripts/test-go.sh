#!/usr/bin/env bash
# The Go binding (bindings/go): go vet, gofmt, and `go test -race` against
# the library built by `cargo build --release`; then the example once more,
# linked through pkg-config (-tags asset_cache_pkgconfig) as an installed
# copy would be. ASSET_CACHE_LEAK_ITERATIONS=N lengthens the leak loop.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

command -v go >/dev/null || bash scripts/install-deps.sh
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

# The pkg-config route, with a .pc file describing the in-tree build.
pc_dir="$root/target/go-pkgconfig"
mkdir -p "$pc_dir"
cat >"$pc_dir/asset_cache.pc" <<PC
Name: asset_cache
Description: asset_cache from the source tree (test only)
Version: 0.1.0
Cflags: -I$root/include
Libs: -L$root/target/release -lasset_cache
PC
PKG_CONFIG_PATH="$pc_dir" LD_LIBRARY_PATH="$root/target/release" \
  go test -tags asset_cache_pkgconfig -count=1 -run '^Example$' -v ./...
