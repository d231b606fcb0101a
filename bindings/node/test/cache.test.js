'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, spawn } = require('node:child_process');
const { AssetCache, AssetCacheError, Status, version, libraryPath, defaultLockTimeoutMs } = require('..');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function opened(t, dir, name, options = {}) {
  const cache = AssetCache.openSync(name, { dir, ...options });
  t.after(() => cache.close());
  return cache;
}

function throwsCode(fn, code, status, messagePart) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof AssetCacheError, `not an AssetCacheError: ${err}`);
    assert.ok(err instanceof Error);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    if (messagePart) {
      assert.match(err.message, messagePart);
    }
    return true;
  });
}

test('workflow: add, get, getAll, size, expiry, save, load, addList, invalidate', (t) => {
  const dir = tempDir(t);
  const before = Date.now();
  const cache = opened(t, dir, 'models', { ttlSeconds: 3600 });
  assert.equal(cache.name, 'models');
  assert.equal(cache.hasValidCache(), false);
  assert.equal(cache.size, 0);

  cache.addSync({ id: 'm1', name: 'first', tags: ['a', 'b'], score: 0.5 });
  cache.addRawSync('{"id":"m2","name":"second"}');
  cache.addRawSync(Buffer.from('{"id":"m3","name":"third"}'));
  cache.addSync({ id: 'm1', name: 'first again' });
  assert.equal(cache.size, 3);
  assert.equal(cache.hasValidCache(), true);

  assert.deepEqual(cache.get('m1'), { id: 'm1', name: 'first again' });
  assert.equal(cache.getRaw('m2'), '{"id":"m2","name":"second"}');
  assert.equal(cache.get('nobody'), undefined);
  assert.equal(cache.getRaw('nobody'), undefined);
  assert.deepEqual(cache.getAll().map((a) => a.id), ['m1', 'm2', 'm3']);
  assert.equal(JSON.parse(cache.getAllRaw()).length, 3);

  const expiry = cache.expiry();
  assert.ok(expiry instanceof Date);
  assert.ok(expiry.getTime() >= before + 3600_000 - 1000, `expiry ${expiry.toISOString()} too early`);
  assert.ok(expiry.getTime() <= Date.now() + 3600_000 + 1000, `expiry ${expiry.toISOString()} too late`);
  assert.ok(Math.abs(cache.expirySeconds() * 1000 - expiry.getTime()) < 1);

  cache.saveSync();
  const other = opened(t, dir, 'models');
  assert.deepEqual(other.get('m3'), { id: 'm3', name: 'third' });

  cache.addListSync([{ id: 'x' }, { id: 'y', n: 1 }]);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('m1'), undefined);
  other.loadSync();
  assert.deepEqual(other.getAll(), [{ id: 'x' }, { id: 'y', n: 1 }]);

  cache.invalidateSync();
  assert.equal(cache.size, 0);
  assert.deepEqual(cache.getAll(), []);
  assert.equal(fs.existsSync(path.join(dir, 'models.json')), false);
  other.loadSync();
  assert.equal(other.size, 0);

  assert.match(version(), /^\d+\.\d+\.\d+/);
  assert.ok(fs.existsSync(libraryPath()));
});

test('unicode and large assets round-trip through JSON, in memory and on disk', (t) => {
  const dir = tempDir(t);
  const cache = opened(t, dir, 'big');
  const unicode = {
    id: 'ünï-码-🚀',
    text: 'e\u0301 ﬁ \u2028 \u0000 "quoted" \\ tab\t 𝄞 Ελληνικά العربية',
    tags: ['日本語', '한국어', '\u{10FFFF}'],
    nested: { emoji: '👩‍👩‍👧', empty: '' },
  };
  cache.addSync(unicode);
  assert.deepEqual(cache.get(unicode.id), unicode);

  const blob = 'large ✓ asset '.repeat(150_000); // about 2.2 MB of UTF-8
  const big = { id: 'big', blob, n: 1.5, list: Array.from({ length: 10_000 }, (_, i) => i) };
  cache.addSync(big);
  const back = cache.getRaw('big');
  assert.equal(back, JSON.stringify(big));
  assert.ok(Buffer.byteLength(back) > 1 << 20);
  assert.deepEqual(cache.get('big'), big);

  const fresh = opened(t, dir, 'big');
  assert.deepEqual(fresh.get(unicode.id), unicode);
  assert.deepEqual(fresh.get('big'), big);
  assert.deepEqual(fresh.getAll().map((a) => a.id), [unicode.id, 'big']);
});

test('bad input throws AssetCacheError with the status code', (t) => {
  const dir = tempDir(t);
  const cache = opened(t, dir, 'bad');
  fs.writeFileSync(path.join(dir, 'plain-file'), 'x');
  fs.mkdirSync(path.join(dir, 'dirjson.json'));
  fs.mkdirSync(path.join(dir, 'lockdir.lock'));
  const open = (name, options) => () => AssetCache.openSync(name, options).close();
  const E = (name) => [`ASSET_CACHE_${name}`, Status[name]];

  throwsCode(open('', { dir }), ...E('INVALID_ARGUMENT'), /empty/);
  throwsCode(open('a/b', { dir }), ...E('INVALID_ARGUMENT'), /separator/);
  throwsCode(open('a\0b', { dir }), ...E('INVALID_ARGUMENT'), /NUL/);
  throwsCode(open(42, { dir }), ...E('INVALID_ARGUMENT'), /string/);
  throwsCode(open('x', { dir: '' }), ...E('INVALID_ARGUMENT'), /empty/);
  throwsCode(open('x', { dir, ttlSeconds: -1 }), ...E('INVALID_ARGUMENT'), /ttlSeconds/);
  throwsCode(open('x', { dir, lockTimeoutMs: 'soon' }), ...E('INVALID_ARGUMENT'), /lockTimeoutMs/);

  throwsCode(() => cache.get('a\0'), ...E('INVALID_ARGUMENT'), /NUL/);
  throwsCode(() => cache.get(undefined), ...E('INVALID_ARGUMENT'), /string/);
  throwsCode(() => cache.addRawSync(Buffer.from('{"id":"\xff"}', 'latin1')), ...E('INVALID_UTF8'), /UTF-8/);
  throwsCode(() => cache.addRawSync('{bad'), ...E('INVALID_JSON'), /JSON/);
  throwsCode(() => cache.addRawSync('{"id":"a"}\0junk'), ...E('INVALID_JSON'), /NUL/);
  throwsCode(() => cache.addRawSync(Buffer.from('{"id":"a"}\0junk')), ...E('INVALID_JSON'), /NUL/);
  throwsCode(() => cache.addSync(undefined), ...E('INVALID_JSON'));
  throwsCode(() => cache.addListSync({ id: 'a' }), ...E('INVALID_JSON'), /array/);
  throwsCode(() => cache.addListRawSync('{"id":"a"}'), ...E('INVALID_JSON'), /array/);
  throwsCode(() => cache.addSync({ name: 'no id' }), ...E('MISSING_ID'), /id/);
  throwsCode(() => cache.addSync({ id: '' }), ...E('MISSING_ID'), /id/);
  throwsCode(() => cache.addSync({ id: 7 }), ...E('MISSING_ID'), /id/);
  throwsCode(() => cache.addSync([{ id: 'a' }]), ...E('MISSING_ID'));
  throwsCode(() => cache.addListSync([{ id: 'ok' }, { name: 'no id' }]), ...E('MISSING_ID'), /1/);
  throwsCode(open('dirjson', { dir }), ...E('IO'), /dirjson\.json/);
  const addTo = (name, options) => () => {
    const c = AssetCache.openSync(name, options);
    try {
      c.addSync({ id: 'a' });
    } finally {
      c.close();
    }
  };
  throwsCode(addTo('x', { dir: path.join(dir, 'plain-file', 'sub') }), ...E('IO'), /create folder/);
  throwsCode(addTo('lockdir', { dir }), ...E('LOCK'), /lock/);
  // A failed write leaves the cache as it was.
  assert.equal(cache.size, 0);
  // JSON.stringify's own errors are not hidden.
  assert.throws(() => cache.addSync({ id: 'n', big: 1n }), TypeError);
});

test('a lock held by another process gives ASSET_CACHE_LOCK_TIMEOUT', async (t) => {
  const dir = tempDir(t);
  const lockFile = path.join(dir, 'held.lock');
  fs.writeFileSync(lockFile, '');
  // flock(1) holds the lock from another process while we try to write.
  // Its own process group, so that the lock is released by killing flock and
  // sleep together (sleep inherits the locked descriptor).
  const holder = spawn('flock', ['--exclusive', lockFile, 'sleep', '30'], { stdio: 'ignore', detached: true });
  const release = () => {
    try {
      process.kill(-holder.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.after(release);
  const cache = opened(t, dir, 'held', { lockTimeoutMs: 0 });
  // Wait until the holder has the lock: a try-lock of our own fails then.
  for (let i = 0; ; i++) {
    const r = spawnSync('flock', ['--exclusive', '--nonblock', lockFile, 'true']);
    if (r.status !== 0) break;
    assert.ok(i < 500, 'flock never took the lock');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throwsCode(() => cache.addSync({ id: 'a' }), 'ASSET_CACHE_LOCK_TIMEOUT', Status.LOCK_TIMEOUT, /lock/);
  const exited = new Promise((resolve) => holder.on('exit', resolve));
  release();
  await exited;
  // flock's exit can be seen before its child sleep, which holds the same
  // lock, is gone: wait until the lock is free (the add failed now and then).
  for (let i = 0; spawnSync('flock', ['--exclusive', '--nonblock', lockFile, 'true']).status !== 0; i++) {
    assert.ok(i < 500, 'the lock was not released');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  cache.addSync({ id: 'a' });
  assert.equal(cache.size, 1);
});

test('two caches on the same files lose no update', (t) => {
  const dir = tempDir(t);
  const a = opened(t, dir, 'two');
  const b = opened(t, dir, 'two');
  // b has not seen a's asset, yet its add must not overwrite it on disk.
  a.addSync({ id: 'from-a' });
  b.addSync({ id: 'from-b' });
  assert.equal(a.get('from-b'), undefined, 'memory changes only on load()');
  a.loadSync();
  assert.deepEqual(a.get('from-b'), { id: 'from-b' });
  for (let i = 0; i < 50; i++) {
    a.addSync({ id: `a-${i}` });
    b.addSync({ id: `b-${i}` });
  }
  const fresh = opened(t, dir, 'two');
  assert.equal(fresh.size, 102);
  b.loadSync();
  assert.equal(b.size, 102);
});

test('processes writing the same files concurrently lose no update', async (t) => {
  const dir = tempDir(t);
  const script = `
    const { AssetCache } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const [dir, worker] = process.argv.slice(1);
    const cache = AssetCache.openSync('procs', { dir });
    for (let i = 0; i < 30; i++) cache.addSync({ id: 'p' + worker + '-' + i, worker });
    cache.close();`;
  const codes = await Promise.all(
    [0, 1, 2].map(
      (w) =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, ['-e', script, dir, String(w)], { stdio: 'inherit' });
          child.on('exit', resolve);
        }),
    ),
  );
  assert.deepEqual(codes, [0, 0, 0]);
  const cache = opened(t, dir, 'procs');
  assert.equal(cache.size, 90);
});

test('close and Symbol.dispose are idempotent; a closed cache throws ASSET_CACHE_CLOSED', (t) => {
  const dir = tempDir(t);
  const cache = AssetCache.openSync('close', { dir });
  cache.addSync({ id: 'a' });
  assert.equal(cache.closed, false);
  cache.close();
  cache.close();
  const dispose = Symbol.dispose ?? Symbol.for('nodejs.dispose');
  cache[dispose]();
  assert.equal(cache.closed, true);
  const calls = {
    get: () => cache.get('a'),
    getRaw: () => cache.getRaw('a'),
    getAll: () => cache.getAll(),
    add: () => cache.addSync({ id: 'b' }),
    addList: () => cache.addListSync([]),
    load: () => cache.loadSync(),
    save: () => cache.saveSync(),
    invalidate: () => cache.invalidateSync(),
    hasValidCache: () => cache.hasValidCache(),
    expiry: () => cache.expiry(),
    size: () => cache.size,
  };
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, (err) => err instanceof AssetCacheError && err.code === 'ASSET_CACHE_CLOSED', name);
  }

  const disposed = AssetCache.openSync('close', { dir });
  assert.deepEqual(disposed.get('a'), { id: 'a' }, 'the files stay after close');
  disposed[dispose]();
  disposed.close();
  assert.equal(disposed.closed, true);
});

test('caches never closed are freed by the FinalizationRegistry without harm', async (t) => {
  const dir = tempDir(t);
  assert.equal(typeof global.gc, 'function', 'run with node --expose-gc');
  (() => {
    for (let i = 0; i < 200; i++) {
      AssetCache.openSync('leaked', { dir }).addSync({ id: `x${i % 5}` });
    }
  })();
  for (let i = 0; i < 5; i++) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const cache = opened(t, dir, 'leaked');
  assert.equal(cache.size, 5);
});

test('index.d.ts declares what index.js provides', () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  const body = dts.slice(dts.indexOf('export declare class AssetCache<'));
  const classBody = body.slice(0, body.indexOf('\n}\n'));
  const methods = [...classBody.matchAll(/^ {2}(?:static )?(\w+)(?:<[^>]*>)?\(/gm)].map((m) => m[1]);
  const props = [...classBody.matchAll(/^ {2}readonly (\w+)/gm)].map((m) => m[1]);
  assert.ok(methods.length >= 15, `parsed only ${methods}`);
  for (const name of methods) {
    const owner = name === 'open' || name === 'openSync' ? AssetCache : AssetCache.prototype;
    assert.equal(typeof owner[name], 'function', `index.d.ts declares ${name}() but index.js lacks it`);
  }
  for (const name of props) {
    assert.ok(Object.getOwnPropertyDescriptor(AssetCache.prototype, name)?.get, `no getter ${name}`);
  }
  const declared = new Set([...methods, ...props, 'constructor']);
  for (const name of Object.getOwnPropertyNames(AssetCache.prototype)) {
    assert.ok(declared.has(name), `index.js has ${name} but index.d.ts does not declare it`);
  }
  for (const name of ['AssetCache', 'AssetCacheError', 'Status', 'version', 'libraryPath', 'defaultLockTimeoutMs']) {
    assert.match(dts, new RegExp(`export declare (const|class|function) ${name}\\b`));
    assert.ok(require('..')[name], `index.js does not export ${name}`);
  }
});

// The default lock timeout is written once, in the library; the binding
// reads it from there. Checked that it can fail: with defaultLockTimeoutMs()
// returning a literal 30001, this test failed.
test('defaultLockTimeoutMs() is the header\'s ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS', () => {
  const header = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'asset_cache.h'), 'utf8');
  const m = header.match(/^#define ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS (\d+)$/m);
  assert.ok(m, 'the header has no ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS');
  assert.equal(defaultLockTimeoutMs(), Number(m[1]));
});

// Options go through the library's options object; a bad one is reported
// by the open with the setter that refused it, and nothing is created.
test('a bad option fails the open naming it, and creates nothing', (t) => {
  const dir = tempDir(t);
  throwsCode(() => AssetCache.openSync('a/b', { dir }), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT,
    /asset_cache_config_set_name failed: .*separator/);
  throwsCode(() => AssetCache.openSync('x', { dir: '' }), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT,
    /asset_cache_config_set_dir failed: dir is empty/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('an unknown option name is refused, naming the key, and creates nothing', async (t) => {
  // checked: without the OPTION_KEYS check, { dirr, ttl } opened with the
  // defaults (".cache" in the working directory) and both throwsCode failed.
  const dir = tempDir(t);
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  throwsCode(() => AssetCache.openSync('m', { dirr: 'x', ttl: 5 }), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT,
    /unknown option "dirr"/);
  throwsCode(() => new AssetCache('m', { dir, ttl: 5 }), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT,
    /unknown option "ttl"/);
  await assert.rejects(AssetCache.open('m', { dir, lockTimeout: 5 }),
    (err) => err.code === 'ASSET_CACHE_INVALID_ARGUMENT' && /unknown option "lockTimeout"/.test(err.message));
  throwsCode(() => AssetCache.openSync('m', 'dir'), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT,
    /options must be an object, got string/);
  assert.deepEqual(fs.readdirSync(dir), []);
  opened(t, dir, 'ok', { dir, ttlSeconds: 5, lockTimeoutMs: 10, durable: false }).addSync({ id: 'a' });
});

test('a non-object asset gets MISSING_ID saying plainly what was given', (t) => {
  // checked: with the library's old message ("asset invalid type: null,
  // expected a JSON object at line 1 column 4") the regexps fail.
  const cache = opened(t, tempDir(t), 'm');
  throwsCode(() => cache.addSync(null), 'ASSET_CACHE_MISSING_ID', Status.MISSING_ID,
    /^.*asset must be a JSON object with a string "id", got null$/);
  throwsCode(() => cache.addRawSync('[1,2]'), 'ASSET_CACHE_MISSING_ID', Status.MISSING_ID,
    /asset must be a JSON object with a string "id", got an array$/);
  throwsCode(() => cache.addListSync([{ id: 'a' }, 5]), 'ASSET_CACHE_MISSING_ID', Status.MISSING_ID,
    /element 1: asset must be a JSON object with a string "id", got a number$/);
  assert.equal(cache.size, 0);
});

test('ttlSeconds is whole seconds, a fraction rounded up; 0 and negative are refused', (t) => {
  // The rule of every binding (Go's WithTTL, Python's ttl_seconds). checked:
  // Math.floor in makeConfig fails 0.5 (INVALID_ARGUMENT) and 1.5 (1 s).
  const dir = tempDir(t);
  for (const [ttl, whole] of [[0.5, 1], [1, 1], [1.5, 2], [59.01, 60]]) {
    const c = opened(t, dir, `ttl${whole}x${String(ttl).replace('.', '_')}`, { ttlSeconds: ttl });
    const before = Date.now() / 1000;
    c.invalidateSync();
    const left = c.expiry().getTime() / 1000 - before;
    assert.ok(left > whole - 0.5 && left < whole + 0.5, `ttlSeconds ${ttl}: ${left} s left, want ${whole}`);
  }
  for (const ttl of [0, -1, -0.5]) {
    throwsCode(() => AssetCache.openSync('bad', { dir, ttlSeconds: ttl }), 'ASSET_CACHE_INVALID_ARGUMENT', Status.INVALID_ARGUMENT);
  }
});
