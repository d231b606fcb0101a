'use strict';
// Issue 10 item 4: a string that is not valid Unicode (a lone surrogate) is
// refused with ASSET_CACHE_INVALID_UTF8 by every call taking an id or JSON,
// never passed on changed. Before the fix, after add({id: '\uFFFD'}),
// getRaw('\uD800') returned that asset (koffi passed U+FFFD), and
// add({id: '\uD800'}) failed with MISSING_ID "unexpected end of hex escape"
// (checked by removing the LONE_SURROGATE check from cText and reverting
// RawAsset::checked_id: every throwsCode below then failed).
// Issue 10 item 1: ttlSeconds 0 (every asset expiring as it is added) is
// refused at open; before the fix it opened and add() then get() missed.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AssetCache, AssetCacheError, Status } = require('..');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function throwsUtf8(fn, messagePart) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof AssetCacheError, `not an AssetCacheError: ${err}`);
    assert.equal(err.code, 'ASSET_CACHE_INVALID_UTF8');
    assert.equal(err.status, Status.INVALID_UTF8);
    assert.match(err.message, messagePart);
    return true;
  });
}

test('lone surrogates are refused with INVALID_UTF8 wherever an id or JSON text goes', (t) => {
  const dir = tempDir(t);
  const cache = AssetCache.openSync('unicode', { dir });
  t.after(() => cache.close());
  cache.addSync({ id: '\uFFFD', name: 'replacement character' });

  throwsUtf8(() => cache.getRaw('\uD800'), /id is not valid Unicode: a lone surrogate U\+D800 at index 0/);
  throwsUtf8(() => cache.get('a\uDC00'), /lone surrogate U\+DC00 at index 1/);
  throwsUtf8(() => cache.addSync({ id: '\uD800' }), /"id" "\\ud800" is not valid Unicode/);
  throwsUtf8(() => cache.addListSync([{ id: 'ok' }, { id: 'x\uDFFF' }]), /element 1/);
  throwsUtf8(() => cache.addRawSync('{"id":"\uD800"}'), /JSON text is not valid Unicode/);
  throwsUtf8(() => cache.addListRawSync('[{"id":"\uDBFF"}]'), /JSON text is not valid Unicode/);
  throwsUtf8(() => AssetCache.openSync('n\uD800', { dir }), /name is not valid Unicode/);
  throwsUtf8(() => AssetCache.openSync('n', { dir: dir + '\uDC00' }), /dir is not valid Unicode/);

  // Nothing changed; a pair is a character and fine; a lone surrogate in a
  // value (as Python writes them) round-trips.
  assert.equal(cache.size, 1);
  assert.equal(cache.getRaw('\uFFFD'), '{"id":"\uFFFD","name":"replacement character"}');
  cache.addSync({ id: '\uD83D\uDE00', note: 'x\uDC00y' });
  assert.deepEqual(cache.get('\u{1F600}'), { id: '\u{1F600}', note: 'x\uDC00y' });
  assert.equal(cache.size, 2);
});

test('ttlSeconds 0 is refused at open', (t) => {
  const dir = tempDir(t);
  assert.throws(
    () => AssetCache.openSync('zero', { dir, ttlSeconds: 0 }),
    (err) => err.code === 'ASSET_CACHE_INVALID_ARGUMENT' && /ttl is 0/.test(err.message),
  );
  // A fraction is rounded up: 0.5 s is a lifetime of 1 s, not 0.
  const c = AssetCache.openSync('half', { dir, ttlSeconds: 0.5 });
  c.addSync({ id: 'a' });
  assert.equal(c.getRaw('a'), '{"id":"a"}');
  c.close();
});

test('CACHE_EXPIRY_TIME is read as Python int() reads it', (t) => {
  const dir = tempDir(t);
  const saved = process.env.CACHE_EXPIRY_TIME;
  t.after(() => {
    if (saved === undefined) delete process.env.CACHE_EXPIRY_TIME;
    else process.env.CACHE_EXPIRY_TIME = saved;
  });
  for (const [text, ttl] of [['1_000', 1000], ['\u0661\u0662', 12], ['\u00a07\u3000', 7], ['0', 86400], ['-3', 86400]]) {
    process.env.CACHE_EXPIRY_TIME = text;
    const before = Date.now() / 1000;
    const c = AssetCache.openSync('env', { dir });
    const got = c.expirySeconds() - before;
    c.close();
    assert.ok(Math.abs(got - ttl) < 2, `CACHE_EXPIRY_TIME=${JSON.stringify(text)}: lifetime ${got}, want ${ttl}`);
  }
});
