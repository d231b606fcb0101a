'use strict';
// `npm pack` (prepack): puts the library built by `cargo build --release`
// into prebuilds/<target>/, stripped, so that the tarball works without Rust
// or a checkout. `npm pack` runs scripts/clean-prebuilds.js afterwards
// (postpack), so the checkout keeps loading target/release.
//   ASSET_CACHE_PREBUILD_SOURCE=<path> packs that library instead.

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { platformTarget, libraryFileName } = require('../platform');

const pkg = path.join(__dirname, '..');
const file = libraryFileName();
const source =
  process.env.ASSET_CACHE_PREBUILD_SOURCE || path.join(pkg, '..', '..', 'target', 'release', file);
if (!fs.existsSync(source)) {
  console.error(
    `prebuild: ${source} does not exist: run \`cargo build --release\` at the repository root ` +
      'first (scripts/package.sh npm does both).',
  );
  process.exit(1);
}
const target = platformTarget();
const dir = path.join(pkg, 'prebuilds', target);
fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const dest = path.join(dir, file);
if (process.platform === 'linux') {
  // cargo's release build keeps debug info (6 MB; 0.6 MB without), as
  // Debian's dh_strip does for shared libraries.
  execFileSync('objcopy', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', source, dest], {
    stdio: 'inherit',
  });
} else {
  fs.copyFileSync(source, dest);
}
console.error(`prebuild: ${path.relative(pkg, dest)} (${fs.statSync(dest).size} bytes) from ${source}`);
