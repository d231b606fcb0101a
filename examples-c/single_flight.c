/* Get-or-fetch through the C API: the callback shape and the claim shape,
 * single-flight across processes (fork), a failing fetch, a fetch that
 * answers bad JSON, and the per-asset calls (remove, contains, ids, add_many,
 * add under a key). Every result is asserted.
 *
 *   single_flight DIR                     the test
 *   single_flight --worker DIR LOG N      one process of the mixed-language
 *                                         test: get-or-fetch of ids m0..m<N-1>,
 *                                         each fetch appends "c <id>" to LOG
 */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static asset_cache *open_cache(const char *dir) {
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = dir;
  opts.name = "model";
  opts.ttl_seconds = 3600;
  opts.lock_timeout_ms = 20000;
  asset_cache *cache = NULL;
  CHECK_OK(asset_cache_open(&opts, &cache));
  return cache;
}

/* One line per fetch, one write(2) on an O_APPEND file: lines from many
 * processes never mix. */
static void log_line(const char *log, const char *who, const char *id) {
  char line[256];
  int n = snprintf(line, sizeof line, "%s %s\n", who, id);
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, line, (size_t)n) == n);
  close(fd);
}

struct fetcher {
  const char *log; /* NULL: do not log */
  const char *answer; /* NULL: build {"id":<id>} */
  const char *fail; /* non-NULL: fail with this message */
  int calls;
};

static void fetch_cb(void *userdata, const char *id, asset_cache_fetch *fetch) {
  struct fetcher *f = userdata;
  f->calls++;
  if (f->log) {
    log_line(f->log, "c", id ? id : "(all)");
    usleep(3000); /* a fetch takes time: the others must wait, not fetch */
  }
  if (f->fail) {
    asset_cache_fetch_fail(fetch, f->fail);
    return;
  }
  if (f->answer) {
    asset_cache_fetch_ok(fetch, f->answer);
    return;
  }
  char json[256];
  snprintf(json, sizeof json, "{\"id\":\"%s\",\"by\":\"c\"}", id);
  asset_cache_fetch_ok(fetch, json);
}

static int worker(const char *dir, const char *log, int n) {
  asset_cache *cache = open_cache(dir);
  /* A start line for processes of different languages (SF_GO: a file whose
   * creation starts them all at once). */
  const char *go = getenv("SF_GO");
  while (go && access(go, F_OK) != 0) usleep(1000);
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "m%d", (i * 7 + getpid()) % n);
    struct fetcher f = {log, NULL, NULL, 0};
    char *json = NULL;
    CHECK_OK(asset_cache_get_or_fetch(cache, id, fetch_cb, &f, &json));
    char want[64];
    snprintf(want, sizeof want, "\"id\":\"%s\"", id);
    CHECK(strstr(json, want) != NULL);
    asset_cache_string_free(json);
  }
  asset_cache_free(cache);
  return 0;
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--worker") == 0) return worker(argv[2], argv[3], atoi(argv[4]));
  const char *dir = argc > 1 ? argv[1] : "scratch-single-flight";
  char path[4096], log[4096];
  snprintf(path, sizeof path, "%s/model.json", dir);
  snprintf(log, sizeof log, "%s/fetches.log", dir);
  unlink(path);
  unlink(log);
  asset_cache *cache = open_cache(dir);

  /* Callback shape: a miss fetches once, a hit does not fetch. */
  struct fetcher f = {NULL, NULL, NULL, 0};
  char *json = NULL;
  CHECK_OK(asset_cache_get_or_fetch(cache, "m1", fetch_cb, &f, &json));
  CHECK(strcmp(json, "{\"id\":\"m1\",\"by\":\"c\"}") == 0);
  asset_cache_string_free(json);
  CHECK_OK(asset_cache_get_or_fetch(cache, "m1", fetch_cb, &f, &json));
  asset_cache_string_free(json);
  CHECK(f.calls == 1);

  /* A failing fetch: FETCH_FAILED with its message, nothing stored; the
   * out-parameter untouched. */
  struct fetcher failing = {NULL, NULL, "service down", 0};
  json = NULL;
  CHECK_STATUS(asset_cache_get_or_fetch(cache, "m2", fetch_cb, &failing, &json),
               ASSET_CACHE_FETCH_FAILED);
  CHECK(json == NULL);
  CHECK(strcmp(asset_cache_last_error(), "service down") == 0);
  bool has = true;
  CHECK_OK(asset_cache_contains(cache, "m2", &has));
  CHECK(!has);

  /* Bad JSON from a fetch: the same statuses as asset_cache_add. */
  struct fetcher bad = {NULL, "{not json", NULL, 0};
  CHECK_STATUS(asset_cache_get_or_fetch(cache, "m3", fetch_cb, &bad, &json),
               ASSET_CACHE_INVALID_JSON);
  CHECK_STATUS(asset_cache_add(cache, "{not json"), ASSET_CACHE_INVALID_JSON);
  struct fetcher noid = {NULL, "{\"name\":\"x\"}", NULL, 0};
  CHECK_STATUS(asset_cache_get_or_fetch(cache, "m3", fetch_cb, &noid, &json),
               ASSET_CACHE_MISSING_ID);
  CHECK_STATUS(asset_cache_add(cache, "{\"name\":\"x\"}"), ASSET_CACHE_MISSING_ID);
  CHECK_OK(asset_cache_contains(cache, "m3", &has));
  CHECK(!has);
  CHECK_STATUS(asset_cache_get_or_fetch(cache, "m3", NULL, NULL, &json),
               ASSET_CACHE_INVALID_ARGUMENT);

  /* Claim shape: begin (NOT_FOUND + claim), another begin with no wait is
   * LOCK_TIMEOUT at once, complete; abandon lets the next caller claim. */
  asset_cache *other = open_cache(dir);
  asset_cache_claim *claim = NULL, *claim2 = NULL;
  CHECK_STATUS(asset_cache_begin_fetch(cache, "m4", 0, &claim, &json), ASSET_CACHE_NOT_FOUND);
  CHECK(claim != NULL);
  CHECK_STATUS(asset_cache_begin_fetch(other, "m4", 0, &claim2, &json),
               ASSET_CACHE_LOCK_TIMEOUT);
  CHECK_OK(asset_cache_claim_complete(cache, claim, "{\"id\":\"m4\",\"v\":4}"));
  CHECK_OK(asset_cache_begin_fetch(other, "m4", 0, &claim2, &json));
  CHECK(claim2 == NULL && strcmp(json, "{\"id\":\"m4\",\"v\":4}") == 0);
  asset_cache_string_free(json);
  CHECK_STATUS(asset_cache_begin_fetch(cache, "m5", 0, &claim, &json), ASSET_CACHE_NOT_FOUND);
  asset_cache_claim_abandon(claim);
  CHECK_STATUS(asset_cache_begin_fetch(other, "m5", 0, &claim2, &json), ASSET_CACHE_NOT_FOUND);
  CHECK_STATUS(asset_cache_claim_fail(other, claim2, "timeout from the service", &json),
               ASSET_CACHE_FETCH_FAILED);
  CHECK(strcmp(asset_cache_last_error(), "timeout from the service") == 0);
  CHECK_STATUS(asset_cache_claim_complete(cache, NULL, "{}"), ASSET_CACHE_INVALID_ARGUMENT);
  asset_cache_claim_abandon(NULL);

  /* Refresh-all on an empty store fetches the list once; then it is valid. */
  CHECK_OK(asset_cache_invalidate(cache));
  struct fetcher all = {NULL, "[{\"id\":\"a\"},{\"id\":\"b\"}]", NULL, 0};
  CHECK_OK(asset_cache_refresh_all(cache, fetch_cb, &all, &json));
  CHECK(strcmp(json, "[{\"id\":\"a\"},{\"id\":\"b\"}]") == 0);
  asset_cache_string_free(json);
  CHECK_OK(asset_cache_refresh_all(other, fetch_cb, &all, &json));
  asset_cache_string_free(json);
  CHECK(all.calls == 1);

  /* Per-asset calls. */
  CHECK_OK(asset_cache_add_many(cache, "[{\"id\":\"c\"},{\"id\":\"d\"}]"));
  CHECK_STATUS(asset_cache_add_many(cache, "[{\"id\":\"e\"},{\"x\":1}]"), ASSET_CACHE_MISSING_ID);
  CHECK(strstr(asset_cache_last_error(), "element 1") != NULL);
  CHECK_OK(asset_cache_add_with_key(cache, "gpt-4", "{\"id\":\"64ab\"}"));
  CHECK_OK(asset_cache_ids(cache, &json));
  CHECK(strcmp(json, "[\"a\",\"b\",\"c\",\"d\",\"gpt-4\"]") == 0);
  asset_cache_string_free(json);
  bool removed = false;
  CHECK_OK(asset_cache_remove(cache, "b", &removed));
  CHECK(removed);
  CHECK_OK(asset_cache_remove(cache, "b", &removed));
  CHECK(!removed);
  CHECK_OK(asset_cache_load(other));
  CHECK_OK(asset_cache_ids(other, &json));
  CHECK(strcmp(json, "[\"a\",\"c\",\"d\",\"gpt-4\"]") == 0);
  asset_cache_string_free(json);
  asset_cache_free(other);
  asset_cache_free(cache);

  /* Stale-if-error through the options object: within the grace period a
   * failed fetch returns the expired asset with STALE and the fetch's
   * message; with no grace, FETCH_FAILED. */
  {
    char sdir[4096];
    snprintf(sdir, sizeof sdir, "%s/stale", dir);
    asset_cache_config *cfg = NULL;
    CHECK_OK(asset_cache_config_new(&cfg));
    CHECK_OK(asset_cache_config_set_dir(cfg, sdir));
    CHECK_OK(asset_cache_config_set_name(cfg, "model"));
    CHECK_OK(asset_cache_config_set_ttl_seconds(cfg, 1));
    CHECK_OK(asset_cache_config_set_stale_if_error_ms(cfg, 30000));
    asset_cache *s = NULL;
    CHECK_OK(asset_cache_open_config(cfg, &s, NULL));
    CHECK_OK(asset_cache_config_set_stale_if_error_ms(cfg, 0));
    asset_cache *strict = NULL;
    CHECK_OK(asset_cache_open_config(cfg, &strict, NULL));
    asset_cache_config_free(cfg);
    CHECK_OK(asset_cache_invalidate(s));
    CHECK_OK(asset_cache_add(s, "{\"id\":\"m1\",\"v\":1}"));
    CHECK_OK(asset_cache_load(strict));
    usleep(1100 * 1000);
    struct fetcher outage = {NULL, NULL, "outage", 0};
    json = NULL;
    asset_cache_error *err = NULL;
    CHECK_STATUS(asset_cache_get_or_fetch_ex(s, "m1", fetch_cb, &outage, &json, &err), ASSET_CACHE_STALE);
    CHECK(json != NULL && strcmp(json, "{\"id\":\"m1\",\"v\":1}") == 0);
    CHECK(err != NULL && strcmp(asset_cache_error_message(err), "outage") == 0);
    asset_cache_string_free(json);
    asset_cache_error_free(err);
    json = NULL;
    CHECK_STATUS(asset_cache_get_or_fetch(strict, "m1", fetch_cb, &outage, &json), ASSET_CACHE_FETCH_FAILED);
    CHECK(json == NULL);
    asset_cache_free(strict);
    asset_cache_free(s);
  }

  /* Single-flight across 8 processes x 50 ids: exactly 50 fetches. */
  cache = open_cache(dir);
  CHECK_OK(asset_cache_invalidate(cache));
  asset_cache_free(cache);
  pid_t kids[8];
  for (int i = 0; i < 8; i++) {
    kids[i] = fork();
    CHECK(kids[i] >= 0);
    if (kids[i] == 0) _exit(worker(dir, log, 50));
  }
  for (int i = 0; i < 8; i++) {
    int st = 0;
    CHECK(waitpid(kids[i], &st, 0) == kids[i]);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  int fetches = count_lines(log);
  if (fetches != 50) {
    fprintf(stderr, "8 processes x 50 ids: %d fetches, want 50\n", fetches);
    return 1;
  }
  printf("single_flight: 8 processes x 50 ids, %d fetches\n", fetches);
  return 0;
}
