/* Deliberately broken on purpose: proves that the leak and memory checkers
 * (ASan/LSan, valgrind) are armed and see memory the library allocates. Its
 * tests pass only when the checker reports the bug and fails the run.
 *   canary leak DIR             a string from asset_cache_get never freed
 *   canary use-after-free DIR   a string read after asset_cache_string_free
 *   canary overflow DIR         signed integer overflow (UBSan) */
#include <limits.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 3);
  asset_cache_options opts;
  asset_cache_options_init(&opts);
  opts.dir = argv[2];
  opts.name = "canary";
  asset_cache *cache = NULL;
  CHECK_OK(asset_cache_open(&opts, &cache));
  CHECK_OK(asset_cache_add(cache, "{\"id\":\"c\",\"payload\":\"something to lose\"}"));
  char *json = NULL;
  CHECK_OK(asset_cache_get(cache, "c", &json));
  int rc = 0;
  if (strcmp(argv[1], "leak") == 0) {
    /* Forget the only pointer to the string. */
    json = NULL;
  } else if (strcmp(argv[1], "use-after-free") == 0) {
    asset_cache_string_free(json);
    rc = json[1] == '{' ? 3 : 0; /* json[1] is '"': exit 0 unless caught */
  } else if (strcmp(argv[1], "overflow") == 0) {
    asset_cache_string_free(json);
    size_t len = 0;
    CHECK_OK(asset_cache_len(cache, &len));
    int big = INT_MAX - 1 + (int)len; /* INT_MAX: len is 1 */
    big += (int)len;                  /* overflows */
    rc = big < 0 ? 0 : 3;
  } else {
    rc = 2;
  }
  asset_cache_free(cache);
  return rc;
}
