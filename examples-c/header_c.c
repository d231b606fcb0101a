/* The header compiles on its own as C, and its version macros agree with the
 * library that was linked. */
#include "asset_cache.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  if (asset_cache_version_number() != ASSET_CACHE_VERSION_NUMBER) {
    fprintf(stderr, "header %d, library %u\n", ASSET_CACHE_VERSION_NUMBER,
            asset_cache_version_number());
    return 1;
  }
  if (strcmp(asset_cache_version(), ASSET_CACHE_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", ASSET_CACHE_VERSION_STRING,
            asset_cache_version());
    return 1;
  }
  if (ASSET_CACHE_VERSION_NUMBER != ASSET_CACHE_VERSION_MAJOR * 10000 +
                                        ASSET_CACHE_VERSION_MINOR * 100 +
                                        ASSET_CACHE_VERSION_PATCH) {
    return 1;
  }
  printf("asset_cache %s\n", asset_cache_version());
  return 0;
}
