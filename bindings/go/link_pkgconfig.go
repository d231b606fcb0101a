//go:build asset_cache_pkgconfig

package assetcache

// With `-tags asset_cache_pkgconfig`, the header and library come from an
// installed copy found through pkg-config (asset_cache.pc). Point
// PKG_CONFIG_PATH at <prefix>/lib/pkgconfig for a non-standard prefix, and
// LD_LIBRARY_PATH (or an rpath in CGO_LDFLAGS) at <prefix>/lib to run.

/*
#cgo pkg-config: asset_cache
*/
import "C"
