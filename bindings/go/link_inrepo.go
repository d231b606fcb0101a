//go:build asset_cache_inrepo

package assetcache

// With `-tags asset_cache_inrepo`, the package links the library built in
// this repository (`cargo build --release` at the repository root), for
// working on the binding itself: the rpath lets test binaries run from the
// tree without LD_LIBRARY_PATH. A program built this way loads the library
// from this checkout's target/release, so it stops working when the checkout
// moves or is cleaned; programs meant to outlive the checkout use the
// default, an installed library (link_pkgconfig.go).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lasset_cache -Wl,-rpath,${SRCDIR}/../../target/release
*/
import "C"
