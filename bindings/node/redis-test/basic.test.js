'use strict';
// The Node binding on Redis, through the same open: run by
// scripts/test-redis.sh (node --test redis-test/) with ASSET_CACHE_REDIS_URL
// naming its private server. Two handles with folders of their own stand
// for two hosts. Not in test/, which the node suite runs without a server.
//
// Checked to fail: with open() ignoring backendUrl, the second handle did
// not see the first one's add.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AssetCache, Status } = require('..');

const url = process.env.ASSET_CACHE_REDIS_URL;

function host(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-node-redis-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('two hosts share one cache on Redis', async (t) => {
  assert.ok(url, 'ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh');
  const name = `node-basic-${process.pid}`;
  const options = { ttlSeconds: 3600, backendUrl: url, backendTimeoutMs: 2000 };
  const a = await AssetCache.open(name, { dir: host(t), ...options });
  const b = AssetCache.openSync(name, { dir: host(t), ...options });
  t.after(() => { a.close(); b.close(); });
  await a.add({ id: 'm1', v: 1 });
  await b.load();
  assert.deepEqual(b.get('m1'), { id: 'm1', v: 1 });
  b.addListSync([{ id: 'n1' }, { id: 'n2' }]);
  a.loadSync();
  assert.equal(a.size, 2);
  assert.equal(a.get('m1'), undefined);
  await a.invalidate();
  b.loadSync();
  assert.equal(b.size, 0);
});

test('bad URLs and absent servers give their statuses', async () => {
  assert.ok(url, 'ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh');
  assert.throws(() => AssetCache.openSync('x', { backendUrl: 'redis://127.0.0.1:notaport/0' }),
    (e) => e.status === Status.INVALID_ARGUMENT && e.code === 'ASSET_CACHE_INVALID_ARGUMENT');
  await assert.rejects(AssetCache.open('x', { backendUrl: 'redis://:s3cret@127.0.0.1:1/0', backendTimeoutMs: 1000 }),
    (e) => e.code === 'ASSET_CACHE_BACKEND_UNAVAILABLE' && e.message.includes('127.0.0.1:1')
      && !e.message.includes('s3cret'));
});

// Checked to fail: with claim.lua answering 'claimed' without its SET NX,
// both hosts fetched (fetches === 2).
test('getOrFetch fetches once for two hosts on Redis; remove and the cap', async (t) => {
  assert.ok(url, 'ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh');
  const name = `node-sf-${process.pid}`;
  const options = { ttlSeconds: 3600, backendUrl: url, backendTimeoutMs: 2000, maxEntries: 2 };
  const a = await AssetCache.open(name, { dir: host(t), ...options });
  const b = await AssetCache.open(name, { dir: host(t), ...options });
  t.after(() => { a.close(); b.close(); });
  let fetches = 0;
  const fetch = async (id) => {
    fetches += 1;
    await new Promise((r) => setTimeout(r, 300));
    return { id, fetched: true };
  };
  const [x, y] = await Promise.all([a.getOrFetch('m1', fetch), b.getOrFetch('m1', fetch)]);
  assert.deepEqual(x, { id: 'm1', fetched: true });
  assert.deepEqual(y, { id: 'm1', fetched: true });
  assert.equal(fetches, 1, 'one fetch for both hosts');
  await a.add({ id: 'm2' });
  await a.add({ id: 'm3' });
  assert.deepEqual(a.ids(), ['m2', 'm3'], 'the size cap kept the newest two');
  assert.equal(await b.remove('m2'), true);
  await a.load();
  assert.deepEqual(a.ids(), ['m3']);
  await a.invalidate();
});
