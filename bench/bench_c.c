/*
 * The benchmark harness's C half: every workload through the C ABI, so the
 * figures include the boundary (string checks, the panic guard, malloc of
 * returned JSON).
 *
 *   bench_c run N DATA.jsonl DIR      all workloads for a cache of N
 *   bench_c rss DIR                   (child) open DIR/model.json, print VmHWM
 *   bench_c adder DIR DATA.jsonl FIRST COUNT   (child) COUNT adds
 *   bench_c foreign N DATA.jsonl PYDIR OURDIR  issue 11: PYDIR/model.json as the
 *                                     Python original wrote it, against the same
 *                                     assets in our layout (written into OURDIR)
 *
 * DATA.jsonl is written by `bench gen` (examples/bench.rs): one asset a line,
 * N + 100 of them. Output lines: impl<TAB>op<TAB>N<TAB>value<TAB>unit, medians
 * of BENCH_REPS runs (default 5).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asset_cache.h"

#define IMPL "ours"
#define NAME "model"

static const char *self_path;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, asset_cache_status st) {
  fprintf(stderr, "bench_c: %s: %s (%s)\n", what, asset_cache_status_str((int)st),
          asset_cache_last_error());
  exit(1);
}

#define CHECK(call)                                                                                \
  do {                                                                                             \
    asset_cache_status st_ = (call);                                                               \
    if (st_ != ASSET_CACHE_OK) die(#call, st_);                                                    \
  } while (0)

static int reps(void) {
  const char *r = getenv("BENCH_REPS");
  int n = r ? atoi(r) : 0;
  return n > 0 ? n : 5;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *xs, int n) {
  qsort(xs, (size_t)n, sizeof *xs, cmp_double);
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

static void report(const char *op, size_t n, double value, const char *unit) {
  printf("%s\t%s\t%zu\t%.6f\t%s\n", IMPL, op, n, value, unit);
  fflush(stdout);
}

/* ---- data ---- */

static char **lines;
static char **ids;
static size_t nlines;

/* The id of a generated asset: its "id" member comes first. */
static char *extract_id(const char *json) {
  const char *p = strstr(json, "\"id\":\"");
  if (!p) {
    fprintf(stderr, "bench_c: asset without id: %.60s\n", json);
    exit(1);
  }
  p += 6;
  const char *q = strchr(p, '"');
  return strndup(p, (size_t)(q - p));
}

static void read_data(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  size_t cap = 1024;
  lines = malloc(cap * sizeof *lines);
  char *line = NULL;
  size_t len = 0;
  ssize_t got;
  while ((got = getline(&line, &len, f)) > 0) {
    if (line[got - 1] == '\n') line[got - 1] = 0;
    if (nlines == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
    lines[nlines++] = strdup(line);
  }
  free(line);
  fclose(f);
  ids = malloc(nlines * sizeof *ids);
  for (size_t i = 0; i < nlines; i++) ids[i] = extract_id(lines[i]);
}

/* "[a,b,...]" of lines[from .. from+count). */
static char *json_array(size_t from, size_t count) {
  size_t total = 3;
  for (size_t i = 0; i < count; i++) total += strlen(lines[from + i]) + 1;
  char *s = malloc(total), *p = s;
  *p++ = '[';
  for (size_t i = 0; i < count; i++) {
    if (i) *p++ = ',';
    size_t l = strlen(lines[from + i]);
    memcpy(p, lines[from + i], l);
    p += l;
  }
  *p++ = ']';
  *p = 0;
  return s;
}

static asset_cache *open_cache(const char *dir) {
  asset_cache_options o;
  asset_cache_options_init(&o);
  o.dir = dir;
  o.name = NAME;
  o.ttl_seconds = 86400;
  asset_cache *c = NULL;
  CHECK(asset_cache_open(&o, &c));
  return c;
}

static void remove_files(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/" NAME ".json", dir);
  unlink(path);
}

/* ---- get throughput ---- */

struct getter {
  const asset_cache *cache;
  const char *keys; /* KEYS ids, KEY_STRIDE bytes apart */
  size_t count;
  pthread_barrier_t *start;
};

/* Each thread asks for ids from its own contiguous list, read in order: a
 * caller has the id at hand, so finding which id to ask for must not add a
 * cache miss of the driver's own to the library's figure. */
#define KEYS 65536
#define KEY_STRIDE 64

static void *get_loop(void *arg) {
  struct getter *g = arg;
  pthread_barrier_wait(g->start);
  for (size_t i = 0; i < g->count; i++) {
    char *out = NULL;
    asset_cache_status st =
        asset_cache_get(g->cache, g->keys + (i % KEYS) * KEY_STRIDE, &out);
    if (st != ASSET_CACHE_OK) die("asset_cache_get", st);
    asset_cache_string_free(out);
  }
  return NULL;
}

/* KEYS ids drawn uniformly from the first n, with an xorshift seeded by `seed`. */
static char *key_list(size_t n, uint64_t seed) {
  char *keys = calloc(KEYS, KEY_STRIDE);
  uint64_t x = seed;
  for (size_t i = 0; i < KEYS; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const char *id = ids[x % n];
    if (strlen(id) >= KEY_STRIDE) {
      fprintf(stderr, "bench_c: id too long: %s\n", id);
      exit(1);
    }
    strcpy(keys + i * KEY_STRIDE, id);
  }
  return keys;
}

static double get_rate(const asset_cache *c, size_t n, int threads, size_t per_thread) {
  pthread_t t[16];
  struct getter g[16];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    g[i] = (struct getter){c, key_list(n, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)), per_thread,
                           &start};
    pthread_create(&t[i], NULL, get_loop, &g[i]);
  }
  pthread_barrier_wait(&start);
  double t0 = now();
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double el = now() - t0;
  pthread_barrier_destroy(&start);
  for (int i = 0; i < threads; i++) free((void *)g[i].keys);
  return (double)per_thread * threads / el;
}

/* ---- child processes ---- */

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  size_t fl = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, field, fl) && line[fl] == ':') kb = atol(line + fl + 1);
  if (f) fclose(f);
  return kb;
}

static int child_rss(const char *dir) {
  long before = status_kb("VmHWM");
  asset_cache *c = open_cache(dir);
  size_t len = 0;
  CHECK(asset_cache_len(c, &len));
  printf("%ld %ld %zu\n", before, status_kb("VmHWM"), len);
  asset_cache_free(c);
  return 0;
}

static int child_adder(const char *dir, const char *data, size_t first, size_t count) {
  read_data(data);
  asset_cache *c = open_cache(dir);
  for (size_t i = first; i < first + count; i++) CHECK(asset_cache_add(c, lines[i]));
  asset_cache_free(c);
  return 0;
}

static pid_t spawn(char *const argv[], int out_fd) {
  pid_t pid = fork();
  if (pid == 0) {
    if (out_fd >= 0) dup2(out_fd, 1);
    execv(self_path, argv);
    _exit(127);
  }
  return pid;
}

static void wait_ok(pid_t pid) {
  int ws;
  if (waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    fprintf(stderr, "bench_c: child %d failed\n", (int)pid);
    exit(1);
  }
}

/* ---- the workloads ---- */

static void run(size_t n, const char *data, const char *dir) {
  read_data(data);
  if (nlines < n + 100) {
    fprintf(stderr, "bench_c: %s has %zu assets, need %zu\n", data, nlines, n + 100);
    exit(1);
  }
  mkdir(dir, 0777);
  int r = reps();
  double *xs = calloc((size_t)r, sizeof *xs);
  char *all = json_array(0, n);

  /* add_list of N, replacing a cache of N. */
  asset_cache *c = open_cache(dir);
  for (int i = 0; i < r; i++) {
    double t0 = now();
    CHECK(asset_cache_add_list(c, all));
    xs[i] = now() - t0;
  }
  report("add_list", n, median(xs, r), "s");
  asset_cache_free(c);
  free(all);

  /* open a cache holding N (file in the page cache, as for every peer). */
  for (int i = 0; i < r; i++) {
    double t0 = now();
    c = open_cache(dir);
    xs[i] = now() - t0;
    asset_cache_free(c);
  }
  report("open", n, median(xs, r), "s");

  /* add one new asset to a cache of N. */
  c = open_cache(dir);
  size_t adds = r * 4 > 100 ? 100 : (size_t)r * 4;
  double *ys = calloc(adds, sizeof *ys);
  for (size_t i = 0; i < adds; i++) {
    double t0 = now();
    CHECK(asset_cache_add(c, lines[n + i]));
    ys[i] = now() - t0;
  }
  report("add one", n, median(ys, (int)adds), "s");
  free(ys);

  /* get throughput, 1/2/4 threads sharing the handle. */
  int threads[] = {1, 2, 4};
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < r; i++) xs[i] = get_rate(c, n, threads[k], 1000000 / (size_t)threads[k]);
    char op[64];
    snprintf(op, sizeof op, "get, %d thread%s", threads[k], threads[k] > 1 ? "s" : "");
    report(op, n, median(xs, r), "ops/s");
  }

  /* get_all. */
  for (int i = 0; i < r; i++) {
    char *out = NULL;
    double t0 = now();
    CHECK(asset_cache_get_all(c, &out));
    xs[i] = now() - t0;
    asset_cache_string_free(out);
  }
  report("get_all", n, median(xs, r), "s");
  asset_cache_free(c);

  /* peak RSS of a fresh process that opens the cache. */
  char path[4096];
  snprintf(path, sizeof path, "%s/" NAME ".json", dir);
  struct stat sb;
  stat(path, &sb);
  for (int i = 0; i < r; i++) {
    int fds[2];
    if (pipe(fds)) exit(1);
    char *argv[] = {(char *)self_path, "rss", (char *)dir, NULL};
    pid_t pid = spawn(argv, fds[1]);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    long before = 0, after = 0;
    size_t len = 0;
    if (fscanf(f, "%ld %ld %zu", &before, &after, &len) != 3 || len < n) {
      fprintf(stderr, "bench_c: rss child gave nothing useful\n");
      exit(1);
    }
    fclose(f);
    wait_ok(pid);
    xs[i] = (double)after * 1024;
  }
  report("peak RSS", n, median(xs, r), "bytes");
  report("peak RSS / file size", n, median(xs, r) / (double)sb.st_size, "x");
  free(xs);
}

/* 4 processes x 250 adds into an empty cache: wall time, and how many kept. */
static void run_procs(const char *data, const char *dir) {
  read_data(data);
  int r = reps();
  double *xs = calloc((size_t)r, sizeof *xs);
  size_t kept_min = (size_t)-1;
  for (int i = 0; i < r; i++) {
    remove_files(dir);
    mkdir(dir, 0777);
    pid_t pids[4];
    double t0 = now();
    for (int p = 0; p < 4; p++) {
      char first[32], count[32];
      snprintf(first, sizeof first, "%d", p * 250);
      snprintf(count, sizeof count, "%d", 250);
      char *argv[] = {(char *)self_path, "adder", (char *)dir, (char *)data, first, count, NULL};
      pids[p] = spawn(argv, -1);
    }
    for (int p = 0; p < 4; p++) wait_ok(pids[p]);
    xs[i] = now() - t0;
    asset_cache *c = open_cache(dir);
    size_t len = 0;
    CHECK(asset_cache_len(c, &len));
    asset_cache_free(c);
    if (len < kept_min) kept_min = len;
  }
  report("4 procs x 250 adds", 1000, median(xs, r), "s");
  report("4 procs x 250 adds: kept (min)", 1000, (double)kept_min, "assets");
  free(xs);
}

/* ---- issue 11: a file the Python original wrote ---- */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long l = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)l);
  if (fread(b, 1, (size_t)l, f) != (size_t)l) {
    perror(path);
    exit(1);
  }
  fclose(f);
  *len = (size_t)l;
  return b;
}

/* What the Python original's save does: truncate and write the whole file in
 * place (same inode), here with the bytes it wrote. */
static void python_rewrite(const char *path, const char *bytes, size_t len) {
  FILE *f = fopen(path, "r+b");
  if (!f || ftruncate(fileno(f), 0) || fwrite(bytes, 1, len, f) != len || fclose(f)) {
    perror(path);
    exit(1);
  }
}

static ino_t inode_of(const char *path) {
  struct stat sb;
  return stat(path, &sb) ? 0 : sb.st_ino;
}

static long peak_rss_child(const char *dir, size_t n) {
  int fds[2];
  if (pipe(fds)) exit(1);
  char *argv[] = {(char *)self_path, "rss", (char *)dir, NULL};
  pid_t pid = spawn(argv, fds[1]);
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  long before = 0, after = 0;
  size_t len = 0;
  if (fscanf(f, "%ld %ld %zu", &before, &after, &len) != 3 || len < n) {
    fprintf(stderr, "bench_c: rss child gave nothing useful\n");
    exit(1);
  }
  fclose(f);
  wait_ok(pid);
  return after;
}

static void run_foreign(size_t n, const char *data, const char *pydir, const char *ourdir) {
  read_data(data);
  int r = reps();
  double *xs = calloc((size_t)r, sizeof *xs);
  char pypath[4096], ourpath[4096];
  snprintf(pypath, sizeof pypath, "%s/" NAME ".json", pydir);
  snprintf(ourpath, sizeof ourpath, "%s/" NAME ".json", ourdir);
  size_t pylen = 0;
  char *pybytes = slurp(pypath, &pylen);
  report("file size, Python-written", n, (double)pylen, "bytes");

  /* The same assets in our layout. */
  mkdir(ourdir, 0777);
  char *all = json_array(0, n);
  asset_cache *c = open_cache(ourdir);
  CHECK(asset_cache_add_list(c, all));
  asset_cache_free(c);
  free(all);
  struct stat sb;
  stat(ourpath, &sb);
  report("file size, our layout", n, (double)sb.st_size, "bytes");

  /* Item 1: open, the two layouts interleaved so both see the same machine. */
  double *ys = calloc((size_t)r, sizeof *ys);
  for (int i = 0; i < r; i++) {
    double t0 = now();
    c = open_cache(pydir);
    xs[i] = now() - t0;
    size_t len = 0;
    CHECK(asset_cache_len(c, &len));
    if (len != n) {
      fprintf(stderr, "bench_c: the Python-written file holds %zu assets, not %zu\n", len, n);
      exit(1);
    }
    asset_cache_free(c);
    t0 = now();
    c = open_cache(ourdir);
    ys[i] = now() - t0;
    asset_cache_free(c);
  }
  report("open, Python-written file", n, median(xs, r), "s");
  report("open, our layout", n, median(ys, r), "s");

  /* Item 2: get through the C ABI from each. */
  asset_cache *py = open_cache(pydir);
  asset_cache *ours = open_cache(ourdir);
  int threads[] = {1, 2, 4};
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < r; i++) {
      xs[i] = get_rate(py, n, threads[k], 1000000 / (size_t)threads[k]);
      ys[i] = get_rate(ours, n, threads[k], 1000000 / (size_t)threads[k]);
    }
    char op[96];
    snprintf(op, sizeof op, "get, %d thread%s, Python-written file", threads[k],
             threads[k] > 1 ? "s" : "");
    report(op, n, median(xs, r), "ops/s");
    snprintf(op, sizeof op, "get, %d thread%s, our layout", threads[k], threads[k] > 1 ? "s" : "");
    report(op, n, median(ys, r), "ops/s");
  }
  asset_cache_free(ours);

  /* Item 6's bound: a fresh process holding the Python-written file. */
  for (int i = 0; i < r; i++) xs[i] = (double)peak_rss_child(pydir, n) * 1024;
  report("peak RSS, Python-written file", n, median(xs, r), "bytes");
  report("peak RSS, Python-written file / our layout's file size", n,
         median(xs, r) / (double)sb.st_size, "x");

  /* Item 3: an add right after Python rewrote the file (a handle whose
   * memory predates the rewrite, as in a mixed fleet), then the adds after it. */
  int copies = 0;
  size_t next = n;
  for (int i = 0; i < r; i++) {
    python_rewrite(pypath, pybytes, pylen);
    ino_t before = inode_of(pypath);
    double t0 = now();
    CHECK(asset_cache_add(py, lines[next++ % nlines]));
    xs[i] = now() - t0;
    copies += inode_of(pypath) != before;
  }
  report("add after a Python rewrite", n, median(xs, r), "s");
  report("add after a Python rewrite: splices by copy (of reps)", n, (double)copies, "count");
  /* The other way: a record over a page never fits in one, so its splice is
   * a copy of the file's bytes before it (copy_file_range) and a rename. */
  copies = 0;
  for (int i = 0; i < r; i++) {
    python_rewrite(pypath, pybytes, pylen);
    char big[8192];
    snprintf(big, sizeof big, "{\"id\":\"big-%d\",\"pad\":\"%06000d\"}", i, 0);
    ino_t before = inode_of(pypath);
    double t0 = now();
    CHECK(asset_cache_add(py, big));
    xs[i] = now() - t0;
    copies += inode_of(pypath) != before;
  }
  report("add after a Python rewrite, a 6 KB record (splice by copy)", n, median(xs, r), "s");
  report("add after a Python rewrite, a 6 KB record: splices by copy (of reps)", n,
         (double)copies, "count");
  size_t adds = 20;
  double *zs = calloc(adds, sizeof *zs);
  for (size_t i = 0; i < adds; i++) {
    double t0 = now();
    CHECK(asset_cache_add(py, lines[next++ % nlines]));
    zs[i] = now() - t0;
  }
  report("add, the next ones (median of 20)", n, median(zs, (int)adds), "s");
  free(zs);
  asset_cache_free(py);
  /* Leave the file as Python wrote it. */
  python_rewrite(pypath, pybytes, pylen);
  free(pybytes);
  free(xs);
  free(ys);
}

int main(int argc, char **argv) {
  self_path = "/proc/self/exe";
  static char exe[4096];
  ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (l > 0) {
    exe[l] = 0;
    self_path = exe;
  }
  if (argc == 5 && !strcmp(argv[1], "run")) {
    run((size_t)atol(argv[2]), argv[3], argv[4]);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "procs")) {
    run_procs(argv[2], argv[3]);
    return 0;
  }
  if (argc == 6 && !strcmp(argv[1], "foreign")) {
    run_foreign((size_t)atol(argv[2]), argv[3], argv[4], argv[5]);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "rss")) return child_rss(argv[2]);
  if (argc == 6 && !strcmp(argv[1], "adder"))
    return child_adder(argv[2], argv[3], (size_t)atol(argv[4]), (size_t)atol(argv[5]));
  fprintf(stderr,
          "usage: bench_c run N DATA.jsonl DIR | procs DATA.jsonl DIR | rss DIR | adder DIR "
          "DATA.jsonl FIRST COUNT | foreign N DATA.jsonl PYDIR OURDIR\n");
  return 2;
}
