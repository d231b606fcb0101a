// The C++ wrapper on Redis: options::backend_url and backend_timeout through
// the same open as files. Two caches with folders of their own stand for two
// hosts; only the server can join them. Run by ctest through with_redis.sh,
// which starts a private redis-server and sets ASSET_CACHE_REDIS_URL.
// Checked to fail: with open() not passing backend_url to the library, the
// second cache sees none of the first one's adds (the b.get("m2") check);
// with backend_timeout not passed, the zero timeout opens without an
// exception; with the empty-URL test dropped from open() (every URL passed
// on, "" included), opening the file-backend cache throws.
#include "asset_cache.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

template <typename F>
static void expect_error(int line, F body, asset_cache_status want, std::string_view needle,
                         std::string_view never = {}) {
  try {
    body();
  } catch (const assetcache::error &e) {
    const std::string_view msg = e.message();
    if (e.status() != want || msg.find(needle) == std::string_view::npos ||
        (!never.empty() && std::string_view(e.what()).find(never) != std::string_view::npos)) {
      std::fprintf(stderr, "line %d: got status %d, message \"%s\"; want %d, \"%.*s\"\n", line,
                   static_cast<int>(e.status()), e.message(), static_cast<int>(want),
                   static_cast<int>(needle.size()), needle.data());
      std::exit(1);
    }
    std::printf("  expected failure: %s\n", e.what());
    return;
  }
  std::fprintf(stderr, "line %d: no exception\n", line);
  std::exit(1);
}
#define EXPECT_ERROR(body, want, ...) expect_error(__LINE__, [&] { body; }, want, __VA_ARGS__)

// A listening socket that never answers (the kernel completes connections
// from its backlog): a server that stopped answering.
static int silent_listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  CHECK(listen(fd, 8) == 0);
  socklen_t len = sizeof addr;
  CHECK(getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

int main(int argc, char **argv) {
  const char *url = std::getenv("ASSET_CACHE_REDIS_URL");
  if (url == nullptr) {
    std::fprintf(stderr, "ASSET_CACHE_REDIS_URL is not set: run through with_redis.sh (ctest does)\n");
    return 1;
  }
  // A folder per run: what an earlier run left cannot make a check pass.
  const std::string name = "cpp-" + std::to_string(getpid());
  const std::string root = argc > 1 ? argv[1] : "scratch-wrapper-redis";
  mkdir(root.c_str(), 0755);
  const std::string dir = root + "/" + name;
  CHECK(mkdir(dir.c_str(), 0755) == 0);

  assetcache::options opts;
  opts.name = name;
  opts.backend_url = url;
  opts.backend_timeout = std::chrono::milliseconds(2000);
  opts.ttl = std::chrono::hours(1);
  opts.dir = dir + "/host-a";
  assetcache::cache a(opts);
  opts.dir = dir + "/host-b";
  opts.backend_timeout.reset();  // the library's default_backend_timeout
  assetcache::cache b(opts);

  a.add(R"({"id":"m1","v":1})");
  a.add(R"({"id":"m2","v":2})");
  CHECK(!b.get("m1"));  // reads are from memory, as with files
  b.load();
  CHECK(b.get("m2") == std::optional<std::string>(R"({"id":"m2","v":2})"));
  b.add(R"({"id":"m1","v":3})");  // replaces in place: insertion order kept
  a.load();
  CHECK(a.get_all() == R"([{"id":"m1","v":3},{"id":"m2","v":2}])");
  CHECK(a.size() == 2 && a.has_valid_cache() && a.contains("m2"));
  b.add_list(R"([{"id":"only"}])");
  a.load();
  CHECK(a.size() == 1 && a.get("only") && !a.get("m1"));
  a.invalidate();
  b.load();
  CHECK(b.size() == 0 && !b.has_valid_cache());
  // Nothing went to the folders: the server holds the cache.
  struct stat st;
  CHECK(stat((dir + "/host-a").c_str(), &st) != 0 && stat((dir + "/host-b").c_str(), &st) != 0);

  // An empty URL is the file backend, as an unset one.
  assetcache::options files;
  files.name = name;
  files.dir = dir + "/files";
  files.backend_url = "";
  assetcache::cache f(files);
  f.add(R"({"id":"f1"})");
  CHECK(stat((dir + "/files/" + name + ".json").c_str(), &st) == 0);

  // Bad URLs: INVALID_ARGUMENT naming the URL, the password masked.
  assetcache::options bad;
  bad.name = name;
  bad.backend_url = "http://cache-host:6379/0";
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_INVALID_ARGUMENT, "http://cache-host");
  bad.backend_url = "redis://user:s3cret@cache-host:notaport/0";
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_INVALID_ARGUMENT, "cache-host", "s3cret");
  bad.backend_url = "rediss://cache-host:6379/0?ssl_ca_certs=/nonexistent/ca.pem";
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_INVALID_ARGUMENT, "/nonexistent/ca.pem");
  bad.backend_url = std::string("redis://cache-host\0:6379", 24);
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_INVALID_ARGUMENT, "NUL");
  bad.backend_url = url;
  bad.backend_timeout = std::chrono::milliseconds(0);
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_INVALID_ARGUMENT, "timeout");

  // A server that never answers: BACKEND_UNAVAILABLE within the timeout.
  int port = 0;
  const int fd = silent_listener(&port);
  bad.backend_url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  bad.backend_timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_ERROR(assetcache::cache c(bad), ASSET_CACHE_BACKEND_UNAVAILABLE, "127.0.0.1:" + std::to_string(port));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::milliseconds(2500));
  close(fd);
  std::puts("wrapper_cpp_redis: all checks passed");
  return 0;
}
