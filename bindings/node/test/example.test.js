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
