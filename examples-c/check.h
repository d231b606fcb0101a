/* Assertions for the examples: they are tests, so every result is checked and
 * a failure names the line, the status and the library's message. */
#ifndef ASSET_CACHE_EXAMPLES_CHECK_H
#define ASSET_CACHE_EXAMPLES_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "asset_cache.h"

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                    \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

/* Expects `call` to return `want`. */
#define CHECK_STATUS(call, want)                                         \
  do {                                                                   \
    asset_cache_status got_ = (call);                                    \
    if (got_ != (want)) {                                                \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d: %s\n",   \
              __FILE__, __LINE__, #call, (int)got_,                      \
              asset_cache_status_str((int)got_), (int)(want),            \
              asset_cache_last_error());                                 \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, ASSET_CACHE_OK)

#endif
