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
 * the C status and the library's message. A missing asset is not an error:
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
   * The message alone: the library's (asset_cache_last_error() at the
   * failure), or the wrapper's for input it refuses itself (a NUL byte).
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
   * zero tries once, negative waits forever; unset is the library's 30 s.
   */
  std::optional<std::chrono::milliseconds> lock_timeout;
  /** fsync every write, so it survives power loss and not just a crash. */
  bool durable = false;
};

/** The loaded library's version, e.g. "0.1.0" (ASSET_CACHE_VERSION_STRING is the header's). */
inline std::string_view library_version() noexcept { return asset_cache_version(); }

namespace detail {

// Copies the library's thread-local message at once: the next failing call
// on this thread would replace it.
[[noreturn]] inline void fail(asset_cache_status status, const char *operation) {
  std::string_view message = asset_cache_last_error();
  if (message.empty()) message = asset_cache_status_str(status);
  throw error(status, operation, message);
}

inline void check(asset_cache_status status, const char *operation) {
  if (status != ASSET_CACHE_OK) fail(status, operation);
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

}  // namespace detail

/**
 * An open cache: owns one C handle and frees it on destruction. Movable, not
 * copyable; a moved-from cache is empty (operator bool is false) and every
 * call on it throws ASSET_CACHE_INVALID_ARGUMENT.
 */
class cache {
 public:
  /** Opens (and loads, if it exists) the cache described by `opts`. Creates no files. */
  explicit cache(const options &opts) {
    const std::string name = detail::c_string(opts.name, "open", "cache name");
    const std::string dir = detail::c_string(opts.dir, "open", "cache folder");
    asset_cache_options c_opts;
    asset_cache_options_init(&c_opts);
    c_opts.dir = dir.empty() ? nullptr : dir.c_str();
    c_opts.name = name.c_str();
    if (opts.ttl) {
      // In C a negative ttl_seconds means "unset"; here it is a mistake.
      if (opts.ttl->count() < 0) {
        throw error(ASSET_CACHE_INVALID_ARGUMENT, "open",
                    "ttl is negative (" + std::to_string(opts.ttl->count()) + " s)");
      }
      c_opts.ttl_seconds = static_cast<int64_t>(opts.ttl->count());
    }
    if (opts.lock_timeout) c_opts.lock_timeout_ms = static_cast<int64_t>(opts.lock_timeout->count());
    c_opts.durable = opts.durable;
    asset_cache *raw = nullptr;
    detail::check(asset_cache_open(&c_opts, &raw), "open");
    handle_.reset(raw);
  }

  /** Opens the cache `name` in ".cache" with default options, like the Python original. */
  explicit cache(std::string_view name) {
    const std::string n = detail::c_string(name, "open", "cache name");
    asset_cache *raw = nullptr;
    detail::check(asset_cache_new(n.c_str(), &raw), "open");
    handle_.reset(raw);
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
    const asset_cache_status status = asset_cache_get(handle_.get(), key.c_str(), &raw);
    if (status == ASSET_CACHE_NOT_FOUND) return std::nullopt;
    detail::check(status, "get");
    const detail::owned_string json(raw);
    return std::string(json.get());
  }

  /** Every asset as one JSON array, in insertion order ("[]" when empty or expired). */
  std::string get_all() const {
    char *raw = nullptr;
    detail::check(asset_cache_get_all(handle_.get(), &raw), "get_all");
    const detail::owned_string json(raw);
    return std::string(json.get());
  }

  /** Adds or replaces one asset (a JSON object with a non-empty string "id"); on disk on return. */
  void add(std::string_view asset_json) {
    const std::string json = detail::c_string(asset_json, "add", "asset");
    detail::check(asset_cache_add(handle_.get(), json.c_str()), "add");
  }

  /** Replaces every asset with those of a JSON array, with a fresh expiry. All or nothing. */
  void add_list(std::string_view assets_json) {
    const std::string json = detail::c_string(assets_json, "add_list", "asset list");
    detail::check(asset_cache_add_list(handle_.get(), json.c_str()), "add_list");
  }

  /** Reads the file into memory, picking up other processes' writes. */
  void load() { detail::check(asset_cache_load(handle_.get()), "load"); }

  /** Rewrites (compacts) the file from memory; creates it if missing. */
  void save() { detail::check(asset_cache_save(handle_.get()), "save"); }

  /** Empties the cache, starts a fresh expiry and deletes the file. */
  void invalidate() { detail::check(asset_cache_invalidate(handle_.get()), "invalidate"); }

  /** True when the store has not expired and holds at least one asset. */
  bool has_valid_cache() const {
    bool valid = false;
    detail::check(asset_cache_has_valid_cache(handle_.get(), &valid), "has_valid_cache");
    return valid;
  }

  /** When the store expires (clamped to what a system_clock::time_point can hold). */
  std::chrono::system_clock::time_point expiry() const {
    using clock = std::chrono::system_clock;
    double seconds = 0;
    detail::check(asset_cache_expiry(handle_.get(), &seconds), "expiry");
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

  /** Number of assets in memory. */
  std::size_t size() const {
    std::size_t len = 0;
    detail::check(asset_cache_len(handle_.get(), &len), "size");
    return len;
  }

 private:
  std::unique_ptr<asset_cache, detail::handle_free> handle_;
};

}  // namespace assetcache

#endif /* ASSET_CACHE_HPP */
