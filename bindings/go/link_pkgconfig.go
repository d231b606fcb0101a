//go:build !asset_cache_inrepo

package assetcache

// By default the header and library come from an installed copy found
// through pkg-config (asset_cache.pc): the Debian package libasset-cache-dev,
// or `scripts/install.sh PREFIX`. The program then loads the library by its
// soname (libasset_cache.so.0) from the system's library path, so it does not
// depend on where this module's source was. For a non-system PREFIX, set
// PKG_CONFIG_PATH=PREFIX/lib/pkgconfig to build, and
// CGO_LDFLAGS=-Wl,-rpath,PREFIX/lib (or LD_LIBRARY_PATH=PREFIX/lib) to run.
// The tag asset_cache_pkgconfig, which used to select this, still builds
// the same.

/*
#cgo pkg-config: asset_cache
*/
import "C"
