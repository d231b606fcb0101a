'use strict';
// Which prebuilt library fits this Node: the folder name under prebuilds/,
// as prebuildify and node-gyp-build name them (<platform>-<arch>), with the
// C library on Linux, since a library linked against glibc does not load on
// musl (Alpine) and the other way round.

/** The C library of this Linux process: 'glibc' or 'musl'. */
function linuxLibc() {
  // Node's diagnostic report names the glibc it runs on; on musl there is none.
  const header = process.report && process.report.getReport().header;
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** e.g. 'linux-x64-glibc', 'linux-arm64-musl', 'darwin-arm64', 'win32-x64'. */
function platformTarget(platform = process.platform, arch = process.arch) {
  return platform === 'linux' ? `${platform}-${arch}-${linuxLibc()}` : `${platform}-${arch}`;
}

/** The shared library's file name on this platform. */
function libraryFileName(platform = process.platform) {
  switch (platform) {
    case 'darwin':
      return 'libasset_cache.dylib';
    case 'win32':
      return 'asset_cache.dll';
    default:
      return 'libasset_cache.so';
  }
}

module.exports = { platformTarget, libraryFileName };
