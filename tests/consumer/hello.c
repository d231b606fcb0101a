#include <asset_cache.h>
#include <stdio.h>

int main(void) {
  asset_cache_config *cfg = NULL;
  if (asset_cache_config_new(&cfg) != ASSET_CACHE_OK) return 1;
  asset_cache_config_set_dir(cfg, ".cache"); /* the default; created on the first write */
  asset_cache_config_set_name(cfg, "models"); /* a bad name would fail the open, saying why */
  asset_cache *cache = NULL;
  asset_cache_error *err = NULL;
  asset_cache_status s = asset_cache_open_config(cfg, &cache, &err);
  asset_cache_config_free(cfg);
  if (s != ASSET_CACHE_OK) {
    fprintf(stderr, "open: %s\n", asset_cache_error_message(err));
    asset_cache_error_free(err);
    return 1;
  }
  s = asset_cache_add(cache, "{\"id\":\"m1\",\"name\":\"GPT-4o\"}");
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
