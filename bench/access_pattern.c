/* The memory access pattern of one get at N = 100,000, without the library:
 * a random slot of a table of the given size, then a non-temporally
 * prefetched copy of the ~1 KB asset the slot points to, out of 100 MB on
 * huge pages, into a fresh malloc'd buffer. No hashing, no id check, no lock.
 * It shows what the size of the index alone does to the rate, which is why
 * src/index.rs keeps the part a lookup walks small (BENCHMARKS.md).
 *
 *   cc -O2 bench/access_pattern.c -o target/bench/access_pattern
 *   target/bench/access_pattern
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xmmintrin.h>

#define HUGE (2u << 20)
#define N 100000
#define GETS 1000000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *huge_zeroed(size_t n) {
  n = (n + HUGE - 1) / HUGE * HUGE;
  void *p = aligned_alloc(HUGE, n);
  if (!p) abort();
  madvise(p, n, MADV_HUGEPAGE);
  memset(p, 0, n);
  return p;
}

int main(void) {
  char *arena = huge_zeroed((size_t)N * 1100);
  uint64_t *where = malloc(N * sizeof *where); /* address | length << 48 */
  size_t at = 0;
  srand(1);
  for (size_t i = 0; i < N; i++) {
    size_t len = 940 + (size_t)(rand() % 140);
    memset(arena + at, 'a', len);
    where[i] = (uint64_t)(uintptr_t)(arena + at) | (uint64_t)len << 48;
    at += len;
  }
  uint32_t *keys = malloc(65536 * sizeof *keys);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 65536; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    keys[i] = (uint32_t)(x % N);
  }
  /* 8-byte slots; tables of 256 KiB .. 4 MiB (the old index was 4 MiB). */
  for (size_t table_kib = 256; table_kib <= 4096; table_kib *= 2) {
    size_t slots = table_kib * 1024 / 8;
    uint64_t *table = huge_zeroed(slots * 8);
    for (size_t i = 0; i < N; i++) table[(i * 2654435761u) & (slots - 1)] = where[i];
    double rates[5];
    for (int r = 0; r < 5; r++) {
      double t0 = now();
      size_t sink = 0;
      for (size_t i = 0; i < GETS; i++) {
        uint32_t k = keys[i % 65536];
        uint64_t s = table[(k * 2654435761u) & (slots - 1)];
        char *p = (char *)(uintptr_t)(s & 0xffffffffffffull);
        size_t len = (size_t)(s >> 48);
        for (size_t q = 0; q < len; q += 64) _mm_prefetch(p + q, _MM_HINT_NTA);
        char *out = malloc(len + 1);
        memcpy(out, p, len);
        out[len] = 0;
        sink += (size_t)out[len / 2];
        free(out);
      }
      rates[r] = GETS / (now() - t0) / 1e6;
      if (sink == 1) puts("");
    }
    /* median of 5 */
    for (int i = 0; i < 5; i++)
      for (int j = i + 1; j < 5; j++)
        if (rates[j] < rates[i]) {
          double t = rates[i];
          rates[i] = rates[j];
          rates[j] = t;
        }
    printf("table %5zu KiB: %.2f M gets/s (median of 5)\n", table_kib, rates[2]);
    free(table);
  }
  return 0;
}
