// The C++ wrapper as installed: the same round trip as consumer.c.
#include <asset_cache.hpp>

#include <cstdio>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer_cpp DIR\n");
    return 2;
  }
  try {
    assetcache::options opts;
    opts.dir = argv[1];
    opts.name = "consumer_cpp";
    assetcache::cache cache(opts);
    const std::string asset = R"({"id":"p1","from":"C++"})";
    cache.add(asset);
    if (cache.get("p1") != asset || cache.get("absent").has_value()) {
      std::fprintf(stderr, "consumer_cpp: get returned something else\n");
      return 1;
    }
    cache.add("not json");
    std::fprintf(stderr, "consumer_cpp: bad JSON was accepted\n");
    return 1;
  } catch (const assetcache::error &e) {
    if (e.status() != ASSET_CACHE_INVALID_JSON) {
      std::fprintf(stderr, "consumer_cpp: %s\n", e.what());
      return 1;
    }
  }
  std::printf("consumer (C++): ok, library %s\n", std::string(assetcache::library_version()).c_str());
  return 0;
}
