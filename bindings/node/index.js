'use strict';
// Node binding of asset_cache over its C ABI, through koffi.
//
// Ownership rules of the C API, as applied here: strings passed in are
// borrowed for one call (koffi converts and releases them); strings the
// library returns through `char **` are decoded to JS strings and then freed
// at once with asset_cache_string_free; the handle is freed by close(),
// Symbol.dispose, or, as a safety net, a FinalizationRegistry.

const fs = require('node:fs');
const path = require('node:path');
// koffi is required on first use, after the library is found, so that a
// platform without a library gets our error (naming it) and not koffi's.
let koffi = null;
const { platformTarget, libraryFileName } = require('./platform');

/** Status codes of the C API (asset_cache_status); never renumbered. */
const Status = Object.freeze({
  OK: 0,
  NOT_FOUND: 1,
  INVALID_ARGUMENT: 2,
  INVALID_UTF8: 3,
  INVALID_JSON: 4,
  MISSING_ID: 5,
  IO: 6,
  LOCK: 7,
  LOCK_TIMEOUT: 8,
  NO_MEMORY: 9,
  PANIC: 10,
  BACKEND_UNAVAILABLE: 11,
  BACKEND_ERROR: 12,
  FETCH_FAILED: 13,
  STALE: 14,
});

const CODE_BY_STATUS = Object.fromEntries(
  Object.entries(Status).map(([name, value]) => [value, `ASSET_CACHE_${name}`]),
);

class AssetCacheError extends Error {
  /**
   * @param {string} op the method that failed, e.g. "add"
   * @param {number} status a Status value
   * @param {string} message the library's explanation
   * @param {string} [code] defaults to ASSET_CACHE_<status name>
   */
  constructor(op, status, message, code) {
    super(`${op}: ${message}`);
    this.name = 'AssetCacheError';
    this.op = op;
    this.status = status;
    this.code = code ?? CODE_BY_STATUS[status] ?? 'ASSET_CACHE_UNKNOWN';
  }
}

// ---- the library ----

/**
 * Where the shared library is loaded from, the first that applies:
 * $ASSET_CACHE_LIB; in a checkout of the repository, its release build
 * (../../target/release, from `cargo build --release`); the library shipped
 * in this package for this platform (prebuilds/<platform>-<arch>[-<libc>]/).
 * Throws an Error with code ASSET_CACHE_NO_LIBRARY naming the platform when
 * there is none.
 */
function libraryPath() {
  if (process.env.ASSET_CACHE_LIB) {
    return process.env.ASSET_CACHE_LIB;
  }
  const file = libraryFileName();
  const repo = path.join(__dirname, '..', '..');
  const built = path.join(repo, 'target', 'release', file);
  // The repository's Cargo.toml guards against picking up some other
  // project's target/ two folders above an installed package.
  if (fs.existsSync(path.join(repo, 'Cargo.toml')) && fs.existsSync(built)) {
    return built;
  }
  const target = platformTarget();
  const shipped = path.join(__dirname, 'prebuilds', target, file);
  if (fs.existsSync(shipped)) {
    return shipped;
  }
  let available = [];
  try {
    available = fs.readdirSync(path.join(__dirname, 'prebuilds'));
  } catch {
    // a checkout without a build: no prebuilds folder
  }
  const err = new Error(
    `asset-cache: no prebuilt library for ${target} in this package` +
      ` (it ships ${available.length ? available.join(', ') : 'none'}). ` +
      'Build libasset_cache from source (`cargo build --release` in the asset-cache repository) ' +
      'and set ASSET_CACHE_LIB to its path.',
  );
  err.code = 'ASSET_CACHE_NO_LIBRARY';
  err.platform = target;
  throw err;
}

let native = null;

// Loaded on first use, so that requiring the package never fails and the
// error, if any, comes from open() with the paths tried.
function lib() {
  if (native) {
    return native;
  }
  const file = libraryPath();
  koffi = require('koffi');
  let handle;
  try {
    handle = koffi.load(file);
  } catch (cause) {
    // e.g. a glibc older than the one the prebuilt library needs
    // A path from the environment is the first suspect: say so.
    const from = process.env.ASSET_CACHE_LIB ? ' (from ASSET_CACHE_LIB)' : '';
    const err = new Error(`asset-cache: cannot load ${file}${from} on ${platformTarget()}: ${cause.message}`, {
      cause,
    });
    err.code = 'ASSET_CACHE_NO_LIBRARY';
    err.platform = platformTarget();
    throw err;
  }
  koffi.opaque('asset_cache');
  koffi.opaque('asset_cache_config');
  koffi.opaque('asset_cache_error');
  koffi.opaque('asset_cache_claim');
  // The frozen 0.1 options struct, only to read the library's defaults
  // (asset_cache_options_init); caches are opened through asset_cache_config.
  koffi.struct('asset_cache_options', {
    dir: 'const char *',
    name: 'const char *',
    ttl_seconds: 'int64_t',
    lock_timeout_ms: 'int64_t',
    durable: 'bool',
  });
  // Every call that can fail goes through an entry point with a trailing
  // `asset_cache_error **err`: the failure comes back as an error object
  // read here, not from the library's per-thread last error, so the same
  // functions work when koffi runs them on a worker thread (`.async`).
  // Returned strings come back as `void **` so that the raw pointer stays
  // in our hands to be freed after decoding.
  const signatures = {
    version: 'const char *asset_cache_version(void)',
    optionsInit: 'void asset_cache_options_init(_Out_ asset_cache_options *opts)',
    errorStatus: 'int asset_cache_error_status(const asset_cache_error *err)',
    errorMessage: 'const char *asset_cache_error_message(const asset_cache_error *err)',
    errorFree: 'void asset_cache_error_free(asset_cache_error *err)',
    configNew: 'int asset_cache_config_new(_Out_ asset_cache_config **out)',
    configFree: 'void asset_cache_config_free(asset_cache_config *cfg)',
    configSetDir: 'int asset_cache_config_set_dir(asset_cache_config *cfg, const char *dir)',
    configSetName: 'int asset_cache_config_set_name(asset_cache_config *cfg, const char *name)',
    configSetTtlSeconds: 'int asset_cache_config_set_ttl_seconds(asset_cache_config *cfg, int64_t seconds)',
    configSetLockTimeoutMs: 'int asset_cache_config_set_lock_timeout_ms(asset_cache_config *cfg, int64_t ms)',
    configSetDurable: 'int asset_cache_config_set_durable(asset_cache_config *cfg, bool durable)',
    configSetStaleIfErrorMs: 'int asset_cache_config_set_stale_if_error_ms(asset_cache_config *cfg, int64_t ms)',
    configSetMaxEntries: 'int asset_cache_config_set_max_entries(asset_cache_config *cfg, size_t max_entries)',
    configSetMaxStalenessMs: 'int asset_cache_config_set_max_staleness_ms(asset_cache_config *cfg, int64_t ms)',
    configSetFileMode: 'int asset_cache_config_set_file_mode(asset_cache_config *cfg, uint32_t mode)',
    configSetDirMode: 'int asset_cache_config_set_dir_mode(asset_cache_config *cfg, uint32_t mode)',
    configSetBackendUrl: 'int asset_cache_config_set_backend_url(asset_cache_config *cfg, const char *url)',
    configSetBackendTimeoutMs: 'int asset_cache_config_set_backend_timeout_ms(asset_cache_config *cfg, int64_t ms)',
    open: 'int asset_cache_open_config(const asset_cache_config *cfg, _Out_ asset_cache **out, _Out_ asset_cache_error **err)',
    free: 'void asset_cache_free(asset_cache *cache)',
    stringFree: 'void asset_cache_string_free(void *s)',
    get: 'int asset_cache_get_ex(const asset_cache *cache, const char *id, _Out_ void **out_json, _Out_ asset_cache_error **err)',
    getAll: 'int asset_cache_get_all_ex(const asset_cache *cache, _Out_ void **out_json, _Out_ asset_cache_error **err)',
    hasValidCache: 'int asset_cache_has_valid_cache_ex(const asset_cache *cache, _Out_ bool *out_valid, _Out_ asset_cache_error **err)',
    expiry: 'int asset_cache_expiry_ex(const asset_cache *cache, _Out_ double *out_expiry, _Out_ asset_cache_error **err)',
    len: 'int asset_cache_len_ex(const asset_cache *cache, _Out_ size_t *out_len, _Out_ asset_cache_error **err)',
    add: 'int asset_cache_add_ex(const asset_cache *cache, const char *asset_json, _Out_ asset_cache_error **err)',
    addList: 'int asset_cache_add_list_ex(const asset_cache *cache, const char *assets_json, _Out_ asset_cache_error **err)',
    load: 'int asset_cache_load_ex(const asset_cache *cache, _Out_ asset_cache_error **err)',
    save: 'int asset_cache_save_ex(const asset_cache *cache, _Out_ asset_cache_error **err)',
    invalidate: 'int asset_cache_invalidate_ex(const asset_cache *cache, _Out_ asset_cache_error **err)',
    beginFetch:
      'int asset_cache_begin_fetch_ex(const asset_cache *cache, const char *id, int64_t wait_ms, ' +
      '_Out_ asset_cache_claim **out_claim, _Out_ void **out_json, _Out_ asset_cache_error **err)',
    beginRefreshAll:
      'int asset_cache_begin_refresh_all_ex(const asset_cache *cache, int64_t wait_ms, ' +
      '_Out_ asset_cache_claim **out_claim, _Out_ void **out_json, _Out_ asset_cache_error **err)',
    claimComplete:
      'int asset_cache_claim_complete_ex(const asset_cache *cache, asset_cache_claim *claim, const char *json, ' +
      '_Out_ asset_cache_error **err)',
    claimFail:
      'int asset_cache_claim_fail_ex(const asset_cache *cache, asset_cache_claim *claim, const char *message, ' +
      '_Out_ void **out_json, _Out_ asset_cache_error **err)',
    claimAbandon: 'void asset_cache_claim_abandon(asset_cache_claim *claim)',
    remove:
      'int asset_cache_remove_ex(const asset_cache *cache, const char *id, _Out_ bool *out_removed, ' +
      '_Out_ asset_cache_error **err)',
    contains:
      'int asset_cache_contains_ex(const asset_cache *cache, const char *id, _Out_ bool *out_contains, ' +
      '_Out_ asset_cache_error **err)',
    ids: 'int asset_cache_ids_ex(const asset_cache *cache, _Out_ void **out_json, _Out_ asset_cache_error **err)',
    addMany: 'int asset_cache_add_many_ex(const asset_cache *cache, const char *assets_json, _Out_ asset_cache_error **err)',
    addWithKey:
      'int asset_cache_add_with_key_ex(const asset_cache *cache, const char *key, const char *asset_json, ' +
      '_Out_ asset_cache_error **err)',
  };
  const fns = {};
  for (const [key, proto] of Object.entries(signatures)) {
    fns[key] = handle.func(proto);
  }
  // Raw JSON given as bytes goes to the same functions, typed as bytes.
  fns.addBytes = handle.func('asset_cache_add_ex', 'int', [
    'asset_cache *',
    'const uint8_t *',
    koffi.out(koffi.pointer('asset_cache_error', 2)),
  ]);
  fns.addListBytes = handle.func('asset_cache_add_list_ex', 'int', [
    'asset_cache *',
    'const uint8_t *',
    koffi.out(koffi.pointer('asset_cache_error', 2)),
  ]);
  native = fns;
  return native;
}

/** The loaded library's version, e.g. "0.2.0". */
function version() {
  return lib().version();
}

/**
 * The library's default lock timeout in ms (ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS),
 * read from the library itself: what lockTimeoutMs is when not given.
 */
function defaultLockTimeoutMs() {
  const opts = {};
  lib().optionsInit(opts);
  return Number(opts.lock_timeout_ms);
}

/**
 * Turns an error object the library handed out into an AssetCacheError,
 * freeing it. Also usable after a koffi `.async` call: the error object is
 * not tied to the thread that made the call.
 */
function takeError(op, status, errPtr) {
  const n = lib();
  try {
    const message = errPtr ? n.errorMessage(errPtr) : '';
    return new AssetCacheError(op, status, message || 'failed');
  } finally {
    n.errorFree(errPtr);
  }
}

/**
 * Runs fn(...args, errOut) for an entry point whose last parameter is
 * `asset_cache_error **err`; throws its failure as an AssetCacheError.
 */
function call(op, fn, ...args) {
  const errOut = [null];
  const status = fn(...args, errOut);
  if (status !== Status.OK) {
    throw takeError(op, status, errOut[0]);
  }
  return status;
}

function takeString(ptr) {
  try {
    return koffi.decode.string(ptr);
  } finally {
    lib().stringFree(ptr);
  }
}

// With the u flag a surrogate pair is one code point, so this matches
// only surrogates that are not part of a pair.
const LONE_SURROGATE = /\p{Surrogate}/u;

// A C string ends at its first NUL: text with one inside would be cut
// short silently, so it is refused. A string holding a lone surrogate is
// not valid Unicode and has no UTF-8 form: koffi would pass U+FFFD in its
// place (so getRaw('\uD800') found the asset '\uFFFD'); it is refused too.
function cText(op, what, value, status = Status.INVALID_ARGUMENT) {
  if (typeof value !== 'string') {
    throw new AssetCacheError(op, Status.INVALID_ARGUMENT, `${what} must be a string, got ${typeof value}`);
  }
  if (value.includes('\0')) {
    throw new AssetCacheError(op, status, `${what} contains a NUL character`);
  }
  const lone = LONE_SURROGATE.exec(value);
  if (lone) {
    const unit = lone[0].charCodeAt(0).toString(16).toUpperCase();
    throw new AssetCacheError(
      op,
      Status.INVALID_UTF8,
      `${what} is not valid Unicode: a lone surrogate U+${unit} at index ${lone.index} has no UTF-8 form`,
    );
  }
  return value;
}

function cBytes(op, what, bytes) {
  if (bytes.includes(0)) {
    throw new AssetCacheError(op, Status.INVALID_JSON, `${what} contains a NUL byte`);
  }
  const buf = Buffer.alloc(bytes.length + 1);
  buf.set(bytes);
  return buf;
}

function stringify(op, value) {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new AssetCacheError(op, Status.INVALID_JSON, `${typeof value} cannot be encoded as JSON`);
  }
  return text;
}

/**
 * callAsync(op, fn, ...args): call() on a worker thread of libuv's pool
 * (koffi's `.async`), so that waiting for another process's lock never
 * blocks the event loop. Resolves when the call succeeds; rejects with its
 * AssetCacheError, whose message comes from the error object the call
 * handed back (the library's per-thread last error belongs to the worker
 * thread, see issue 9). The arguments stay referenced until the call ends.
 */
function callAsync(op, fn, ...args) {
  return new Promise((resolve, reject) => {
    const errOut = [null];
    fn.async(...args, errOut, (jsErr, status) => {
      args.length = 0;
      if (jsErr) {
        reject(jsErr);
      } else if (status !== Status.OK) {
        reject(takeError(op, status, errOut[0]));
      } else {
        resolve();
      }
    });
  });
}

const OPTION_KEYS = new Set([
  'dir',
  'ttlSeconds',
  'lockTimeoutMs',
  'durable',
  'fileMode',
  'dirMode',
  'staleIfErrorMs',
  'maxEntries',
  'maxStalenessMs',
  'backendUrl',
  'backendTimeoutMs',
]);

/**
 * A call on a worker thread that resolves to its status and error object
 * (not freed), for the calls whose non-OK statuses are answers
 * (NOT_FOUND and LOCK_TIMEOUT of a begin, STALE of a claim's failure).
 */
function statusAsync(fn, ...args) {
  return new Promise((resolve, reject) => {
    const errOut = [null];
    fn.async(...args, errOut, (jsErr, status) => {
      args.length = 0;
      if (jsErr) {
        reject(jsErr);
      } else {
        resolve({ status, err: errOut[0] });
      }
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Checks the options and fills an asset_cache_config; the caller frees it.
 * Throws AssetCacheError for a bad option.
 */
function makeConfig(name, options) {
  const n = lib();
  const cname = cText('open', 'name', name);
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `options must be an object, got ${Array.isArray(options) ? 'array' : typeof options}`);
  }
  // A misspelt option ({ dirr: ... }) would otherwise open with the default
  // silently: refuse any key the TypeScript AssetCacheOptions does not list.
  for (const key of Object.keys(options ?? {})) {
    if (!OPTION_KEYS.has(key)) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `unknown option ${JSON.stringify(key)} (known: ${[...OPTION_KEYS].join(', ')})`);
    }
  }
  const {
    dir, ttlSeconds, lockTimeoutMs, durable, fileMode, dirMode, staleIfErrorMs, maxEntries, maxStalenessMs,
    backendUrl, backendTimeoutMs,
  } = options ?? {};
  const curl =
    backendUrl !== undefined && backendUrl !== null ? cText('open', 'backendUrl', backendUrl) : undefined;
  if (backendTimeoutMs !== undefined) {
    if (typeof backendTimeoutMs !== 'number' || !(backendTimeoutMs > 0) || !Number.isFinite(backendTimeoutMs)) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `backendTimeoutMs must be a finite number > 0, got ${backendTimeoutMs}`);
    }
  }
  for (const [key, value] of Object.entries({ staleIfErrorMs, maxEntries, maxStalenessMs })) {
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `${key} must be a number, got ${value}`);
    }
  }
  for (const [key, value] of [['fileMode', fileMode], ['dirMode', dirMode]]) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 0o7777)) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `${key} must be an integer mode such as 0o600, got ${value}`);
    }
  }
  const cdir = dir !== undefined && dir !== null ? cText('open', 'dir', dir) : undefined;
  if (ttlSeconds !== undefined) {
    // Negative is refused by the library too; NaN and Infinity are not integers.
    if (typeof ttlSeconds !== 'number' || !(ttlSeconds >= 0) || !Number.isFinite(ttlSeconds)) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `ttlSeconds must be a finite number >= 0, got ${ttlSeconds}`);
    }
  }
  if (lockTimeoutMs !== undefined) {
    if (typeof lockTimeoutMs !== 'number' || Number.isNaN(lockTimeoutMs)) {
      throw new AssetCacheError('open', Status.INVALID_ARGUMENT, `lockTimeoutMs must be a number, got ${lockTimeoutMs}`);
    }
  }
  // The options object: a setter that fails is reported again, with its
  // message, by the open, so only the open's error needs reading.
  const cfgOut = [null];
  const status = n.configNew(cfgOut);
  if (status !== Status.OK) {
    throw new AssetCacheError('open', status, 'cannot create the options object');
  }
  const cfg = cfgOut[0];
  n.configSetName(cfg, cname);
  if (cdir !== undefined) {
    n.configSetDir(cfg, cdir);
  }
  if (ttlSeconds !== undefined) {
    n.configSetTtlSeconds(cfg, Math.ceil(ttlSeconds));
  }
  if (lockTimeoutMs !== undefined) {
    // Negative or Infinity waits forever, as -1 does in C.
    n.configSetLockTimeoutMs(cfg, lockTimeoutMs < 0 || lockTimeoutMs === Infinity ? -1 : Math.ceil(lockTimeoutMs));
  }
  if (durable !== undefined) {
    n.configSetDurable(cfg, Boolean(durable));
  }
  if (fileMode !== undefined) {
    n.configSetFileMode(cfg, fileMode);
  }
  if (dirMode !== undefined) {
    n.configSetDirMode(cfg, dirMode);
  }
  if (curl !== undefined) {
    n.configSetBackendUrl(cfg, curl);
  }
  if (backendTimeoutMs !== undefined) {
    n.configSetBackendTimeoutMs(cfg, Math.ceil(backendTimeoutMs));
  }
  if (staleIfErrorMs !== undefined) {
    n.configSetStaleIfErrorMs(cfg, Math.ceil(staleIfErrorMs));
  }
  if (maxEntries !== undefined) {
    n.configSetMaxEntries(cfg, Math.max(0, Math.floor(maxEntries)));
  }
  if (maxStalenessMs !== undefined) {
    n.configSetMaxStalenessMs(cfg, maxStalenessMs < 0 ? -1 : Math.ceil(maxStalenessMs));
  }
  return cfg;
}

// The safety net for caches never closed: frees the handle once the JS
// object is garbage collected. A promise call in flight keeps its cache
// reachable (its callback refers to it), so this never frees a handle that
// a worker thread is using.
const finalizer = new FinalizationRegistry((handle) => {
  lib().free(handle);
});

const disposeSymbol = Symbol.dispose ?? Symbol.for('nodejs.dispose');
const asyncDisposeSymbol = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');
// Lets AssetCache.open() hand an already opened handle to the constructor.
const adopt = Symbol('adopt');
const noop = () => {};

/**
 * One open cache. Calls that touch the file or the lock come in two forms:
 * promise calls (open, add, addRaw, addList, addListRaw, load, save,
 * invalidate), which run on a worker thread and never block the event loop,
 * and their synchronous twins with the suffix Sync (openSync or the
 * constructor, addSync, ...), for scripts. Reads (get, getAll,
 * hasValidCache, expiry, size) answer from memory and are synchronous.
 *
 * A cache's promise calls run one at a time, in the order they were made
 * (each occupies one thread of libuv's pool, shared with fs and dns, only
 * while it runs); a synchronous call does not wait for them.
 */
class AssetCache {
  #handle = null;
  #name;
  // Promise calls made and not yet settled, and the last one's settling.
  #pending = 0;
  #tail = Promise.resolve();
  // close() was called while promise calls were pending: the handle is
  // freed when the last of them settles.
  #closing = false;
  // closeAsync()'s promise, resolved by #free.
  #freed = null;
  #resolveFreed = noop;
  // Bounds getOrFetch's wait for another fetch (negative: none).
  #lockTimeoutMs = -1;

  /**
   * Opens the cache `name` (files <dir>/<name>.json and <dir>/<name>.lock)
   * and loads its file if there is one, on this thread: the same as
   * AssetCache.openSync(). AssetCache.open() does it on a worker thread.
   * @param {string} name
   * @param {{dir?: string, ttlSeconds?: number, lockTimeoutMs?: number, durable?: boolean, fileMode?: number,
   *   dirMode?: number, backendUrl?: string, backendTimeoutMs?: number}} [options]
   */
  constructor(name, options = {}) {
    if (name === adopt) {
      this.#handle = options.handle;
      this.#name = options.name;
    } else {
      const n = lib();
      const cfg = makeConfig(name, options);
      try {
        const out = [null];
        call('open', n.open, cfg, out);
        this.#handle = out[0];
      } finally {
        n.configFree(cfg);
      }
      this.#name = name;
    }
    const lt = options?.lockTimeoutMs;
    this.#lockTimeoutMs = lt === undefined ? defaultLockTimeoutMs() : lt < 0 || lt === Infinity ? -1 : Math.ceil(lt);
    finalizer.register(this, this.#handle, this);
  }

  /**
   * Opens a cache on a worker thread (the lock may be held by another
   * process); resolves to the AssetCache. Rejects with AssetCacheError.
   * @returns {Promise<AssetCache>}
   */
  static async open(name, options) {
    const cfg = makeConfig(name, options);
    const out = [null];
    try {
      await callAsync('open', lib().open, cfg, out);
    } finally {
      lib().configFree(cfg);
    }
    return new AssetCache(adopt, { handle: out[0], name, lockTimeoutMs: options?.lockTimeoutMs });
  }

  /** Opens a cache on this thread; see the constructor. */
  static openSync(name, options) {
    return new AssetCache(name, options);
  }

  /** The cache's name, as given to open(). */
  get name() {
    return this.#name;
  }

  /** Whether close() has been called. */
  get closed() {
    return this.#handle === null || this.#closing;
  }

  #live(op) {
    if (this.#handle === null || this.#closing) {
      throw new AssetCacheError(op, Status.INVALID_ARGUMENT, 'the cache is closed', 'ASSET_CACHE_CLOSED');
    }
    return this.#handle;
  }

  /**
   * Runs a promise call: prepare() checks and converts the arguments at once
   * (a bad argument rejects without waiting); run(handle, ...prepared) then
   * starts after this cache's earlier promise calls have settled.
   */
  #queue(op, prepare, run) {
    let args;
    try {
      this.#live(op);
      args = prepare();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#pending++;
    const result = this.#tail.then(() => run(this.#handle, ...args));
    this.#tail = result.then(noop, noop);
    return result.finally(() => {
      this.#pending--;
      if (this.#pending === 0 && this.#closing) {
        this.#free();
      }
    });
  }

  /**
   * The asset with this id as JSON text, or undefined when there is none
   * (or the store has expired). Reads memory: call load() first to see
   * other processes' writes.
   */
  getRaw(id) {
    const h = this.#live('get');
    const out = [null];
    const errOut = [null];
    const status = lib().get(h, cText('get', 'id', id), out, errOut);
    if (status === Status.NOT_FOUND) {
      lib().errorFree(errOut[0]);
      return undefined;
    }
    if (status !== Status.OK) {
      throw takeError('get', status, errOut[0]);
    }
    return takeString(out[0]);
  }

  /** The asset with this id, parsed, or undefined when there is none. */
  get(id) {
    const text = this.getRaw(id);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /** Every asset as JSON text of an array, in insertion order. */
  getAllRaw() {
    const h = this.#live('getAll');
    const out = [null];
    call('getAll', lib().getAll, h, out);
    return takeString(out[0]);
  }

  /** Every asset, parsed, in insertion order ([] when empty or expired). */
  getAll() {
    return JSON.parse(this.getAllRaw());
  }

  /**
   * Adds or replaces one asset, an object with a non-empty string "id"
   * (encoded with JSON.stringify). Resolves once it is on disk. An id
   * holding a lone surrogate rejects with ASSET_CACHE_INVALID_UTF8 (it could
   * not be looked up); other strings may hold them: JSON.stringify escapes
   * them (`"\ud800"`, as Python writes them) and get() gives them back.
   * @returns {Promise<void>}
   */
  add(asset) {
    return this.#queue('add', () => this.#encode('add', stringify('add', asset)), (h, ...a) => this.#writeAsync('add', h, ...a));
  }

  /** add() on this thread: the asset is on disk when it returns. */
  addSync(asset) {
    this.addRawSync(stringify('add', asset));
  }

  /** add() for an asset already encoded: JSON text as a string or UTF-8 bytes. */
  addRaw(json) {
    return this.#queue('add', () => this.#encode('add', json), (h, ...a) => this.#writeAsync('add', h, ...a));
  }

  /** addRaw() on this thread. */
  addRawSync(json) {
    this.#writeSync('add', json);
  }

  /**
   * Replaces the whole cache with these assets and starts a fresh expiry.
   * One bad element rejects the whole call; the message names its index.
   * @returns {Promise<void>}
   */
  addList(assets) {
    return this.#queue('addList', () => this.#encode('addList', listText(assets)), (h, ...a) => this.#writeAsync('addList', h, ...a));
  }

  /** addList() on this thread. */
  addListSync(assets) {
    this.addListRawSync(listText(assets));
  }

  /** addList() for a JSON array already encoded, as a string or UTF-8 bytes. */
  addListRaw(json) {
    return this.#queue('addList', () => this.#encode('addList', json), (h, ...a) => this.#writeAsync('addList', h, ...a));
  }

  /** addListRaw() on this thread. */
  addListRawSync(json) {
    this.#writeSync('addList', json);
  }

  // [bytes?, text]: the C argument, and whether it is bytes.
  #encode(op, json) {
    if (json instanceof Uint8Array) {
      return [true, cBytes(op, 'JSON text', json)];
    }
    return [false, cText(op, 'JSON text', json, Status.INVALID_JSON)];
  }

  #writeSync(op, json) {
    const h = this.#live(op);
    const [bytes, arg] = this.#encode(op, json);
    call(op, writeFn(op, bytes), h, arg);
  }

  #writeAsync(op, h, bytes, arg) {
    return callAsync(op, writeFn(op, bytes), h, arg);
  }

  /** Brings memory up to date with the file (other processes' writes). */
  load() {
    return this.#queue('load', () => [], (h) => callAsync('load', lib().load, h));
  }

  /** load() on this thread. */
  loadSync() {
    call('load', lib().load, this.#live('load'));
  }

  /** Rewrites the file from memory, compacting it. Every add() is already on disk. */
  save() {
    return this.#queue('save', () => [], (h) => callAsync('save', lib().save, h));
  }

  /** save() on this thread. */
  saveSync() {
    call('save', lib().save, this.#live('save'));
  }

  /** Empties the cache, starts a fresh expiry and deletes the cache file. */
  invalidate() {
    return this.#queue('invalidate', () => [], (h) => callAsync('invalidate', lib().invalidate, h));
  }

  /** invalidate() on this thread. */
  invalidateSync() {
    call('invalidate', lib().invalidate, this.#live('invalidate'));
  }

  /** Whether the store has not expired and holds at least one asset. */
  hasValidCache() {
    const out = [false];
    call('hasValidCache', lib().hasValidCache, this.#live('hasValidCache'), out);
    return Boolean(out[0]);
  }

  /** When the store expires, as a Date (millisecond precision). */
  expiry() {
    return new Date(this.expirySeconds() * 1000);
  }

  /** When the store expires, in Unix seconds (fractional). */
  expirySeconds() {
    const out = [0];
    call('expiry', lib().expiry, this.#live('expiry'), out);
    return Number(out[0]);
  }

  /** The number of assets in memory. */
  get size() {
    const out = [0];
    call('size', lib().len, this.#live('size'), out);
    return Number(out[0]);
  }

  /**
   * The asset `id`: from the cache when present and valid; otherwise
   * `await fetch(id)` runs and what it resolves to (an object with a
   * non-empty string "id") is stored under `id` and returned.
   *
   * Single-flight: while one caller of the host (thread or process, any
   * language) fetches an id, every other getOrFetch of it waits and then
   * gets the stored asset without fetching. Waiting never blocks the event
   * loop: each try is a worker-thread call that does not wait for the claim,
   * repeated from timers up to the lock timeout (ASSET_CACHE_LOCK_TIMEOUT) or
   * until `options.signal` aborts (its reason is thrown). The fetch runs in
   * this event loop.
   *
   * A fetch that throws or rejects: an AssetCacheError with code
   * ASSET_CACHE_FETCH_FAILED and the fetch's error as `cause`, nothing
   * stored; within the stale-if-error grace period (`staleIfErrorMs`) of an
   * expired asset, code ASSET_CACHE_STALE with the expired asset as `stale`.
   * A value that is not an asset fails as add() does.
   * @param {string} id
   * @param {(id: string) => unknown | Promise<unknown>} fetch
   * @param {{signal?: AbortSignal}} [options]
   */
  async getOrFetch(id, fetch, options = {}) {
    const op = 'getOrFetch';
    const key = cText(op, 'id', id);
    const got = await this.#claimOrValue(op, `id ${JSON.stringify(id)}`, options.signal, (claim, json) => [
      lib().beginFetch,
      key,
      0,
      claim,
      json,
    ]);
    if (got.claim === null) {
      return JSON.parse(got.json);
    }
    return JSON.parse(await this.#finish(op, got.claim, () => fetch(id)));
  }

  /**
   * Every asset when the store is valid (not expired, not empty); otherwise
   * `await fetchAll()` runs in one caller of the host at a time and the
   * array it resolves to replaces the store, as addList() does; the others
   * wait and read the new store. Waiting and errors as getOrFetch().
   * @param {() => unknown[] | Promise<unknown[]>} fetchAll
   * @param {{signal?: AbortSignal}} [options]
   */
  async refreshAll(fetchAll, options = {}) {
    const op = 'refreshAll';
    const got = await this.#claimOrValue(op, 'the whole store', options.signal, (claim, json) => [
      lib().beginRefreshAll,
      0,
      claim,
      json,
    ]);
    if (got.claim === null) {
      return JSON.parse(got.json);
    }
    return JSON.parse(
      await this.#finish(op, got.claim, async () => {
        const all = await fetchAll();
        if (!Array.isArray(all)) {
          throw new AssetCacheError(op, Status.INVALID_JSON, 'fetchAll must resolve to an array of assets');
        }
        return all;
      }),
    );
  }

  // One worker-thread call on the handle, counted as pending so that close()
  // waits for it; resolves to its status and error object.
  async #raw(op, fn, ...args) {
    const h = this.#live(op);
    this.#pending++;
    try {
      return await statusAsync(fn, h, ...args);
    } finally {
      this.#pending--;
      if (this.#pending === 0 && this.#closing) {
        this.#free();
      }
    }
  }

  // Tries a non-waiting begin until the value is cached or this caller holds
  // the claim, yielding to the event loop between tries.
  async #claimOrValue(op, what, signal, args) {
    const start = Date.now();
    let pause = 1;
    for (;;) {
      signal?.throwIfAborted();
      const claim = [null];
      const json = [null];
      const [fn, ...rest] = args(claim, json);
      const { status, err } = await this.#raw(op, fn, ...rest);
      if (status !== Status.OK && status !== Status.NOT_FOUND && status !== Status.LOCK_TIMEOUT) {
        throw takeError(op, status, err);
      }
      lib().errorFree(err);
      if (status === Status.OK) {
        return { claim: null, json: takeString(json[0]) };
      }
      if (status === Status.NOT_FOUND) {
        return { claim: claim[0], json: null };
      }
      if (this.#lockTimeoutMs >= 0 && Date.now() - start >= this.#lockTimeoutMs) {
        throw new AssetCacheError(
          op,
          Status.LOCK_TIMEOUT,
          `timed out after ${this.#lockTimeoutMs} ms waiting for another fetch of ${what} to finish`,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 20);
    }
  }

  // Runs the fetch, then completes the claim with its value (returned as
  // JSON text) or fails it with its error. The claim is always ended.
  async #finish(op, claim, run) {
    let text;
    try {
      text = stringify(op, await run());
    } catch (cause) {
      if (this.#handle === null || this.#closing) {
        lib().claimAbandon(claim);
        throw cause;
      }
      const message = (cause instanceof Error ? cause.message : String(cause)).replace(/\0/g, ' ');
      const out = [null];
      const { status, err } = await this.#raw(op, lib().claimFail, claim, message, out);
      const detail = (err && lib().errorMessage(err)) || message;
      lib().errorFree(err);
      const failure = new AssetCacheError(op, status === Status.STALE ? Status.STALE : Status.FETCH_FAILED, detail);
      failure.cause = cause;
      if (status === Status.STALE) {
        failure.stale = JSON.parse(takeString(out[0]));
      }
      throw failure;
    }
    if (this.#handle === null || this.#closing) {
      lib().claimAbandon(claim);
      this.#live(op);
    }
    const { status, err } = await this.#raw(op, lib().claimComplete, claim, cText(op, 'JSON text', text, Status.INVALID_JSON));
    if (status !== Status.OK) {
      throw takeError(op, status, err);
    }
    return text;
  }

  /**
   * Removes the asset `id` from the file and memory (after reading what
   * other processes wrote), on a worker thread; resolves to whether it was
   * cached. The file is rewritten whole, so the Python original can always
   * read it.
   */
  remove(id) {
    return this.#queue(
      'remove',
      () => [cText('remove', 'id', id)],
      async (h, key) => {
        const out = [false];
        await callAsync('remove', lib().remove, h, key, out);
        return Boolean(out[0]);
      },
    );
  }

  /** remove() on this thread. */
  removeSync(id) {
    const out = [false];
    call('remove', lib().remove, this.#live('remove'), cText('remove', 'id', id), out);
    return Boolean(out[0]);
  }

  /** Whether `id` is cached and the store has not expired (memory). */
  has(id) {
    const out = [false];
    call('has', lib().contains, this.#live('has'), cText('has', 'id', id), out);
    return Boolean(out[0]);
  }

  /** The ids in insertion order ([] when expired), from memory. */
  ids() {
    const out = [null];
    call('ids', lib().ids, this.#live('ids'), out);
    return JSON.parse(takeString(out[0]));
  }

  /** Adds these assets in one write, keeping the others, on a worker thread. One bad element rejects them all. */
  addMany(assets) {
    return this.#queue('addMany', () => [manyText(assets)], (h, text) => callAsync('addMany', lib().addMany, h, text));
  }

  /** addMany() on this thread. */
  addManySync(assets) {
    call('addMany', lib().addMany, this.#live('addMany'), manyText(assets));
  }

  /** Adds one asset under `key` instead of its own "id" (a lookup by slug), on a worker thread. */
  addWithKey(key, asset) {
    return this.#queue(
      'addWithKey',
      () => [cText('addWithKey', 'key', key), keyedText(asset)],
      (h, k, text) => callAsync('addWithKey', lib().addWithKey, h, k, text),
    );
  }

  /** addWithKey() on this thread. */
  addWithKeySync(key, asset) {
    call('addWithKey', lib().addWithKey, this.#live('addWithKey'), cText('addWithKey', 'key', key), keyedText(asset));
  }

  /**
   * Closes the cache; the files stay. Later calls fail with
   * ASSET_CACHE_CLOSED. Promise calls already made still complete: the
   * handle is freed when the last of them settles. Safe to call more than
   * once.
   */
  close() {
    if (this.#handle === null || this.#closing) {
      return;
    }
    this.#closing = true;
    if (this.#pending === 0) {
      this.#free();
    }
  }

  /** close(), then resolves when the handle is freed (after pending promise calls). */
  closeAsync() {
    if (this.#handle === null) {
      return Promise.resolve();
    }
    this.#freed ??= new Promise((resolve) => {
      this.#resolveFreed = resolve;
    });
    this.close();
    return this.#freed;
  }

  #free() {
    const h = this.#handle;
    this.#handle = null;
    finalizer.unregister(this);
    lib().free(h);
    this.#resolveFreed();
  }

  /** close(), for `using cache = AssetCache.openSync(...)`. */
  [disposeSymbol]() {
    this.close();
  }

  /** closeAsync(), for `await using cache = await AssetCache.open(...)`. */
  [asyncDisposeSymbol]() {
    return this.closeAsync();
  }
}

function listText(assets) {
  if (!Array.isArray(assets)) {
    throw new AssetCacheError('addList', Status.INVALID_JSON, 'assets must be an array');
  }
  return stringify('addList', assets);
}

function manyText(assets) {
  if (!Array.isArray(assets)) {
    throw new AssetCacheError('addMany', Status.INVALID_JSON, 'assets must be an array');
  }
  return cText('addMany', 'JSON text', stringify('addMany', assets), Status.INVALID_JSON);
}

function keyedText(asset) {
  return cText('addWithKey', 'JSON text', stringify('addWithKey', asset), Status.INVALID_JSON);
}

function writeFn(op, bytes) {
  const n = lib();
  if (op === 'add') {
    return bytes ? n.addBytes : n.add;
  }
  return bytes ? n.addListBytes : n.addList;
}

module.exports = { AssetCache, AssetCacheError, Status, version, libraryPath, defaultLockTimeoutMs };
