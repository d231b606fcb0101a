/* The Python original's workflow through the C API: open, add, get,
 * add_list, get_all, validity, invalidate, with every result asserted. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static asset_cache *open_cache(const char *dir) {
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = dir;
  opts.name = "model";
  opts.ttl_seconds = 3600;
  asset_cache *cache = NULL;
  CHECK_OK(asset_cache_open(&opts, &cache));
  CHECK(cache != NULL);
  return cache;
}

static void expect_asset(const asset_cache *cache, const char *id, const char *want) {
  char *json = NULL;
  CHECK_OK(asset_cache_get(cache, id, &json));
  if (strcmp(json, want) != 0) {
    fprintf(stderr, "get(%s) = %s, want %s\n", id, json, want);
    exit(1);
  }
  asset_cache_string_free(json);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "scratch-basic";
  char path[4096];
  snprintf(path, sizeof path, "%s/model.json", dir);
  unlink(path);

  asset_cache *cache = open_cache(dir);
  bool valid = true;
  CHECK_OK(asset_cache_has_valid_cache(cache, &valid));
  CHECK(!valid); /* empty: not valid */

  const char *gpt = "{\"id\":\"640b517694bf816d35a59125\",\"name\":\"GPT-4o\","
                    "\"supplier\":\"OpenAI\",\"function\":\"text-generation\"}";
  CHECK_OK(asset_cache_add(cache, gpt));
  expect_asset(cache, "640b517694bf816d35a59125", gpt);
  CHECK_OK(asset_cache_has_valid_cache(cache, &valid));
  CHECK(valid);

  char *json = NULL;
  CHECK_STATUS(asset_cache_get(cache, "no-such-id", &json), ASSET_CACHE_NOT_FOUND);
  CHECK(json == NULL); /* out-parameter untouched on a miss */

  /* Another handle (like another process) sees the add after opening. */
  asset_cache *other = open_cache(dir);
  expect_asset(other, "640b517694bf816d35a59125", gpt);
  CHECK_OK(asset_cache_add(other, "{\"id\":\"m2\",\"name\":\"Whisper\"}"));
  CHECK_OK(asset_cache_load(cache));
  expect_asset(cache, "m2", "{\"id\":\"m2\",\"name\":\"Whisper\"}");

  double expiry = 0;
  CHECK_OK(asset_cache_expiry(cache, &expiry));
  CHECK(expiry > 1.7e9);

  /* add_list replaces everything; the last duplicate wins at the first's place. */
  CHECK_OK(asset_cache_add_list(cache, "[{\"id\":\"a\",\"v\":1},{\"id\":\"b\",\"v\":2},"
                                       "{\"id\":\"a\",\"v\":3}]"));
  size_t len = 0;
  CHECK_OK(asset_cache_len(cache, &len));
  CHECK(len == 2);
  CHECK_STATUS(asset_cache_get(cache, "m2", &json), ASSET_CACHE_NOT_FOUND);
  CHECK_OK(asset_cache_get_all(cache, &json));
  if (strcmp(json, "[{\"id\":\"a\",\"v\":3},{\"id\":\"b\",\"v\":2}]") != 0) {
    fprintf(stderr, "get_all = %s\n", json);
    return 1;
  }
  asset_cache_string_free(json);

  /* The file is the Python original's shape. */
  struct stat st;
  CHECK(stat(path, &st) == 0 && st.st_size > 0);

  CHECK_OK(asset_cache_invalidate(cache));
  CHECK(stat(path, &st) != 0); /* file deleted */
  CHECK_OK(asset_cache_len(cache, &len));
  CHECK(len == 0);
  CHECK_OK(asset_cache_has_valid_cache(cache, &valid));
  CHECK(!valid);
  CHECK_OK(asset_cache_get_all(cache, &json));
  CHECK(strcmp(json, "[]") == 0);
  asset_cache_string_free(json);

  /* save() on an empty cache creates the file, as the Python constructor does. */
  CHECK_OK(asset_cache_save(cache));
  CHECK(stat(path, &st) == 0);

  asset_cache_free(other);
  asset_cache_free(cache);
  asset_cache_free(NULL);
  asset_cache_string_free(NULL);
  puts("basic: ok");
  return 0;
}
