/* The C ABI on Redis: the same open call (asset_cache_open_config) with a
 * backend URL. Two handles stand for two hosts; every check asserts.
 * Built and run by scripts/test-redis.sh with ASSET_CACHE_REDIS_URL set.
 * Checked to fail: with asset_cache_open_config opening the file backend
 * whatever the URL, the second handle saw none of the first one's adds. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asset_cache.h"

#define CHECK(call, want)                                                              \
  do {                                                                                 \
    asset_cache_status s_ = (call);                                                    \
    if (s_ != (want)) {                                                                \
      fprintf(stderr, "%s:%d: %s = %d (%s), want %d: %s\n", __FILE__, __LINE__, #call, \
              (int)s_, asset_cache_status_str(s_), (int)(want), asset_cache_last_error()); \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

/* `host` names a local folder of its own: with files the two handles would
 * share nothing; only the server can join them. */
static asset_cache *open_on(const char *url, const char *name, const char *host,
                            asset_cache_status want) {
  asset_cache_config *cfg = NULL;
  asset_cache *cache = NULL;
  asset_cache_error *err = NULL;
  CHECK(asset_cache_config_new(&cfg), ASSET_CACHE_OK);
  CHECK(asset_cache_config_set_name(cfg, name), ASSET_CACHE_OK);
  char dir[128];
  snprintf(dir, sizeof dir, "/tmp/asset-cache-c-basic-%ld-%s", (long)getpid(), host);
  CHECK(asset_cache_config_set_dir(cfg, dir), ASSET_CACHE_OK);
  CHECK(asset_cache_config_set_ttl_seconds(cfg, 3600), ASSET_CACHE_OK);
  asset_cache_config_set_backend_url(cfg, url); /* a failure is reported by the open */
  CHECK(asset_cache_config_set_backend_timeout_ms(cfg, 2000), ASSET_CACHE_OK);
  asset_cache_status s = asset_cache_open_config(cfg, &cache, &err);
  if (s != want) {
    fprintf(stderr, "open %s: %d (%s), want %d: %s\n", url, (int)s, asset_cache_status_str(s),
            (int)want, err ? asset_cache_error_message(err) : "");
    exit(1);
  }
  if (err) {
    /* The message names the server or the URL, never a password. */
    const char *msg = asset_cache_error_message(err);
    assert(strstr(msg, "s3cret") == NULL);
    printf("  expected failure: %s\n", msg);
    asset_cache_error_free(err);
  }
  asset_cache_config_free(cfg);
  return cache;
}

static void expect_json(const asset_cache *cache, const char *id, const char *want) {
  char *json = NULL;
  CHECK(asset_cache_get(cache, id, &json), ASSET_CACHE_OK);
  if (strcmp(json, want) != 0) {
    fprintf(stderr, "get %s = %s, want %s\n", id, json, want);
    exit(1);
  }
  asset_cache_string_free(json);
}

int main(void) {
  const char *url = getenv("ASSET_CACHE_REDIS_URL");
  if (!url) {
    fprintf(stderr, "ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh\n");
    return 1;
  }
  char name[64];
  snprintf(name, sizeof name, "c-basic-%ld", (long)getpid());

  asset_cache *a = open_on(url, name, "host-a", ASSET_CACHE_OK);
  asset_cache *b = open_on(url, name, "host-b", ASSET_CACHE_OK);
  CHECK(asset_cache_add(a, "{\"id\":\"m1\",\"v\":1}"), ASSET_CACHE_OK);
  CHECK(asset_cache_add(a, "{\"id\":\"m2\",\"v\":2}"), ASSET_CACHE_OK);
  CHECK(asset_cache_add(b, "{\"id\":\"m1\",\"v\":3}"), ASSET_CACHE_OK); /* behind a: catches up */
  expect_json(b, "m2", "{\"id\":\"m2\",\"v\":2}");
  CHECK(asset_cache_load(a), ASSET_CACHE_OK);
  expect_json(a, "m1", "{\"id\":\"m1\",\"v\":3}");
  char *all = NULL;
  CHECK(asset_cache_get_all(a, &all), ASSET_CACHE_OK);
  assert(strcmp(all, "[{\"id\":\"m1\",\"v\":3},{\"id\":\"m2\",\"v\":2}]") == 0);
  asset_cache_string_free(all);

  CHECK(asset_cache_add_list(b, "[{\"id\":\"n1\"},{\"id\":\"n2\"},{\"id\":\"n1\",\"x\":1}]"),
        ASSET_CACHE_OK);
  CHECK(asset_cache_load(a), ASSET_CACHE_OK);
  size_t len = 0;
  CHECK(asset_cache_len(a, &len), ASSET_CACHE_OK);
  assert(len == 2);
  expect_json(a, "n1", "{\"id\":\"n1\",\"x\":1}");
  char *json = NULL;
  CHECK(asset_cache_get(a, "m1", &json), ASSET_CACHE_NOT_FOUND);

  /* The claim shape across the two hosts (checked to fail: with claim.lua
   * answering 'claimed' without its SET NX, b's zero-wait begin_fetch got a
   * claim of its own instead of LOCK_TIMEOUT). */
  asset_cache_claim *claim = NULL;
  CHECK(asset_cache_begin_fetch(a, "f1", 0, &claim, &json), ASSET_CACHE_NOT_FOUND);
  assert(claim != NULL && json == NULL);
  asset_cache_claim *other = NULL;
  CHECK(asset_cache_begin_fetch(b, "f1", 0, &other, &json), ASSET_CACHE_LOCK_TIMEOUT);
  assert(other == NULL);
  asset_cache_claim_abandon(claim); /* the next caller fetches */
  CHECK(asset_cache_begin_fetch(b, "f1", 0, &other, &json), ASSET_CACHE_NOT_FOUND);
  assert(other != NULL);
  CHECK(asset_cache_claim_complete(b, other, "{\"id\":\"f1\",\"by\":\"b\"}"), ASSET_CACHE_OK);
  claim = NULL;
  CHECK(asset_cache_begin_fetch(a, "f1", 0, &claim, &json), ASSET_CACHE_OK);
  assert(claim == NULL && strcmp(json, "{\"id\":\"f1\",\"by\":\"b\"}") == 0);
  asset_cache_string_free(json);
  json = NULL;

  CHECK(asset_cache_invalidate(a), ASSET_CACHE_OK);
  CHECK(asset_cache_load(b), ASSET_CACHE_OK);
  CHECK(asset_cache_len(b, &len), ASSET_CACHE_OK);
  assert(len == 0);
  asset_cache_free(a);
  asset_cache_free(b);

  /* Failures through the same open call. */
  open_on("redis://127.0.0.1:notaport/0", name, "x", ASSET_CACHE_INVALID_ARGUMENT);
  open_on("redis://:s3cret@127.0.0.1:1/0", name, "x", ASSET_CACHE_BACKEND_UNAVAILABLE);
  /* Nothing was written to the local folders: the store is on the server. */
  char dir[128];
  snprintf(dir, sizeof dir, "/tmp/asset-cache-c-basic-%ld-host-a", (long)getpid());
  assert(access(dir, F_OK) != 0);
  puts("c basic on redis: 1 passed, 0 failed");
  return 0;
}
