#include <asset_cache.h>
#include <stdio.h>

int main(void) {
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = ".cache"; /* the default; created on the first write */
  opts.name = "models";
  asset_cache *cache = NULL;
  if (asset_cache_open(&opts, &cache) != ASSET_CACHE_OK) {
    fprintf(stderr, "open: %s\n", asset_cache_last_error());
    return 1;
  }
  asset_cache_status s = asset_cache_add(cache, "{\"id\":\"m1\",\"name\":\"GPT-4o\"}");
  if (s != ASSET_CACHE_OK) {
    fprintf(stderr, "add: %s: %s\n", asset_cache_status_str(s), asset_cache_last_error());
    return 1;
  }
  char *json = NULL;
  if (asset_cache_get(cache, "m1", &json) == ASSET_CACHE_OK) {
    printf("%s\n", json);
    asset_cache_string_free(json);
  }
  asset_cache_free(cache);
  return 0;
}
