/*
 * asset_cache.hpp: a header-only C++17 wrapper over the C API in
 * asset_cache.h. Link the same library as from C (asset_cache::asset_cache in
 * CMake, `pkg-config asset_cache`).
 *
 *   #include "asset_cache.hpp"
 *
 *   assetcache::options opts;
 *   opts.dir = "/var/cache/myapp";
 *   opts.name = "models";
 *   assetcache::cache models(opts);              // throws assetcache::error
 *   models.add(R"({"id":"m1","name":"GPT-4o"})");
 *   if (std::optional<std::string> json = models.get("m1")) { use(*json); }
 *
 * The namespace is `assetcache`, not `asset_cache`: the C header already
 * declares the type `asset_cache` in the global namespace, and C++ does not
 * allow a namespace of the same name beside it.
 *
 * Errors: every failure throws assetcache::error (a std::runtime_error) with
 * the C status and the library's message, taken from the error object the C
 * call hands out (asset_cache_error), not from the thread's last error, so
 * a call made on one thread can be reported on another. A missing asset is not an error:
 * get() returns std::nullopt. Strings go in as std::string_view and come out
 * as std::string; a string_view holding a NUL byte is refused with
 * ASSET_CACHE_INVALID_ARGUMENT rather than silently cut short.
 *
 * Threads: like the C handle, one cache may be used from many threads at
 * once, writers included; only moving from it or destroying it needs
 * exclusive use.
 *
 * fork(): a cache belongs to the process that opened it. In a child made by
 * fork(), every member of an inherited cache throws at once with
 * ASSET_CACHE_INVALID_ARGUMENT (see `asset_cache` in asset_cache.h); open a
 * new cache in the child. Const members do not write the file; the others do (or, for
 * load(), read it into memory).
 */
#ifndef ASSET_CACHE_HPP
#define ASSET_CACHE_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "asset_cache.h"

namespace assetcache {

/** A failed call: the C status, the library's message and the operation. */
class error : public std::runtime_error {
 public:
  /** what() is "<operation>: <message>", e.g. `add: asset has no "id" member`. */
  error(asset_cache_status status, const char *operation, std::string_view message)
      : std::runtime_error(std::string(operation) + ": " + std::string(message)),
        status_(status),
        // Kept as its own runtime_error so copying the exception cannot throw.
        message_(std::string(message)) {}

  /** The C status, e.g. ASSET_CACHE_INVALID_JSON; never ASSET_CACHE_OK. */
  asset_cache_status status() const noexcept { return status_; }

  /**
   * The message alone: the library's (from the failed call's error object),
   * or the wrapper's for input it refuses itself (a NUL byte).
   */
  const char *message() const noexcept { return message_.what(); }

 private:
  asset_cache_status status_;
  std::runtime_error message_;
};

/** Options for opening a cache; only `name` is required. */
struct options {
  /** Folder of `<name>.json` and `<name>.lock`; empty means ".cache" in the current folder. */
  std::string dir;
  /** Base name of the files: no '/', '\\', "..", control characters. */
  std::string name;
  /**
   * Lifetime of a new store, at least 1 s: 0 or less throws
   * ASSET_CACHE_INVALID_ARGUMENT at open. Unset reads CACHE_EXPIRY_TIME (as
   * Python's int() reads it), else one day.
   */
  std::optional<std::chrono::seconds> ttl;
  /**
   * Longest wait for another process's lock before ASSET_CACHE_LOCK_TIMEOUT;
   * zero tries once, negative waits forever; unset is the library's
   * default_lock_timeout.
   */
  std::optional<std::chrono::milliseconds> lock_timeout;
  /** fsync every write, so it survives power loss and not just a crash. */
  bool durable = false;
  /**
   * Mode of a cache file or lock file the library creates (unset: 0600);
   * a rewrite keeps the existing file's mode. See asset_cache_config_set_file_mode.
   */
  std::optional<unsigned> file_mode;
  /** Mode of each folder the library creates (unset: 0700). See asset_cache_config_set_dir_mode. */
  std::optional<unsigned> dir_mode;
  /**
   * Keep the cache on a Redis server (7.0 or later, or Valkey) instead of in
   * `dir`, so that processes on many hosts share it:
   * "redis://[user:password@]host[:port][/db]", "rediss://..." (TLS; the
   * server's certificate checked against the system's trust store, or the CAs
   * of "?ssl_ca_certs=/path/ca.pem") or "redis+unix:///path/to.sock"
   * (asset_cache_config_set_backend_url; Go WithBackendURL, Node backendUrl,
   * Python backend_url). Empty (the default): the file backend. Every member
   * behaves as with files; `dir`, `lock_timeout`, `durable` and the modes are
   * not used. Members then throw ASSET_CACHE_BACKEND_UNAVAILABLE (server
   * unreachable, connection dropped, no answer within `backend_timeout`) or
   * ASSET_CACHE_BACKEND_ERROR (credentials refused, a key of another type at
   * the cache's key names, a certificate not trusted), memory staying as it
   * was; a URL that does not parse (or an unreadable ssl_ca_certs file)
   * throws ASSET_CACHE_INVALID_ARGUMENT at open, naming it with the password
   * masked.
   */
  std::string backend_url;
  /**
   * Longest wait for each answer of the backend server, connecting included,
   * at least 1 ms (else ASSET_CACHE_INVALID_ARGUMENT at open); unset is
   * default_backend_timeout. Not used by the file backend.
   */
  std::optional<std::chrono::milliseconds> backend_timeout;
};

/** The library's lock timeout when options::lock_timeout is unset (ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS). */
inline constexpr std::chrono::milliseconds default_lock_timeout{ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS};

/** The library's backend timeout when options::backend_timeout is unset (ASSET_CACHE_DEFAULT_BACKEND_TIMEOUT_MS). */
inline constexpr std::chrono::milliseconds default_backend_timeout{ASSET_CACHE_DEFAULT_BACKEND_TIMEOUT_MS};

/** The loaded library's version, e.g. "0.2.0" (ASSET_CACHE_VERSION_STRING is the header's). */
inline std::string_view library_version() noexcept { return asset_cache_version(); }

namespace detail {

// Receives the error object of one C call (its trailing `err`) and frees it.
class error_slot {
 public:
  error_slot() = default;
  error_slot(const error_slot &) = delete;
  error_slot &operator=(const error_slot &) = delete;
  ~error_slot() { asset_cache_error_free(err_); }
  asset_cache_error **out() noexcept { return &err_; }
  const asset_cache_error *get() const noexcept { return err_; }

 private:
  asset_cache_error *err_ = nullptr;
};

// Throws the failure of a call: status and message from its error object.
[[noreturn]] inline void fail(asset_cache_status status, const error_slot &err, const char *operation) {
  std::string_view message = asset_cache_error_message(err.get());
  if (message.empty()) message = asset_cache_status_str(status);
  throw error(status, operation, message);
}

// Runs `call(asset_cache_error **)` and throws unless it returns OK.
template <typename Call>
void check(const char *operation, Call &&call) {
  error_slot err;
  const asset_cache_status status = call(err.out());
  if (status != ASSET_CACHE_OK) fail(status, err, operation);
}

// The C API takes NUL-terminated strings and a string_view need not be one,
// so it is copied; an embedded NUL would silently shorten the text.
inline std::string c_string(std::string_view text, const char *operation, const char *what) {
  if (text.find('\0') != std::string_view::npos) {
    throw error(ASSET_CACHE_INVALID_ARGUMENT, operation,
                std::string(what) + " contains a NUL byte");
  }
  return std::string(text);
}

struct string_free {
  void operator()(char *s) const noexcept { asset_cache_string_free(s); }
};
using owned_string = std::unique_ptr<char, string_free>;

struct handle_free {
  void operator()(asset_cache *c) const noexcept { asset_cache_free(c); }
};

struct config_free {
  void operator()(asset_cache_config *c) const noexcept { asset_cache_config_free(c); }
};

// A fetch given to get_or_fetch / refresh_all, called from the C callback. An
// exception must not cross the C library's frames: it is caught here, its
// what() becomes the fetch's failure message, and it is rethrown once the C
// call has returned.
struct fetch_call {
  const std::function<std::string(std::string_view)> *fetch;
  std::exception_ptr thrown;

  static void trampoline(void *userdata, const char *id, asset_cache_fetch *answer) noexcept {
    auto *self = static_cast<fetch_call *>(userdata);
    try {
      const std::string json = (*self->fetch)(id ? std::string_view(id) : std::string_view());
      if (json.find('\0') != std::string::npos) {
        asset_cache_fetch_fail(answer, "the fetch returned text with a NUL byte");
        return;
      }
      asset_cache_fetch_ok(answer, json.c_str());
    } catch (const std::exception &e) {
      self->thrown = std::current_exception();
      asset_cache_fetch_fail(answer, e.what());
    } catch (...) {
      self->thrown = std::current_exception();
      asset_cache_fetch_fail(answer, "the fetch threw a non-standard exception");
    }
  }
};

}  // namespace detail

/**
 * An open cache: owns one C handle and frees it on destruction. Movable, not
 * copyable; a moved-from cache is empty (operator bool is false) and every
 * call on it throws ASSET_CACHE_INVALID_ARGUMENT.
 */
class cache {
 public:
  /** Opens (and loads, if it exists) the cache described by `opts`. Creates no files. */
  explicit cache(const options &opts) { open(opts); }

  /** Opens the cache `name` in ".cache" with default options, like the Python original. */
  explicit cache(std::string_view name) {
    options opts;
    opts.name = std::string(name);
    open(opts);
  }

  cache(cache &&) noexcept = default;
  cache &operator=(cache &&) noexcept = default;
  cache(const cache &) = delete;
  cache &operator=(const cache &) = delete;
  ~cache() = default;

  /** False only for a moved-from cache. */
  explicit operator bool() const noexcept { return handle_ != nullptr; }

  /** The C handle, still owned by this object, for C functions not wrapped here. */
  asset_cache *native_handle() const noexcept { return handle_.get(); }

  /** The asset with this id as JSON text, or std::nullopt when absent or expired. From memory. */
  std::optional<std::string> get(std::string_view id) const {
    const std::string key = detail::c_string(id, "get", "id");
    char *raw = nullptr;
    detail::error_slot err;
    const asset_cache_status status = asset_cache_get_ex(handle_.get(), key.c_str(), &raw, err.out());
    if (status == ASSET_CACHE_NOT_FOUND) return std::nullopt;
    if (status != ASSET_CACHE_OK) detail::fail(status, err, "get");
    const detail::owned_string json(raw);
    return std::string(json.get());
  }

  /** Every asset as one JSON array, in insertion order ("[]" when empty or expired). */
  std::string get_all() const {
    char *raw = nullptr;
    detail::check("get_all", [&](asset_cache_error **err) {
      return asset_cache_get_all_ex(handle_.get(), &raw, err);
    });
    const detail::owned_string json(raw);
    return std::string(json.get());
  }

  /** Adds or replaces one asset (a JSON object with a non-empty string "id"); on disk on return. */
  void add(std::string_view asset_json) {
    const std::string json = detail::c_string(asset_json, "add", "asset");
    detail::check("add", [&](asset_cache_error **err) {
      return asset_cache_add_ex(handle_.get(), json.c_str(), err);
    });
  }

  /** Replaces every asset with those of a JSON array, with a fresh expiry. All or nothing. */
  void add_list(std::string_view assets_json) {
    const std::string json = detail::c_string(assets_json, "add_list", "asset list");
    detail::check("add_list", [&](asset_cache_error **err) {
      return asset_cache_add_list_ex(handle_.get(), json.c_str(), err);
    });
  }

  /** Reads the file into memory, picking up other processes' writes. */
  void load() {
    detail::check("load", [&](asset_cache_error **err) { return asset_cache_load_ex(handle_.get(), err); });
  }

  /** Rewrites (compacts) the file from memory; creates it if missing. */
  void save() {
    detail::check("save", [&](asset_cache_error **err) { return asset_cache_save_ex(handle_.get(), err); });
  }

  /** Empties the cache, starts a fresh expiry and deletes the file. */
  void invalidate() {
    detail::check("invalidate", [&](asset_cache_error **err) {
      return asset_cache_invalidate_ex(handle_.get(), err);
    });
  }

  /** True when the store has not expired and holds at least one asset. */
  bool has_valid_cache() const {
    bool valid = false;
    detail::check("has_valid_cache", [&](asset_cache_error **err) {
      return asset_cache_has_valid_cache_ex(handle_.get(), &valid, err);
    });
    return valid;
  }

  /** When the store expires (clamped to what a system_clock::time_point can hold). */
  std::chrono::system_clock::time_point expiry() const {
    using clock = std::chrono::system_clock;
    double seconds = 0;
    detail::check("expiry", [&](asset_cache_error **err) {
      return asset_cache_expiry_ex(handle_.get(), &seconds, err);
    });
    // A file may hold any number (the Python original writes what it is
    // given); converting one beyond the clock's range would be undefined.
    const std::chrono::duration<double> since_epoch(seconds);
    if (!(since_epoch < std::chrono::duration<double>(clock::duration::max()))) {
      return clock::time_point::max();
    }
    if (!(since_epoch > std::chrono::duration<double>(clock::duration::min()))) {
      return clock::time_point::min();
    }
    return clock::time_point(std::chrono::duration_cast<clock::duration>(since_epoch));
  }

  /**
   * The asset `id` (JSON text): from the cache when present and valid, else
   * `fetch(id)` runs and what it returns (one JSON asset object) is stored
   * under `id` and returned. Single-flight: while one thread or process of
   * the host fetches an id, every other get_or_fetch of it waits (up to the
   * lock timeout) and gets the stored asset without fetching.
   *
   * If `fetch` throws: within the stale-if-error grace period of an expired
   * asset that asset is returned and `*stale` (when given) set to true;
   * otherwise the exception is rethrown as it was. Bad JSON from `fetch`
   * throws assetcache::error with add()'s status; nothing is stored.
   */
  std::string get_or_fetch(std::string_view id,
                           const std::function<std::string(std::string_view id)> &fetch,
                           bool *stale = nullptr) {
    const std::string key = detail::c_string(id, "get_or_fetch", "id");
    detail::fetch_call call{&fetch, nullptr};
    char *raw = nullptr;
    detail::error_slot err;
    const asset_cache_status status = asset_cache_get_or_fetch_ex(
        handle_.get(), key.c_str(), &detail::fetch_call::trampoline, &call, &raw, err.out());
    return finish(status, call, raw, err, stale, "get_or_fetch");
  }

  /**
   * Every asset (a JSON array) when the store is valid, else `fetch()` runs
   * (returning a JSON array of every asset), in one caller of the host at a
   * time, and replaces the store as add_list() does. Stale-if-error and
   * exceptions as get_or_fetch().
   */
  std::string refresh_all(const std::function<std::string()> &fetch, bool *stale = nullptr) {
    const std::function<std::string(std::string_view)> adapted = [&fetch](std::string_view) {
      return fetch();
    };
    detail::fetch_call call{&adapted, nullptr};
    char *raw = nullptr;
    detail::error_slot err;
    const asset_cache_status status = asset_cache_refresh_all_ex(
        handle_.get(), &detail::fetch_call::trampoline, &call, &raw, err.out());
    return finish(status, call, raw, err, stale, "refresh_all");
  }

  /** Adds one asset under `key` instead of its own "id" (a lookup by slug). */
  void add(std::string_view key, std::string_view asset_json) {
    const std::string k = detail::c_string(key, "add", "key");
    const std::string json = detail::c_string(asset_json, "add", "asset");
    detail::check("add", [&](asset_cache_error **err) {
      return asset_cache_add_with_key_ex(handle_.get(), k.c_str(), json.c_str(), err);
    });
  }

  /** Adds the assets of a JSON array in one write, keeping the others. All or nothing on bad input. */
  void add_many(std::string_view assets_json) {
    const std::string json = detail::c_string(assets_json, "add_many", "asset list");
    detail::check("add_many", [&](asset_cache_error **err) {
      return asset_cache_add_many_ex(handle_.get(), json.c_str(), err);
    });
  }

  /** Removes the asset `id` from the file and memory; true when it was cached. */
  bool remove(std::string_view id) {
    const std::string key = detail::c_string(id, "remove", "id");
    bool removed = false;
    detail::check("remove", [&](asset_cache_error **err) {
      return asset_cache_remove_ex(handle_.get(), key.c_str(), &removed, err);
    });
    return removed;
  }

  /** True when `id` is cached and the store has not expired. From memory. */
  bool contains(std::string_view id) const {
    const std::string key = detail::c_string(id, "contains", "id");
    bool has = false;
    detail::check("contains", [&](asset_cache_error **err) {
      return asset_cache_contains_ex(handle_.get(), key.c_str(), &has, err);
    });
    return has;
  }

  /** The ids in insertion order, as a JSON array of strings. From memory. */
  std::string ids() const {
    char *raw = nullptr;
    detail::check("ids", [&](asset_cache_error **err) { return asset_cache_ids_ex(handle_.get(), &raw, err); });
    const detail::owned_string json(raw);
    return std::string(json.get());
  }

  /** Number of assets in memory. */
  std::size_t size() const {
    std::size_t len = 0;
    detail::check("size", [&](asset_cache_error **err) { return asset_cache_len_ex(handle_.get(), &len, err); });
    return len;
  }

 private:
  // Through the options object (asset_cache_config): a setter that fails is
  // reported again, with its message, by asset_cache_open_config, so only
  // the open is checked.
  void open(const options &opts) {
    const std::string name = detail::c_string(opts.name, "open", "cache name");
    const std::string dir = detail::c_string(opts.dir, "open", "cache folder");
    const std::string backend_url = detail::c_string(opts.backend_url, "open", "backend URL");
    // The library says "at least 1"; a negative duration is worth naming.
    if (opts.ttl && opts.ttl->count() < 0) {
      throw error(ASSET_CACHE_INVALID_ARGUMENT, "open",
                  "ttl is negative (" + std::to_string(opts.ttl->count()) + " s)");
    }
    asset_cache_config *raw_cfg = nullptr;
    detail::check("open", [&](asset_cache_error **) { return asset_cache_config_new(&raw_cfg); });
    const std::unique_ptr<asset_cache_config, detail::config_free> cfg(raw_cfg);
    asset_cache_config_set_name(cfg.get(), name.c_str());
    if (!dir.empty()) asset_cache_config_set_dir(cfg.get(), dir.c_str());
    if (opts.ttl) asset_cache_config_set_ttl_seconds(cfg.get(), static_cast<int64_t>(opts.ttl->count()));
    if (opts.lock_timeout) {
      asset_cache_config_set_lock_timeout_ms(cfg.get(), static_cast<int64_t>(opts.lock_timeout->count()));
    }
    asset_cache_config_set_durable(cfg.get(), opts.durable);
    if (opts.file_mode) asset_cache_config_set_file_mode(cfg.get(), static_cast<uint32_t>(*opts.file_mode));
    if (opts.dir_mode) asset_cache_config_set_dir_mode(cfg.get(), static_cast<uint32_t>(*opts.dir_mode));
    if (!backend_url.empty()) asset_cache_config_set_backend_url(cfg.get(), backend_url.c_str());
    if (opts.backend_timeout) {
      asset_cache_config_set_backend_timeout_ms(cfg.get(), static_cast<int64_t>(opts.backend_timeout->count()));
    }
    asset_cache *raw = nullptr;
    detail::check("open", [&](asset_cache_error **err) {
      return asset_cache_open_config(cfg.get(), &raw, err);
    });
    handle_.reset(raw);
  }

  static std::string finish(asset_cache_status status, const detail::fetch_call &call, char *raw,
                            const detail::error_slot &err, bool *stale, const char *operation) {
    if (stale) *stale = status == ASSET_CACHE_STALE;
    if (status == ASSET_CACHE_OK || status == ASSET_CACHE_STALE) {
      const detail::owned_string json(raw);
      return std::string(json.get());
    }
    if (status == ASSET_CACHE_FETCH_FAILED && call.thrown) std::rethrow_exception(call.thrown);
    detail::fail(status, err, operation);
  }

  std::unique_ptr<asset_cache, detail::handle_free> handle_;
};

}  // namespace assetcache

#endif /* ASSET_CACHE_HPP */
