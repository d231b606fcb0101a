/* The growable options object and the error object (0.2): every setter,
 * a failed setter reported again by the open, options applied (shown by
 * their effects), the `_ex` twins, and an error object created on one
 * thread and read on another, where asset_cache_last_error() cannot help.
 *
 * Checked that it can fail: with the boundary not writing `*err`, and with a
 * successful setter clearing every earlier failure (not just its own), this
 * program stopped at the first check concerned. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* Expects `err` to hold `status` and a message containing `part`; frees it. */
static void expect_error(asset_cache_error **err, asset_cache_status status, const char *part) {
  CHECK(*err != NULL);
  const char *message = asset_cache_error_message(*err);
  if (asset_cache_error_status(*err) != status || strstr(message, part) == NULL) {
    fprintf(stderr, "error object: status %d message \"%s\", want %d and \"%s\"\n",
            (int)asset_cache_error_status(*err), message, (int)status, part);
    exit(1);
  }
  asset_cache_error_free(*err);
  *err = NULL;
}

static bool exists(const char *dir, const char *file) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return stat(path, &st) == 0;
}

struct lookup {
  const asset_cache *cache;
  asset_cache_status status;
  asset_cache_error *err;
};

static void *lookup_missing(void *arg) {
  struct lookup *l = arg;
  char *json = NULL;
  l->status = asset_cache_get_ex(l->cache, "missing-on-a-worker", &json, &l->err);
  return NULL;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "scratch-config";
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);

  CHECK_STATUS(asset_cache_config_new(NULL), ASSET_CACHE_INVALID_ARGUMENT);
  asset_cache_config *cfg = NULL;
  CHECK_OK(asset_cache_config_new(&cfg));
  CHECK(cfg != NULL);

  /* No name: the open fails, through the error object and last_error alike. */
  asset_cache *cache = NULL;
  asset_cache_error *err = NULL;
  CHECK_STATUS(asset_cache_open_config(cfg, &cache, &err), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK(cache == NULL);
  CHECK(strcmp(asset_cache_error_message(err), asset_cache_last_error()) == 0);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "asset_cache_config_set_name");

  /* A failed setter changes nothing and is reported again by the open,
   * until the option is set successfully. */
  CHECK_STATUS(asset_cache_config_set_name(cfg, "a/b"), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK(strstr(asset_cache_last_error(), "separator") != NULL);
  CHECK_STATUS(asset_cache_config_set_ttl_seconds(cfg, -5), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_open_config(cfg, &cache, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT,
               "asset_cache_config_set_name failed: cache name \"a/b\" contains a path separator");
  CHECK_OK(asset_cache_config_set_name(cfg, "models"));
  CHECK_STATUS(asset_cache_open_config(cfg, &cache, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "asset_cache_config_set_ttl_seconds failed");
  CHECK_OK(asset_cache_config_set_ttl_seconds(cfg, 3600));
  CHECK_STATUS(asset_cache_config_set_name(cfg, "caf\xe9"), ASSET_CACHE_INVALID_UTF8);
  CHECK_STATUS(asset_cache_open_config(cfg, &cache, NULL), ASSET_CACHE_INVALID_UTF8);
  CHECK_OK(asset_cache_config_set_name(cfg, "models"));
  CHECK_STATUS(asset_cache_config_set_dir(cfg, ""), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_OK(asset_cache_config_set_dir(cfg, NULL)); /* back to the default, fixing it */
  CHECK_OK(asset_cache_config_set_dir(cfg, dir));
  CHECK_OK(asset_cache_config_set_lock_timeout_ms(cfg, 200));
  CHECK_OK(asset_cache_config_set_durable(cfg, true));
  CHECK_STATUS(asset_cache_config_set_dir(NULL, dir), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_config_set_durable(NULL, true), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_open_config(NULL, &cache, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "config is NULL");
  CHECK_STATUS(asset_cache_open_config(cfg, NULL, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "out is NULL");

  CHECK_OK(asset_cache_open_config(cfg, &cache, &err));
  CHECK(cache != NULL && err == NULL); /* *err untouched on success */
  /* One config opens any number of caches and is not needed by them. */
  asset_cache *second = NULL;
  CHECK_OK(asset_cache_open_config(cfg, &second, NULL));
  asset_cache_config_free(cfg);
  asset_cache_config_free(NULL);

  /* The options took effect: dir and name (the files), ttl (the expiry),
   * lock timeout (a held lock). */
  const char *m1 = "{\"id\":\"m1\",\"name\":\"GPT-4o\"}";
  CHECK_OK(asset_cache_add_ex(cache, m1, &err));
  CHECK(err == NULL);
  CHECK(exists(dir, "models.json") && exists(dir, "models.lock"));
  double expiry = 0;
  CHECK_OK(asset_cache_expiry_ex(cache, &expiry, &err));
  CHECK(fabs(expiry - ((double)time(NULL) + 3600)) < 60);
  char lock_path[4096];
  snprintf(lock_path, sizeof lock_path, "%s/models.lock", dir);
  int fd = open(lock_path, O_RDWR);
  CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
  CHECK_STATUS(asset_cache_add_ex(cache, m1, &err), ASSET_CACHE_LOCK_TIMEOUT);
  expect_error(&err, ASSET_CACHE_LOCK_TIMEOUT, "lock");
  CHECK(close(fd) == 0);

  /* Every _ex twin: the same results, failures also as an error object. */
  char *json = NULL;
  CHECK_OK(asset_cache_load_ex(second, &err));
  CHECK_OK(asset_cache_get_ex(second, "m1", &json, &err));
  CHECK(strcmp(json, m1) == 0);
  asset_cache_string_free(json);
  json = NULL;
  CHECK_STATUS(asset_cache_get_ex(cache, "nope", &json, &err), ASSET_CACHE_NOT_FOUND);
  CHECK(json == NULL);
  expect_error(&err, ASSET_CACHE_NOT_FOUND, "nope");
  CHECK_STATUS(asset_cache_add_ex(cache, "{bad", &err), ASSET_CACHE_INVALID_JSON);
  expect_error(&err, ASSET_CACHE_INVALID_JSON, "");
  CHECK_STATUS(asset_cache_add_list_ex(cache, "[{\"id\":\"a\"},{}]", &err), ASSET_CACHE_MISSING_ID);
  expect_error(&err, ASSET_CACHE_MISSING_ID, "element 1");
  CHECK_OK(asset_cache_add_list_ex(cache, "[{\"id\":\"a\"},{\"id\":\"b\"}]", &err));
  size_t len = 0;
  CHECK_OK(asset_cache_len_ex(cache, &len, &err));
  CHECK(len == 2);
  bool valid = false;
  CHECK_OK(asset_cache_has_valid_cache_ex(cache, &valid, &err));
  CHECK(valid);
  CHECK_OK(asset_cache_get_all_ex(cache, &json, &err));
  CHECK(strcmp(json, "[{\"id\":\"a\"},{\"id\":\"b\"}]") == 0);
  asset_cache_string_free(json);
  CHECK_OK(asset_cache_save_ex(cache, &err));
  CHECK_OK(asset_cache_invalidate_ex(cache, &err));
  CHECK(!exists(dir, "models.json"));
  CHECK(err == NULL);

  /* NULL handles: INVALID_ARGUMENT from each, with or without err. */
  CHECK_STATUS(asset_cache_get_ex(NULL, "m1", &json, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "cache is NULL");
  CHECK_STATUS(asset_cache_get_all_ex(NULL, &json, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "cache is NULL");
  CHECK_STATUS(asset_cache_len_ex(cache, NULL, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "out_len is NULL");
  CHECK_STATUS(asset_cache_has_valid_cache_ex(NULL, &valid, NULL), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_expiry_ex(NULL, &expiry, NULL), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_load_ex(NULL, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "cache is NULL");
  CHECK_STATUS(asset_cache_save_ex(NULL, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "cache is NULL");
  CHECK_STATUS(asset_cache_invalidate_ex(NULL, &err), ASSET_CACHE_INVALID_ARGUMENT);
  expect_error(&err, ASSET_CACHE_INVALID_ARGUMENT, "cache is NULL");
  CHECK_STATUS(asset_cache_add_list_ex(NULL, "[]", NULL), ASSET_CACHE_INVALID_ARGUMENT);

  /* An error object made on a worker thread, read on this one: this
   * thread's last error is another failure's and stays so. */
  CHECK_STATUS(asset_cache_add(cache, "{\"no\":\"id\"}"), ASSET_CACHE_MISSING_ID);
  char mine[512];
  snprintf(mine, sizeof mine, "%s", asset_cache_last_error());
  struct lookup l = {cache, ASSET_CACHE_OK, NULL};
  pthread_t worker;
  CHECK(pthread_create(&worker, NULL, lookup_missing, &l) == 0);
  CHECK(pthread_join(worker, NULL) == 0);
  CHECK(l.status == ASSET_CACHE_NOT_FOUND);
  CHECK(strcmp(asset_cache_last_error(), mine) == 0);
  expect_error(&l.err, ASSET_CACHE_NOT_FOUND, "missing-on-a-worker");

  /* No error object: status OK, message "". */
  CHECK(asset_cache_error_status(NULL) == ASSET_CACHE_OK);
  CHECK(strcmp(asset_cache_error_message(NULL), "") == 0);
  asset_cache_error_free(NULL);

  asset_cache_free(second);
  asset_cache_free(cache);
  puts("config: ok");
  return 0;
}
