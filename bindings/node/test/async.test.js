'use strict';
// The promise calls: on worker threads, never blocking the event loop, with
// each failure's own message (from the library's error objects), in call
// order per cache, and safe against close() while they run.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { spawn, spawnSync } = require('node:child_process');
const { AssetCache, AssetCacheError, Status } = require('..');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-async-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function lockIsFree(lockFile) {
  return spawnSync('flock', ['--exclusive', '--nonblock', lockFile, 'true']).status === 0;
}

/**
 * Another process (flock(1)) takes <dir>/<name>.lock exclusively for `ms`
 * milliseconds; resolves once it holds it.
 */
async function holdLock(t, lockFile, ms) {
  fs.writeFileSync(lockFile, '', { flag: 'a' });
  // Its own process group, so that killing it also kills sleep, which
  // inherits the locked descriptor.
  const holder = spawn('flock', ['--exclusive', lockFile, 'sleep', String(ms / 1000)], {
    stdio: 'ignore',
    detached: true,
  });
  t.after(() => {
    try {
      process.kill(-holder.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  for (let i = 0; lockIsFree(lockFile); i++) {
    assert.ok(i < 500, 'flock never took the lock');
    await sleep(5);
  }
}

/** Runs fn() while a 20 ms interval timer ticks; returns fn's duration and the timer's largest gap. */
async function timed(fn) {
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 20);
  const start = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const elapsed = performance.now() - start;
  maxGap = Math.max(maxGap, performance.now() - last);
  return { elapsed, maxGap, ticks };
}

test('a timer keeps firing while `await cache.add()` waits 2 s for another process\'s lock', async (t) => {
  const dir = tempDir(t);
  const lockFile = path.join(dir, 'held.lock');
  const cache = await AssetCache.open('held', { dir, lockTimeoutMs: 20000 });
  t.after(() => cache.close());

  await holdLock(t, lockFile, 2000);
  const waited = await timed(() => cache.add({ id: 'a', n: 1 }));
  // It did wait for the lock (the holder started at most a few ms earlier)...
  assert.ok(waited.elapsed >= 1500, `the add returned after ${waited.elapsed.toFixed(0)} ms: it did not wait`);
  // ...while the event loop ran the 20 ms timer all along.
  assert.ok(waited.maxGap < 300, `the event loop stalled for ${waited.maxGap.toFixed(0)} ms`);
  assert.ok(waited.ticks >= 40, `the timer fired only ${waited.ticks} times in ${waited.elapsed.toFixed(0)} ms`);
  assert.deepEqual(cache.get('a'), { id: 'a', n: 1 });

  // The control: the same wait through addSync blocks the event loop, so the
  // measurement above can see a blocked loop. (Also checked by making add()
  // call the synchronous function: the gap was ~2000 ms and the test failed.)
  for (let i = 0; !lockIsFree(lockFile); i++) {
    assert.ok(i < 500, 'the first holder never let go');
    await sleep(10);
  }
  await holdLock(t, lockFile, 1000);
  const blocked = await timed(async () => cache.addSync({ id: 'b' }));
  assert.ok(blocked.maxGap >= 700, `addSync did not block the loop (gap ${blocked.maxGap.toFixed(0)} ms)`);
});

test('a lock timeout on a worker thread rejects with its own code and message', async (t) => {
  const dir = tempDir(t);
  const lockFile = path.join(dir, 'busy.lock');
  const cache = await AssetCache.open('busy', { dir, lockTimeoutMs: 200 });
  t.after(() => cache.close());
  await holdLock(t, lockFile, 5000);
  const start = performance.now();
  await assert.rejects(cache.add({ id: 'a' }), (err) => {
    assert.ok(err instanceof AssetCacheError);
    assert.equal(err.code, 'ASSET_CACHE_LOCK_TIMEOUT');
    assert.equal(err.status, Status.LOCK_TIMEOUT);
    assert.equal(err.op, 'add');
    assert.match(err.message, /^add: .*lock/);
    assert.match(err.message, /busy\.lock/);
    return true;
  });
  assert.ok(performance.now() - start < 3000, 'the timeout was not honoured');
  assert.equal(cache.size, 0, 'a failed add changed memory');
});

test('failures on many worker threads at once each carry their own message', async (t) => {
  // The error objects are what makes this work: the per-thread last error
  // would be read on the main thread, not the worker's. Checked by reading
  // asset_cache_last_error there instead: every message was "failed" (the
  // main thread had no error of its own).
  const dir = tempDir(t);
  const caches = await Promise.all(Array.from({ length: 8 }, (_, i) => AssetCache.open(`c${i}`, { dir })));
  t.after(() => caches.forEach((c) => c.close()));
  const cases = [];
  for (let round = 0; round < 25; round++) {
    caches.forEach((c, i) => {
      if ((round + i) % 3 === 0) {
        cases.push([c.addRaw(`{"id":"x${round}-${i}", "n": ${round}${i} oops}`), 'ASSET_CACHE_INVALID_JSON', /JSON/]);
      } else if ((round + i) % 3 === 1) {
        cases.push([c.addList([{ id: 'ok' }, { id: 'ok2' }, { name: `no id ${round}` }]), 'ASSET_CACHE_MISSING_ID', /element 2: .*id/]);
      } else {
        cases.push([c.add({ id: `good-${round}-${i}` }), null, null]);
      }
    });
  }
  const results = await Promise.allSettled(cases.map(([p]) => p));
  results.forEach((r, k) => {
    const [, code, message] = cases[k];
    if (code === null) {
      assert.equal(r.status, 'fulfilled', `case ${k}: ${r.reason}`);
    } else {
      assert.equal(r.status, 'rejected', `case ${k} succeeded`);
      assert.ok(r.reason instanceof AssetCacheError);
      assert.equal(r.reason.code, code, `case ${k}: ${r.reason.message}`);
      assert.match(r.reason.message, message, `case ${k}`);
    }
  });
  const good = cases.filter(([, code]) => code === null).length;
  assert.equal(caches.reduce((sum, c) => sum + c.size, 0), good);
});

test('open, load, save and invalidate as promises; bad arguments reject, never throw', async (t) => {
  const dir = tempDir(t);
  const a = await AssetCache.open('p', { dir });
  const b = await AssetCache.open('p', { dir });
  t.after(() => {
    a.close();
    b.close();
  });
  await a.add({ id: 'x', v: 1 });
  assert.equal(b.get('x'), undefined);
  await b.load();
  assert.deepEqual(b.get('x'), { id: 'x', v: 1 });
  await b.save();
  await a.invalidate();
  assert.equal(fs.existsSync(path.join(dir, 'p.json')), false);
  await b.load();
  assert.equal(b.size, 0);

  const rejects = async (call, code) => {
    let promise;
    assert.doesNotThrow(() => {
      promise = call();
    }, 'threw instead of rejecting');
    await assert.rejects(promise, (err) => err.code === code || (code === TypeError && err instanceof TypeError));
  };
  await rejects(() => a.add({ name: 'no id' }), 'ASSET_CACHE_MISSING_ID');
  await rejects(() => a.addList({ id: 'x' }), 'ASSET_CACHE_INVALID_JSON');
  await rejects(() => a.addRaw('{"id":"a"}\0'), 'ASSET_CACHE_INVALID_JSON');
  await rejects(() => a.addRaw(Buffer.from('{"id":"\xff"}', 'latin1')), 'ASSET_CACHE_INVALID_UTF8');
  await rejects(() => a.add({ id: 'n', big: 1n }), TypeError);
  await rejects(() => AssetCache.open('a/b', { dir }), 'ASSET_CACHE_INVALID_ARGUMENT');
  await rejects(() => AssetCache.open('x', { dir, ttlSeconds: -1 }), 'ASSET_CACHE_INVALID_ARGUMENT');
  fs.writeFileSync(path.join(dir, 'plain-file'), '');
  const inFile = await AssetCache.open('x', { dir: path.join(dir, 'plain-file', 'sub') });
  await rejects(() => inFile.add({ id: 'a' }), 'ASSET_CACHE_IO');
  inFile.close();
  assert.equal(a.size, 0, 'a rejected call changed memory');
});

test('promise calls on one cache run in the order they were made', async (t) => {
  const dir = tempDir(t);
  const cache = await AssetCache.open('order', { dir });
  t.after(() => cache.close());
  // Not awaited one by one: the list must land before the add after it, and
  // the invalidate before the last add. Checked by starting each call at
  // once (no queue): this test failed.
  const calls = [];
  for (let i = 0; i < 20; i++) {
    calls.push(cache.add({ id: `a${i}` }));
    calls.push(cache.addList([{ id: `list${i}` }]));
    calls.push(cache.add({ id: `b${i}` }));
  }
  calls.push(cache.invalidate());
  calls.push(cache.add({ id: 'last' }));
  await Promise.all(calls);
  assert.deepEqual(cache.getAll(), [{ id: 'last' }]);

  const again = [cache.addList([{ id: 'x' }]), cache.add({ id: 'y' }), cache.add({ id: 'x', v: 2 })];
  await Promise.all(again);
  const other = AssetCache.openSync('order', { dir });
  t.after(() => other.close());
  assert.deepEqual(other.getAll(), [{ id: 'x', v: 2 }, { id: 'y' }]);
});

test('close() while promise calls run: they finish, later calls reject, the handle is freed once', async (t) => {
  const dir = tempDir(t);
  const lockFile = path.join(dir, 'closing.lock');
  const cache = await AssetCache.open('closing', { dir, lockTimeoutMs: 10000 });
  // The add waits on the lock, so that close() comes while it runs on a worker
  // thread. Freeing the handle then would be a use-after-free (checked by
  // freeing at once in close(): this test failed).
  await holdLock(t, lockFile, 300);
  const pending = [cache.add({ id: 'a' }), cache.add({ id: 'b' })];
  cache.close();
  assert.equal(cache.closed, true);
  await assert.rejects(cache.add({ id: 'c' }), { code: 'ASSET_CACHE_CLOSED' });
  assert.throws(() => cache.get('a'), { code: 'ASSET_CACHE_CLOSED' });
  await Promise.all(pending);
  await cache.closeAsync();
  cache.close();
  const reopened = AssetCache.openSync('closing', { dir });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.getAll(), [{ id: 'a' }, { id: 'b' }]);

  // closeAsync (and `await using`) resolves after the pending calls.
  const disposable = await AssetCache.open('closing', { dir });
  const added = disposable.add({ id: 'd' });
  const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');
  await disposable[asyncDispose]();
  await added;
  assert.equal(disposable.closed, true);
  reopened.loadSync();
  assert.deepEqual(reopened.get('d'), { id: 'd' });
});
