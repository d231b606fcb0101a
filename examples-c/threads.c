/* Several threads share one handle and add distinct assets while others read:
 * every add must be in memory and on disk at the end. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

enum { THREADS = 8, ADDS = 150 };

static asset_cache *cache;

static void *writer(void *arg) {
  int t = (int)(long)arg;
  char json[128], id[32];
  for (int i = 0; i < ADDS; i++) {
    snprintf(id, sizeof id, "t%d-%d", t, i);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"thread\":%d,\"i\":%d}", id, t, i);
    CHECK_OK(asset_cache_add(cache, json));
    /* A thread reads its own write back at once. */
    char *got = NULL;
    CHECK_OK(asset_cache_get(cache, id, &got));
    CHECK(strcmp(got, json) == 0);
    asset_cache_string_free(got);
  }
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  for (int i = 0; i < 300; i++) {
    char *all = NULL;
    CHECK_OK(asset_cache_get_all(cache, &all));
    CHECK(all[0] == '[');
    asset_cache_string_free(all);
    bool valid;
    CHECK_OK(asset_cache_has_valid_cache(cache, &valid));
    CHECK_OK(asset_cache_load(cache));
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "scratch-threads";
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = dir;
  opts.name = "threads";
  CHECK_OK(asset_cache_open(&opts, &cache));
  CHECK_OK(asset_cache_invalidate(cache));

  pthread_t w[THREADS], r[2];
  for (long t = 0; t < THREADS; t++) CHECK(pthread_create(&w[t], NULL, writer, (void *)t) == 0);
  for (int t = 0; t < 2; t++) CHECK(pthread_create(&r[t], NULL, reader, NULL) == 0);
  for (int t = 0; t < THREADS; t++) pthread_join(w[t], NULL);
  for (int t = 0; t < 2; t++) pthread_join(r[t], NULL);

  size_t len = 0;
  CHECK_OK(asset_cache_len(cache, &len));
  CHECK(len == THREADS * ADDS);

  /* A fresh handle reads everything back from the file. */
  asset_cache *fresh = NULL;
  CHECK_OK(asset_cache_open(&opts, &fresh));
  CHECK_OK(asset_cache_len(fresh, &len));
  CHECK(len == THREADS * ADDS);
  for (int t = 0; t < THREADS; t++) {
    for (int i = 0; i < ADDS; i++) {
      char id[32], *got = NULL;
      snprintf(id, sizeof id, "t%d-%d", t, i);
      CHECK_OK(asset_cache_get(fresh, id, &got));
      asset_cache_string_free(got);
    }
  }
  asset_cache_free(fresh);
  asset_cache_free(cache);
  printf("threads: %d adds from %d threads, all present\n", THREADS * ADDS, THREADS);
  return 0;
}
