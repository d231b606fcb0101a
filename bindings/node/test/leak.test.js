'use strict';
// Resident memory must stay flat over many round trips: every string the
// library returns is freed after decoding, and every handle is freed.
// ASSET_CACHE_LEAK_ITERATIONS=N runs a longer loop.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AssetCache } = require('..');

const MiB = 1 << 20;

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-node-leak-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function settledRss() {
  assert.equal(typeof global.gc, 'function', 'the leak tests need node --expose-gc');
  for (let i = 0; i < 3; i++) {
    global.gc();
    // Let FinalizationRegistry callbacks run.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().rss;
}

test('RSS stays flat over many adds and gets', async (t) => {
  const iterations = Number(process.env.ASSET_CACHE_LEAK_ITERATIONS || 10_000);
  assert.ok(Number.isInteger(iterations) && iterations > 0, 'ASSET_CACHE_LEAK_ITERATIONS must be a positive integer');
  const boundMiB = 24;
  const cache = AssetCache.openSync('leak', { dir: tempDir(t), ttlSeconds: 3600 });
  t.after(() => cache.close());
  const payload = '0123456789abcdef'.repeat(256); // 4 KiB
  const round = (i) => {
    const id = `asset-${i % 50}`;
    const asset = { id, i, payload };
    cache.addSync(asset);
    for (let k = 0; k < 5; k++) {
      assert.equal(cache.get(id).i, i);
    }
    assert.equal(cache.get('missing'), undefined);
    if (i % 100 === 0) {
      assert.ok(cache.getAll().length > 0);
    }
  };
  const warmup = Math.floor(iterations / 10);
  for (let i = 0; i < warmup; i++) round(i);
  const before = await settledRss();
  for (let i = warmup; i < iterations; i++) round(i);
  const after = await settledRss();
  const growth = (after - before) / MiB;
  t.diagnostic(`${iterations - warmup} round trips: RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB (growth ${growth.toFixed(2)} MiB, bound ${boundMiB} MiB)`);
  // Unfreed strings would be 5 x 4 KiB a round: about 170 MiB here.
  assert.ok(growth < boundMiB, `RSS grew by ${growth.toFixed(1)} MiB over ${iterations - warmup} round trips: a leak`);
});

test('RSS stays flat over handles that are never closed (FinalizationRegistry)', async (t) => {
  const dir = tempDir(t);
  const seed = AssetCache.openSync('unclosed', { dir });
  seed.addSync({ id: 'big', blob: 'x'.repeat(2 * MiB) });
  seed.close();
  const boundMiB = 48;
  // Each open handle holds the 2 MiB asset: 200 of them never freed would
  // keep about 400 MiB.
  const openMany = async (n) => {
    for (let i = 0; i < n; i++) {
      const cache = AssetCache.openSync('unclosed', { dir });
      assert.equal(cache.size, 1);
      if (i % 10 === 9) await settledRss();
    }
  };
  await openMany(20);
  const before = await settledRss();
  await openMany(200);
  const after = await settledRss();
  const growth = (after - before) / MiB;
  t.diagnostic(`200 unclosed handles: RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB (growth ${growth.toFixed(2)} MiB, bound ${boundMiB} MiB)`);
  assert.ok(growth < boundMiB, `RSS grew by ${growth.toFixed(1)} MiB: handles are not freed`);
});

test('RSS stays flat over many promise calls, failing ones included', async (t) => {
  // The promise calls pass their arguments to a worker thread and get error
  // objects back: arguments kept, error objects or handles not freed would
  // grow RSS by the 16 KiB payload a call (over 60 MiB here). Checked by
  // keeping the closed handles instead of freeing them: RSS grew by 3 GB.
  const iterations = Math.max(400, Math.floor(Number(process.env.ASSET_CACHE_LEAK_ITERATIONS || 10_000) / 3));
  const boundMiB = 24;
  const dir = tempDir(t);
  const payload = '0123456789abcdef'.repeat(1024); // 16 KiB
  const round = async (i) => {
    const cache = await AssetCache.open('async-leak', { dir, ttlSeconds: 3600 });
    try {
      await cache.add({ id: `asset-${i % 20}`, i, payload });
      await assert.rejects(cache.add({ name: 'no id', payload }), { code: 'ASSET_CACHE_MISSING_ID' });
      await assert.rejects(cache.addRaw(`{"id":"x","p":"${payload}"`), { code: 'ASSET_CACHE_INVALID_JSON' });
      if (i % 50 === 0) await cache.load();
    } finally {
      await cache.closeAsync();
    }
  };
  const warmup = Math.floor(iterations / 10);
  for (let i = 0; i < warmup; i++) await round(i);
  const before = await settledRss();
  for (let i = warmup; i < iterations; i++) await round(i);
  const after = await settledRss();
  const growth = (after - before) / MiB;
  t.diagnostic(`${iterations - warmup} rounds of promise calls: RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB (growth ${growth.toFixed(2)} MiB, bound ${boundMiB} MiB)`);
  assert.ok(growth < boundMiB, `RSS grew by ${growth.toFixed(1)} MiB: promise calls leak`);
});
