// Compiled by `tsc -p test` (no output): proves index.d.ts is valid and
// describes the API as the tests use it.
import { AssetCache, AssetCacheError, Status, version, type Asset } from '..';

interface Model extends Asset {
  id: string;
  name: string;
  score?: number;
}

const cache = AssetCache.openSync<Model>('models', { dir: '/tmp/x', ttlSeconds: 60, lockTimeoutMs: 100, durable: false });
cache.addSync({ id: 'm1', name: 'first' });
cache.addListSync([{ id: 'm2', name: 'second', score: 2 }]);
cache.addRawSync('{"id":"m3","name":"third"}');
cache.addListRawSync(new Uint8Array([91, 93]));
const m: Model | undefined = cache.get('m1');
const raw: string | undefined = cache.getRaw('m1');
const all: Model[] = cache.getAll();
const n: number = cache.size;
const valid: boolean = cache.hasValidCache();
const when: Date = cache.expiry();
const secs: number = cache.expirySeconds();
cache.loadSync();
cache.saveSync();
cache.invalidateSync();
try {
  cache.addSync({ id: '', name: 'x' });
} catch (err) {
  if (err instanceof AssetCacheError && err.code === 'ASSET_CACHE_MISSING_ID' && err.status === Status.MISSING_ID) {
    console.log(err.op, err.message);
  }
}
{
  using scoped = new AssetCache('scoped');
  scoped.addSync({ id: 'a' });
}
async function promises(): Promise<void> {
  await using opened = await AssetCache.open<Model>('models', { dir: '/tmp/x' });
  const done: Promise<void> = opened.add({ id: 'm4', name: 'fourth' });
  await done;
  await opened.addList([{ id: 'm5', name: 'fifth' }]);
  await opened.addRaw(new Uint8Array([123, 125]));
  await opened.addListRaw('[]');
  await opened.load();
  await opened.save();
  await opened.invalidate();
  await opened.closeAsync();
}
void promises();
cache.close();
const v: string = version();
console.log(m, raw, all, n, valid, when, secs, v);
