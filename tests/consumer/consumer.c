/* A program built against an installed copy of the library (see
 * scripts/test-install.sh): the header it was compiled with must match the
 * library it runs with, and the basic calls must work. */
#include <asset_cache.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, asset_cache_status s) {
  fprintf(stderr, "consumer: %s: %s: %s\n", what, asset_cache_status_str(s), asset_cache_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  if (strcmp(asset_cache_version(), ASSET_CACHE_VERSION_STRING) != 0 ||
      asset_cache_version_number() != ASSET_CACHE_VERSION_NUMBER) {
    fprintf(stderr, "consumer: header %s but library %s\n", ASSET_CACHE_VERSION_STRING,
            asset_cache_version());
    return 1;
  }
  asset_cache_config *cfg = NULL;
  asset_cache_status s = asset_cache_config_new(&cfg);
  if (s != ASSET_CACHE_OK) return fail("config_new", s);
  if ((s = asset_cache_config_set_dir(cfg, argv[1])) != ASSET_CACHE_OK) return fail("set_dir", s);
  if ((s = asset_cache_config_set_name(cfg, "consumer")) != ASSET_CACHE_OK) return fail("set_name", s);
  asset_cache *cache = NULL;
  s = asset_cache_open_config(cfg, &cache, NULL);
  asset_cache_config_free(cfg);
  if (s != ASSET_CACHE_OK) return fail("open", s);
  const char *asset = "{\"id\":\"c1\",\"from\":\"C\"}";
  if ((s = asset_cache_add(cache, asset)) != ASSET_CACHE_OK) return fail("add", s);
  char *json = NULL;
  if ((s = asset_cache_get(cache, "c1", &json)) != ASSET_CACHE_OK) return fail("get", s);
  int same = strcmp(json, asset) == 0;
  asset_cache_string_free(json);
  asset_cache_free(cache);
  if (!same) {
    fprintf(stderr, "consumer: get returned something else\n");
    return 1;
  }
  printf("consumer (C): ok, library %s\n", asset_cache_version());
  return 0;
}
