// Type declarations of the asset-cache package (bindings/node/index.js).

/** Status codes of the C API; the numbers never change. */
export declare const Status: Readonly<{
  OK: 0;
  NOT_FOUND: 1;
  INVALID_ARGUMENT: 2;
  INVALID_UTF8: 3;
  INVALID_JSON: 4;
  MISSING_ID: 5;
  IO: 6;
  LOCK: 7;
  LOCK_TIMEOUT: 8;
  NO_MEMORY: 9;
  PANIC: 10;
  BACKEND_UNAVAILABLE: 11;
  BACKEND_ERROR: 12;
  FETCH_FAILED: 13;
  STALE: 14;
}>;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** `ASSET_CACHE_<status name>`, or ASSET_CACHE_CLOSED for a call after close(). */
export type AssetCacheErrorCode =
  | 'ASSET_CACHE_NOT_FOUND'
  | 'ASSET_CACHE_INVALID_ARGUMENT'
  | 'ASSET_CACHE_INVALID_UTF8'
  | 'ASSET_CACHE_INVALID_JSON'
  | 'ASSET_CACHE_MISSING_ID'
  | 'ASSET_CACHE_IO'
  | 'ASSET_CACHE_LOCK'
  | 'ASSET_CACHE_LOCK_TIMEOUT'
  | 'ASSET_CACHE_NO_MEMORY'
  | 'ASSET_CACHE_PANIC'
  | 'ASSET_CACHE_BACKEND_UNAVAILABLE'
  | 'ASSET_CACHE_BACKEND_ERROR'
  | 'ASSET_CACHE_FETCH_FAILED'
  | 'ASSET_CACHE_STALE'
  | 'ASSET_CACHE_CLOSED';

/** A failure reported by the library, or refused before calling it. */
export declare class AssetCacheError extends Error {
  readonly name: 'AssetCacheError';
  /** The method that failed, e.g. "add". */
  readonly op: string;
  /** The C status (ASSET_CACHE_CLOSED carries INVALID_ARGUMENT, 2). */
  readonly status: StatusCode;
  readonly code: AssetCacheErrorCode;
  /** ASSET_CACHE_FETCH_FAILED, ASSET_CACHE_STALE: what the fetch threw. */
  readonly cause?: unknown;
  /** ASSET_CACHE_STALE: the expired asset (or, from refreshAll, assets) served instead. */
  readonly stale?: unknown;
}

/** Options of open(); any other key throws ASSET_CACHE_INVALID_ARGUMENT naming it. */
export interface AssetCacheOptions {
  /** Folder of the cache and lock files; default ".cache" in the current directory. */
  dir?: string;
  /**
   * Lifetime of a new store in whole seconds (the C API's ttl_seconds is an
   * integer): a fraction is rounded up (0.5 and 1 give 1 s, 1.5 gives 2 s),
   * the rule of every binding (Go's WithTTL, Python's ttl_seconds). Default:
   * the CACHE_EXPIRY_TIME environment variable (read as Python's int() reads
   * it), or 86400. Zero or negative throws ASSET_CACHE_INVALID_ARGUMENT,
   * since every asset would expire as it is added.
   */
  ttlSeconds?: number;
  /**
   * Longest wait for another process's lock, in ms (default
   * defaultLockTimeoutMs(), the library's); then
   * the call throws ASSET_CACHE_LOCK_TIMEOUT. 0 tries once; negative or
   * Infinity waits forever.
   */
  lockTimeoutMs?: number;
  /** fsync every write so it survives power loss (default false). */
  durable?: boolean;
  /** Stale-if-error: ms after expiry during which a failed fetch gives ASSET_CACHE_STALE with the expired value. Default 0: never. */
  staleIfErrorMs?: number;
  /** Size cap: keep the most recently written N assets; 0: no cap. Default: CACHE_MAX_ENTRIES, else no cap. */
  maxEntries?: number;
  /** Fresh reads: the longest, in ms, reads may lag other processes' writes without load(). Default: memory only. */
  maxStalenessMs?: number;
  /**
   * Mode of a cache file or lock file the library creates (default 0o600,
   * the owner's only), e.g. 0o660 for a cache shared by a group; applied
   * exactly, whatever the umask. A rewrite keeps the existing file's mode.
   * Must give the owner read and write, else ASSET_CACHE_INVALID_ARGUMENT.
   */
  fileMode?: number;
  /**
   * Mode of each folder the library creates (default 0o700), e.g. 0o2770
   * for a folder shared by a group. Existing folders are never changed.
   */
  dirMode?: number;
  /**
   * Keep the cache on a Redis server (7.0+, or Valkey) instead of in `dir`,
   * so that processes on many hosts share it:
   * "redis://[user:password@]host[:port][/db]",
   * "rediss://...?ssl_ca_certs=/path/ca.pem" (TLS; without ssl_ca_certs the
   * system's trust store is used) or "redis+unix:///path". getOrFetch and
   * refreshAll fetch once across every host on the server.
   * Calls then throw ASSET_CACHE_BACKEND_UNAVAILABLE (server unreachable, no
   * answer within backendTimeoutMs) or ASSET_CACHE_BACKEND_ERROR (credentials
   * refused, a key of another type at the cache's key names, a TLS
   * certificate not trusted); a URL that does not parse, or a CA file that
   * cannot be read, throws ASSET_CACHE_INVALID_ARGUMENT.
   */
  backendUrl?: string;
  /**
   * Longest wait for each answer of the backend server, in ms (default 5000).
   * On Redis it also sizes a getOrFetch claim's lease (twice it, at least
   * 1 s, renewed while the fetch runs): a fetcher that dies is taken over
   * that long after.
   */
  backendTimeoutMs?: number;
}

/** Any JSON object with a non-empty string `id`. */
export interface Asset {
  id: string;
  [key: string]: unknown;
}

/**
 * An open cache: `<dir>/<name>.json`, shared safely with other instances and
 * other processes through `<dir>/<name>.lock`.
 *
 * Calls that touch the file or the lock return promises and run on a worker
 * thread (libuv's pool), so waiting for another process's lock (up to
 * lockTimeoutMs) never blocks the event loop: open, add, addRaw, addList,
 * addListRaw, load, save, invalidate. Each has a synchronous twin with the
 * suffix Sync (openSync, or the constructor) for scripts. A cache's promise
 * calls run one at a time in the order they were made; synchronous calls do
 * not wait for them. Reads answer from memory and are synchronous.
 * Failures reject (or throw) AssetCacheError.
 *
 * A string argument (id, name, dir, JSON text) that is not well-formed
 * Unicode (a lone surrogate, which has no UTF-8 form) fails with
 * ASSET_CACHE_INVALID_UTF8 instead of being passed on changed; so does an
 * asset whose "id" holds one. Lone surrogates elsewhere in an asset
 * round-trip, as JSON escapes.
 */
export declare class AssetCache<T extends Asset = Asset> {
  /** Opens the cache on this thread and loads its file if there is one; never creates files. */
  constructor(name: string, options?: AssetCacheOptions);
  /** Opens the cache on a worker thread. */
  static open<T extends Asset = Asset>(name: string, options?: AssetCacheOptions): Promise<AssetCache<T>>;
  /** Opens the cache on this thread (the constructor). */
  static openSync<T extends Asset = Asset>(name: string, options?: AssetCacheOptions): AssetCache<T>;

  readonly name: string;
  /** Whether close() has been called. */
  readonly closed: boolean;
  /** The number of assets in memory. */
  readonly size: number;

  /** The asset, parsed, or undefined when absent or expired. Call load() first to see other processes' writes. */
  get(id: string): T | undefined;
  /** The asset's JSON text as it was added, or undefined. */
  getRaw(id: string): string | undefined;
  /** Every asset, in insertion order. */
  getAll(): T[];
  /** Every asset as the JSON text of an array. */
  getAllRaw(): string;

  /** Adds or replaces one asset (JSON.stringify); resolves once it is on disk. */
  add(asset: T): Promise<void>;
  /** add() on this thread; on disk when it returns. */
  addSync(asset: T): void;
  /** add() for JSON text, as a string or UTF-8 bytes. */
  addRaw(json: string | Uint8Array): Promise<void>;
  addRawSync(json: string | Uint8Array): void;
  /** Replaces the whole cache with these assets and starts a fresh expiry. */
  addList(assets: T[]): Promise<void>;
  addListSync(assets: T[]): void;
  /** addList() for the JSON text of an array, as a string or UTF-8 bytes. */
  addListRaw(json: string | Uint8Array): Promise<void>;
  addListRawSync(json: string | Uint8Array): void;

  /** Brings memory up to date with the file. */
  load(): Promise<void>;
  loadSync(): void;
  /** Rewrites (compacts) the file from memory. */
  save(): Promise<void>;
  saveSync(): void;
  /** Empties the cache, starts a fresh expiry and deletes the cache file. */
  invalidate(): Promise<void>;
  invalidateSync(): void;

  /**
   * The asset `id` from the cache, or else `fetch(id)`'s result, stored under
   * `id`: one fetch per id for every thread and process of the host at once
   * (single-flight); waiting polls from timers and never blocks the event
   * loop. Rejects with ASSET_CACHE_FETCH_FAILED (`cause`: the fetch's error),
   * ASSET_CACHE_STALE (`stale`: the expired asset), ASSET_CACHE_LOCK_TIMEOUT,
   * or the signal's reason.
   */
  getOrFetch<T extends Asset = Asset>(
    id: string,
    fetch: (id: string) => T | Promise<T>,
    options?: { signal?: AbortSignal },
  ): Promise<T>;
  /** Every asset when the store is valid, or else `fetchAll()`'s, replacing the store (single-flight). */
  refreshAll<T extends Asset = Asset>(
    fetchAll: () => T[] | Promise<T[]>,
    options?: { signal?: AbortSignal },
  ): Promise<T[]>;
  /** Removes `id` from the file and memory; whether it was cached. */
  remove(id: string): Promise<boolean>;
  removeSync(id: string): boolean;
  /** Whether `id` is cached and the store has not expired (memory). */
  has(id: string): boolean;
  /** The ids in insertion order (memory). */
  ids(): string[];
  /** Adds these assets in one write, keeping the others. */
  addMany(assets: Asset[]): Promise<void>;
  addManySync(assets: Asset[]): void;
  /** Adds one asset under `key` instead of its own id. */
  addWithKey(key: string, asset: Asset): Promise<void>;
  addWithKeySync(key: string, asset: Asset): void;

  /** Whether the store has not expired and holds at least one asset. */
  hasValidCache(): boolean;
  /** When the store expires (millisecond precision). */
  expiry(): Date;
  /** When the store expires, in fractional Unix seconds. */
  expirySeconds(): number;

  /**
   * Closes the cache; the files stay. Later calls fail with ASSET_CACHE_CLOSED;
   * promise calls already made complete first, then the handle is freed. Idempotent.
   */
  close(): void;
  /** close(), resolving once the handle is freed. */
  closeAsync(): Promise<void>;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The loaded library's version, e.g. "0.2.0". */
export declare function version(): string;

/**
 * The library's default lock timeout in ms (ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS
 * of the C header), read from the library: lockTimeoutMs when not given.
 */
export declare function defaultLockTimeoutMs(): number;

/**
 * The path the shared library is (or would be) loaded from: $ASSET_CACHE_LIB;
 * else, in a checkout of the repository, its target/release; else the copy
 * this package ships for the platform, prebuilds/<platform>-<arch>[-<libc>]/
 * (linux-x64-glibc). Throws an Error with `code` "ASSET_CACHE_NO_LIBRARY" and
 * `platform` (e.g. "linux-arm64-musl") when there is none; the first call that
 * needs the library throws the same.
 */
export declare function libraryPath(): string;
