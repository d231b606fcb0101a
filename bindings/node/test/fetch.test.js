'use strict';
// getOrFetch / refreshAll (single-flight, never blocking the event loop) and
// the per-asset methods.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { AssetCache, AssetCacheError, Status } = require('..');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-node-fetch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function opened(t, dir, options = {}) {
  const cache = AssetCache.openSync('models', { dir, ttlSeconds: 3600, ...options });
  t.after(() => cache.close());
  return cache;
}

// A child process running `body` (a function source) with `dir`.
function child(dir, body) {
  const script = `const { AssetCache } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const dir = ${JSON.stringify(dir)};
    (${body})().catch((e) => { console.error(e); process.exit(1); });`;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Listened for at once: a child may end before the test looks.
  proc.exited = new Promise((resolve) => proc.on('exit', resolve));
  return proc;
}

function line(proc, want) {
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      if (buf.split('\n').includes(want)) resolve();
    });
    proc.exited.then((code) => reject(new Error(`child exited ${code} before "${want}"`)));
  });
}

test('getOrFetch fetches once, then serves the cache', async (t) => {
  const cache = opened(t, tempDir(t));
  let calls = 0;
  const fetch = async (id) => {
    calls += 1;
    return { id, name: 'GPT' };
  };
  assert.deepEqual(await cache.getOrFetch('m1', fetch), { id: 'm1', name: 'GPT' });
  assert.deepEqual(await cache.getOrFetch('m1', fetch), { id: 'm1', name: 'GPT' });
  assert.equal(calls, 1);
});

test('a failing fetch rejects with FETCH_FAILED and its cause; nothing stored', async (t) => {
  const cache = opened(t, tempDir(t));
  const down = new Error('service down');
  await assert.rejects(cache.getOrFetch('m1', async () => { throw down; }), (err) => {
    assert.ok(err instanceof AssetCacheError);
    assert.equal(err.code, 'ASSET_CACHE_FETCH_FAILED');
    assert.equal(err.status, Status.FETCH_FAILED);
    assert.equal(err.cause, down);
    assert.match(err.message, /service down/);
    return true;
  });
  assert.equal(cache.has('m1'), false);
  // Not an asset: add()'s status.
  await assert.rejects(cache.getOrFetch('m1', async () => ({ name: 'no id' })), { code: 'ASSET_CACHE_MISSING_ID' });
  // The claim was released each time: the next caller fetches.
  assert.deepEqual(await cache.getOrFetch('m1', (id) => ({ id })), { id: 'm1' });
});

// Checked to fail: with the begin made as a plain (synchronous) koffi call
// waiting up to lockTimeoutMs instead of a worker-thread call that does not
// wait, the interval ticked 0 times during the wait.
test('waiting for another process\'s fetch does not block the event loop', async (t) => {
  const dir = tempDir(t);
  const holder = child(dir, `async () => {
    const c = AssetCache.openSync('models', { dir, ttlSeconds: 3600 });
    await c.getOrFetch('slow', async (id) => {
      console.log('FETCHING');
      await new Promise((r) => setTimeout(r, 1500));
      return { id, by: 'child' };
    });
    c.close();
  }`);
  await line(holder, 'FETCHING');
  const cache = opened(t, dir);
  let ticks = 0;
  const timer = setInterval(() => { ticks += 1; }, 10);
  const start = Date.now();
  const got = await cache.getOrFetch('slow', () => {
    throw new Error('the waiter must not fetch');
  });
  clearInterval(timer);
  const waited = Date.now() - start;
  assert.deepEqual(got, { id: 'slow', by: 'child' });
  assert.ok(waited > 500, `waited only ${waited} ms`);
  assert.ok(ticks > waited / 40, `${ticks} ticks in ${waited} ms: the event loop was blocked`);
  assert.equal(await holder.exited, 0);
});

test('four processes x 20 ids: each id fetched once', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'fetches.log');
  const go = path.join(dir, 'go');
  const kids = [0, 1, 2, 3].map((k) => child(dir, `async () => {
    const fs = require('node:fs');
    const c = AssetCache.openSync('models', { dir, ttlSeconds: 3600 });
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 20; i++) {
      const id = 'm' + ((i + ${k} * 5) % 20);
      const v = await c.getOrFetch(id, async () => {
        fs.appendFileSync(${JSON.stringify(log)}, id + '\\n');
        await new Promise((r) => setTimeout(r, 5));
        return { id };
      });
      if (v.id !== id) throw new Error('got ' + JSON.stringify(v));
    }
    c.close();
  }`));
  await new Promise((r) => setTimeout(r, 300));
  fs.writeFileSync(go, '');
  const codes = await Promise.all(kids.map((k) => k.exited));
  assert.deepEqual(codes, [0, 0, 0, 0]);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 20, lines.join(','));
  assert.equal(new Set(lines).size, 20);
});

test('an aborted signal ends the wait', async (t) => {
  const dir = tempDir(t);
  const a = opened(t, dir);
  const b = opened(t, dir);
  let release;
  const holding = a.getOrFetch('x', () => new Promise((r) => { release = r; }).then(() => ({ id: 'x' })));
  await new Promise((r) => setTimeout(r, 20));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('gave up')), 50);
  await assert.rejects(b.getOrFetch('x', () => ({ id: 'x' }), { signal: controller.signal }), /gave up/);
  release();
  assert.deepEqual(await holding, { id: 'x' });
});

test('refreshAll once; remove, has, ids, addMany, addWithKey', async (t) => {
  const dir = tempDir(t);
  const cache = opened(t, dir);
  let lists = 0;
  const list = async () => {
    lists += 1;
    return [{ id: 'a' }, { id: 'b' }];
  };
  assert.deepEqual(await cache.refreshAll(list), [{ id: 'a' }, { id: 'b' }]);
  assert.deepEqual(await opened(t, dir).refreshAll(list), [{ id: 'a' }, { id: 'b' }]);
  assert.equal(lists, 1);
  await cache.addMany([{ id: 'c' }, { id: 'd' }]);
  await assert.rejects(cache.addMany([{ id: 'e' }, { x: 1 }]), { code: 'ASSET_CACHE_MISSING_ID' });
  assert.throws(() => cache.addManySync([{ id: 'e' }, { x: 1 }]), { code: 'ASSET_CACHE_MISSING_ID' });
  await cache.addWithKey('slug', { id: 'canonical' });
  assert.equal(await cache.remove('b'), true);
  assert.equal(cache.removeSync('b'), false);
  assert.deepEqual(cache.ids(), ['a', 'c', 'd', 'slug']);
  assert.equal(cache.has('slug'), true);
  assert.equal(cache.has('b'), false);
  assert.deepEqual(opened(t, dir).get('slug'), { id: 'canonical' });
});

test('staleIfErrorMs serves the expired asset with ASSET_CACHE_STALE; maxStalenessMs sees other writes', async (t) => {
  const dir = tempDir(t);
  const cache = opened(t, dir, { ttlSeconds: 1, staleIfErrorMs: 30000 });
  cache.addSync({ id: 'm1', v: 1 });
  await new Promise((r) => setTimeout(r, 1100));
  await assert.rejects(cache.getOrFetch('m1', async () => { throw new Error('outage'); }), (err) => {
    assert.equal(err.code, 'ASSET_CACHE_STALE');
    assert.deepEqual(err.stale, { id: 'm1', v: 1 });
    assert.match(err.message, /outage/);
    return true;
  });
  const fresh = opened(t, dir, { maxStalenessMs: 0 });
  const writer = opened(t, dir);
  await writer.add({ id: 'new' });
  assert.deepEqual(fresh.get('new'), { id: 'new' });
});

test('close() while a getOrFetch fetches: the claim is given up, the next caller fetches', async (t) => {
  const dir = tempDir(t);
  const a = AssetCache.openSync('models', { dir, ttlSeconds: 3600 });
  let release;
  const pending = a.getOrFetch('x', () => new Promise((r) => { release = r; }).then(() => ({ id: 'x' })));
  await new Promise((r) => setTimeout(r, 20));
  a.close();
  release();
  await assert.rejects(pending, { code: 'ASSET_CACHE_CLOSED' });
  const b = opened(t, dir);
  assert.deepEqual(await b.getOrFetch('x', (id) => ({ id, by: 'b' })), { id: 'x', by: 'b' });
});
