'use strict';
// `npm pack` (postpack): removes what scripts/prebuild.js put in, so that the
// checkout goes on loading the library from target/release.
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.join(__dirname, '..', 'prebuilds'), { recursive: true, force: true });
