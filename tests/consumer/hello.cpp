#include <asset_cache.hpp>

#include <chrono>
#include <iostream>

int main() {
  assetcache::options opts;
  opts.dir = ".cache";  // the default; created on the first write
  opts.name = "models";
  opts.ttl = std::chrono::hours(24);
  assetcache::cache models(opts);  // throws assetcache::error on failure

  models.add(R"({"id":"m1","name":"GPT-4o"})");
  if (std::optional<std::string> json = models.get("m1")) std::cout << *json << '\n';
  if (!models.get("m2")) std::cout << "m2: not cached\n";
  std::cout << models.size() << " asset(s)\n";

  try {
    models.add(R"({"name":"no id"})");
  } catch (const assetcache::error &e) {
    // e.status() == ASSET_CACHE_MISSING_ID; e.what() == "add: " + e.message()
    std::cerr << e.what() << '\n';
  }
}
