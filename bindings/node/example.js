// The README's Node example; test/example.test.js runs it and checks its output.
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { AssetCache, AssetCacheError } = require('asset-cache');

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-example-'));
  // Calls that touch the file or the lock return promises: they run on a
  // worker thread, so waiting for another process's lock never blocks the
  // event loop. Each has a synchronous twin for scripts: openSync, addSync, ...
  const cache = await AssetCache.open('models', { dir, ttlSeconds: 24 * 3600 });
  try {
    await cache.addList([{ id: 'm1', name: 'first' }, { id: 'm2', name: 'second' }]);
    await cache.add({ id: 'm1', name: 'first, updated' }); // on disk when the promise resolves

    console.log(cache.get('m1').name); // reads are from memory, synchronous; parsed with JSON.parse
    console.log(cache.getRaw('m2')); // the JSON text as it was added
    console.log(cache.size, 'assets, valid:', cache.hasValidCache());
    console.log(cache.get('m3')); // a miss is undefined

    try {
      await cache.add({ name: 'no id' });
    } catch (err) {
      if (!(err instanceof AssetCacheError)) throw err;
      console.log(err.code, err.status);
    }
  } finally {
    cache.close(); // in TypeScript 5.2+: `await using cache = await AssetCache.open(...)` closes it for you
    fs.rmSync(dir, { recursive: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
