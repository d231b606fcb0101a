/* A program written and compiled against the 0.1.0 header, kept here as it
 * was released (asset_cache.h in this folder: `git show 1b334ba:include/asset_cache.h`),
 * linked and run against the current library. It proves the ABI rule of the
 * current header: a 0.1 program keeps working, its caller-allocated
 * asset_cache_options struct included.
 *
 * The struct is placed at the very end of a readable page, before a page
 * that is not: a library that read one byte past the 0.1 struct (a field
 * added later) would crash here. Each field is shown to be read where 0.1
 * put it: dir and name by the files written, ttl_seconds by the expiry,
 * lock_timeout_ms by a timed-out lock, durable by the library accepting it.
 *
 * Checked that it can fail: with a field appended to the library's
 * asset_cache_options, the open read it from the guard page and the program
 * died with SIGSEGV; with lock_timeout_ms and ttl_seconds swapped in the
 * library's struct, the check of the defaults failed. */
#define _DEFAULT_SOURCE
#include "asset_cache.h" /* this folder's: the 0.1.0 header */

#if ASSET_CACHE_VERSION_NUMBER != 100
#error "compat.c must be compiled against the frozen 0.1.0 header in its own folder"
#endif

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,    \
              __LINE__, #cond, asset_cache_last_error());                        \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)
#define CHECK_STATUS(call, want) CHECK((call) == (want))
#define CHECK_OK(call) CHECK_STATUS(call, ASSET_CACHE_OK)

/* A 0.1 options struct whose last byte is the last readable byte. */
static asset_cache_options *options_before_guard_page(void) {
  long page = sysconf(_SC_PAGESIZE);
  char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  CHECK(mem != MAP_FAILED);
  CHECK(mprotect(mem + page, (size_t)page, PROT_NONE) == 0);
  return (asset_cache_options *)(mem + page - sizeof(asset_cache_options));
}

static int warnings;
static asset_cache_log_level last_level;
static void on_log(void *userdata, asset_cache_log_level level, const char *message) {
  CHECK(userdata == &warnings);
  CHECK(message != NULL);
  last_level = level;
  if (level == ASSET_CACHE_LOG_WARN) warnings++;
}

static int exists(const char *dir, const char *file) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return stat(path, &st) == 0;
}

static void write_file(const char *dir, const char *file, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  CHECK(fclose(f) == 0);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "scratch-abi-0.1";
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  CHECK(system(cmd) == 0);

  /* The loaded library is newer than this program's header, same major. */
  printf("compiled against %s, running against %s\n", ASSET_CACHE_VERSION_STRING,
         asset_cache_version());
  CHECK(asset_cache_version_number() > ASSET_CACHE_VERSION_NUMBER);
  CHECK(asset_cache_version_number() / 10000 == ASSET_CACHE_VERSION_MAJOR);

  /* options_init writes 0.1's defaults, and nothing past the struct. */
  asset_cache_options *opts = options_before_guard_page();
  memset(opts, 0xAB, sizeof *opts);
  asset_cache_options_init(opts);
  CHECK(opts->dir == NULL && opts->name == NULL);
  CHECK(opts->ttl_seconds == -1 && opts->lock_timeout_ms == 30000 && opts->durable == false);
  asset_cache_options_init(NULL);

  opts->dir = dir;
  opts->name = "compat";
  opts->ttl_seconds = 3600;
  opts->lock_timeout_ms = 200;
  opts->durable = true;
  asset_cache *cache = NULL;
  CHECK_OK(asset_cache_open(opts, &cache));
  CHECK(cache != NULL);
  CHECK(!exists(dir, "compat.json")); /* opening creates no file */

  const char *m1 = "{\"id\":\"m1\",\"name\":\"GPT-4o\"}";
  CHECK_OK(asset_cache_add(cache, m1));
  CHECK(exists(dir, "compat.json") && exists(dir, "compat.lock"));
  char *json = NULL;
  CHECK_OK(asset_cache_get(cache, "m1", &json));
  CHECK(strcmp(json, m1) == 0);
  asset_cache_string_free(json);
  json = NULL;
  CHECK_STATUS(asset_cache_get(cache, "nope", &json), ASSET_CACHE_NOT_FOUND);
  CHECK(json == NULL);

  /* ttl_seconds was read: the new store expires in an hour. */
  double expiry = 0;
  CHECK_OK(asset_cache_expiry(cache, &expiry));
  CHECK(fabs(expiry - ((double)time(NULL) + 3600)) < 60);
  bool valid = false;
  CHECK_OK(asset_cache_has_valid_cache(cache, &valid));
  CHECK(valid);

  CHECK_OK(asset_cache_add_list(cache, "[{\"id\":\"a\"},{\"id\":\"b\",\"x\":1}]"));
  size_t len = 0;
  CHECK_OK(asset_cache_len(cache, &len));
  CHECK(len == 2);
  CHECK_OK(asset_cache_get_all(cache, &json));
  CHECK(strcmp(json, "[{\"id\":\"a\"},{\"id\":\"b\",\"x\":1}]") == 0);
  asset_cache_string_free(json);
  CHECK_OK(asset_cache_save(cache));
  CHECK_OK(asset_cache_load(cache));

  /* Failures: 0.1's statuses, with a message. */
  CHECK_STATUS(asset_cache_add(cache, "{not json"), ASSET_CACHE_INVALID_JSON);
  CHECK(strlen(asset_cache_last_error()) > 0);
  CHECK_STATUS(asset_cache_add(cache, "{\"name\":\"no id\"}"), ASSET_CACHE_MISSING_ID);
  CHECK_STATUS(asset_cache_add(NULL, m1), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_get(cache, NULL, &json), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_STATUS(asset_cache_open(NULL, &cache), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK(strcmp(asset_cache_status_str(ASSET_CACHE_NOT_FOUND), "not found") == 0);
  CHECK(strcmp(asset_cache_status_str(12345), "unknown status") == 0);

  /* lock_timeout_ms was read: with the lock held elsewhere, a write gives up
   * after about 200 ms (flock locks of two open files conflict, even in one
   * process). */
  char lock_path[4096];
  snprintf(lock_path, sizeof lock_path, "%s/compat.lock", dir);
  int fd = open(lock_path, O_RDWR);
  CHECK(fd >= 0);
  CHECK(flock(fd, LOCK_EX) == 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_STATUS(asset_cache_add(cache, m1), ASSET_CACHE_LOCK_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(waited >= 0.15 && waited < 10);
  CHECK(close(fd) == 0);
  CHECK_OK(asset_cache_add(cache, m1));

  CHECK_OK(asset_cache_invalidate(cache));
  CHECK(!exists(dir, "compat.json"));
  asset_cache_free(cache);
  asset_cache_free(NULL);
  asset_cache_string_free(NULL);

  /* The log callback with 0.1's levels: a corrupt file is set aside with a
   * warning. */
  CHECK_STATUS(asset_cache_set_log_callback(on_log, 9, &warnings), ASSET_CACHE_INVALID_ARGUMENT);
  CHECK_OK(asset_cache_set_log_callback(on_log, ASSET_CACHE_LOG_WARN, &warnings));
  write_file(dir, "compat.json", "this is not a cache file");
  CHECK_OK(asset_cache_open(opts, &cache));
  CHECK(warnings >= 1 && last_level == ASSET_CACHE_LOG_WARN);
  CHECK(exists(dir, "compat.json.corrupt"));
  CHECK_OK(asset_cache_set_log_callback(NULL, ASSET_CACHE_LOG_WARN, NULL));
  asset_cache_free(cache);

  /* asset_cache_new: ".cache" in the working directory. */
  CHECK(chdir(dir) == 0);
  CHECK_OK(asset_cache_new("compat-new", &cache));
  CHECK_OK(asset_cache_add(cache, m1));
  CHECK(exists(".cache", "compat-new.json"));
  asset_cache_free(cache);

  puts("abi-0.1: ok");
  return 0;
}
