'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync } = require('node:child_process');

test('example.js (the README example) prints what the README says', (t) => {
  // Run it as a consumer would, with `require('asset-cache')` resolving to
  // this package through a node_modules link.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-consumer-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'node_modules'));
  fs.symlinkSync(path.join(__dirname, '..'), path.join(root, 'node_modules', 'asset-cache'), 'dir');
  fs.copyFileSync(path.join(__dirname, '..', 'example.js'), path.join(root, 'example.js'));
  const out = execFileSync(process.execPath, [path.join(root, 'example.js')], { encoding: 'utf8' });
  assert.equal(
    out,
    [
      'first, updated',
      '{"id":"m2","name":"second"}',
      '2 assets, valid: true',
      'undefined',
      'ASSET_CACHE_MISSING_ID 5',
      '',
    ].join('\n'),
  );
});

test('a wrong ASSET_CACHE_LIB is named as the source of the path', () => {
  // Checked to fail: without "(from ASSET_CACHE_LIB)" in index.js's lib().
  const bogus = path.join(os.tmpdir(), `asset-cache-no-such-lib-${process.pid}.so`);
  const script = `
    const { AssetCache } = require(${JSON.stringify(path.join(__dirname, '..'))});
    try { AssetCache.openSync('m', { dir: ${JSON.stringify(os.tmpdir())} }); console.log('opened'); }
    catch (e) { console.log(e.code, e.message); }`;
  const out = execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ASSET_CACHE_LIB: bogus },
  });
  assert.match(out, /^ASSET_CACHE_NO_LIBRARY asset-cache: cannot load .* \(from ASSET_CACHE_LIB\) on /);
  assert.ok(out.includes(bogus), out);
});
