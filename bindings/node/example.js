// The README's Node example; test/example.test.js runs it and checks its output.
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { AssetCache, AssetCacheError } = require('asset-cache');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asset-cache-example-'));
const cache = AssetCache.open('models', { dir, ttlSeconds: 24 * 3600 });
try {
  cache.addList([{ id: 'm1', name: 'first' }, { id: 'm2', name: 'second' }]);
  cache.add({ id: 'm1', name: 'first, updated' }); // on disk when add() returns

  console.log(cache.get('m1').name); // parsed with JSON.parse
  console.log(cache.getRaw('m2')); // the JSON text as it was added
  console.log(cache.size, 'assets, valid:', cache.hasValidCache());
  console.log(cache.get('m3')); // a miss is undefined

  try {
    cache.add({ name: 'no id' });
  } catch (err) {
    if (!(err instanceof AssetCacheError)) throw err;
    console.log(err.code, err.status);
  }
} finally {
  cache.close(); // in TypeScript 5.2+: `using cache = AssetCache.open(...)` closes it for you
  fs.rmSync(dir, { recursive: true });
}
