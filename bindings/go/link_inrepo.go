//go:build !asset_cache_pkgconfig

package assetcache

// By default the package links the library built in this repository
// (`cargo build --release` at the repository root). The rpath lets test
// binaries and programs run from the tree find it without LD_LIBRARY_PATH.
// Build with `-tags asset_cache_pkgconfig` to use an installed copy instead
// (see link_pkgconfig.go).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lasset_cache -Wl,-rpath,${SRCDIR}/../../target/release
*/
import "C"
