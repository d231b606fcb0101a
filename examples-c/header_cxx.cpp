// The header compiles on its own as C++ and its functions link with C++.
#include "asset_cache.h"

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char **argv) {
  std::string dir = argc > 1 ? argv[1] : "scratch-cxx";
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = dir.c_str();
  opts.name = "cxx";
  asset_cache *cache = nullptr;
  if (asset_cache_open(&opts, &cache) != ASSET_CACHE_OK) {
    std::fprintf(stderr, "open: %s\n", asset_cache_last_error());
    return 1;
  }
  if (asset_cache_add(cache, R"({"id":"x","v":"\u00e9"})") != ASSET_CACHE_OK) return 1;
  char *json = nullptr;
  if (asset_cache_get(cache, "x", &json) != ASSET_CACHE_OK) return 1;
  bool same = std::strcmp(json, R"({"id":"x","v":"\u00e9"})") == 0;
  asset_cache_string_free(json);
  asset_cache_free(cache);
  return same ? 0 : 1;
}
