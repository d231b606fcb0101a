/*
 * The C peers a C programmer would pick instead of asset-cache (issue 11,
 * item 7): LMDB and SQLite, from Debian's liblmdb-dev and libsqlite3-dev,
 * each used the way its documentation recommends for a key-value store of
 * JSON text, on the same data files and workloads as bench/bench_c.c.
 *
 *   LMDB:   one environment, the unnamed database; an add is one put + commit
 *           (MDB_NOSYNC: no fsync, as our default; "durable": synced commit);
 *           a get renews one read-only transaction, copies the value out
 *           (malloc + memcpy + NUL, as asset_cache_get does) and resets it.
 *   SQLite: WAL mode, synchronous=NORMAL (no fsync per commit; "durable":
 *           synchronous=FULL), table (id TEXT PRIMARY KEY, json TEXT) WITHOUT
 *           ROWID; an add is one prepared INSERT OR REPLACE in autocommit; a
 *           get one prepared SELECT, the text copied out.
 *
 *   peers_c run lmdb|sqlite N DATA.jsonl DIR    the bench_c workloads
 *   peers_c procs lmdb|sqlite DATA.jsonl DIR    4 processes x 250 adds
 *   peers_c add N DATA.jsonl DIR                add one, ours vs LMDB vs
 *                                               SQLite interleaved, with and
 *                                               without fsync (item 4)
 *   peers_c growth N DATA.jsonl DIR             open / add one / get, ours,
 *                                               LMDB, SQLite (item 6)
 *   peers_c fill DIR N DATA.jsonl              ours: DIR/model.json of the
 *                                               first N assets (item 6's RSS)
 *   peers_c fleet-adder DIR DATA FIRST CAP SECONDS LOG TAG    item 5's
 *                                               native process (bench/fleet.py)
 *   peers_c rss IMPL DIR | adder IMPL DIR DATA FIRST COUNT   (children)
 *
 * Output: impl<TAB>op<TAB>N<TAB>value<TAB>unit, medians of BENCH_REPS
 * repetitions (default 3), as bench_c prints.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asset_cache.h"

static const char *self_path;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *what, const char *why) {
  fprintf(stderr, "peers_c: %s: %s\n", what, why);
  exit(1);
}

#define MDB(call)                                                                                  \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) fail(#call, mdb_strerror(rc_));                                                       \
  } while (0)

#define OURS(call)                                                                                 \
  do {                                                                                             \
    asset_cache_status st_ = (call);                                                               \
    if (st_ != ASSET_CACHE_OK) fail(#call, asset_cache_last_error());                              \
  } while (0)

/* Gets per measurement (PEERS_C_GETS, default 1,000,000): the smoke test
 * runs a few thousand. */
static size_t gets(size_t dflt) {
  const char *g = getenv("PEERS_C_GETS");
  long n = g ? atol(g) : 0;
  return n > 0 ? (size_t)n : dflt;
}

static int reps(void) {
  const char *r = getenv("BENCH_REPS");
  int n = r ? atoi(r) : 0;
  return n > 0 ? n : 3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *xs, int n) {
  qsort(xs, (size_t)n, sizeof *xs, cmp_double);
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

static void report(const char *impl, const char *op, size_t n, double value, const char *unit) {
  printf("%s\t%s\t%zu\t%.9f\t%s\n", impl, op, n, value, unit);
  fflush(stdout);
}

/* ---- data (the same generated file bench_c reads) ---- */

static char **lines;
static size_t *lens;
static char **ids;
static size_t nlines;

static void read_data(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) fail(path, strerror(errno));
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
  lens = malloc(nlines * sizeof *lens);
  for (size_t i = 0; i < nlines; i++) {
    const char *p = strstr(lines[i], "\"id\":\"");
    if (!p) fail("asset without id", lines[i]);
    p += 6;
    ids[i] = strndup(p, (size_t)(strchr(p, '"') - p));
    lens[i] = strlen(lines[i]);
  }
}

static void need(size_t n, size_t extra) {
  if (nlines < n + extra) {
    fprintf(stderr, "peers_c: the data file has %zu assets, need %zu\n", nlines, n + extra);
    exit(1);
  }
}

/* KEYS ids drawn uniformly from the first n, xorshift seeded as bench_c's
 * first thread is, read in order (no cache miss of the driver's own). */
#define KEYS 65536
static size_t *key_list(size_t n) {
  size_t *keys = malloc(KEYS * sizeof *keys);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < KEYS; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    keys[i] = (size_t)(x % n);
  }
  return keys;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_rf(const char *dir) {
  if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) fail("remove", dir);
}

/* mkdir -p */
static void make_dirs(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(path, 0777);
      *p = '/';
    }
  if (mkdir(path, 0777) && errno != EEXIST) fail("mkdir", dir);
}

/* ---- one interface over the three stores ---- */

struct kv {
  const char *impl;
  /* LMDB */
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *rtxn;
  /* SQLite */
  sqlite3 *db;
  sqlite3_stmt *ins, *sel, *all;
  /* ours */
  asset_cache *cache;
};

static void kv_open(struct kv *kv, const char *impl, const char *dir, int durable) {
  memset(kv, 0, sizeof *kv);
  kv->impl = impl;
  make_dirs(dir);
  if (!strcmp(impl, "lmdb")) {
    MDB(mdb_env_create(&kv->env));
    MDB(mdb_env_set_mapsize(kv->env, (size_t)64 << 30));
    MDB(mdb_env_open(kv->env, dir, durable ? 0 : MDB_NOSYNC, 0644));
    MDB_txn *txn;
    MDB(mdb_txn_begin(kv->env, NULL, 0, &txn));
    MDB(mdb_dbi_open(txn, NULL, 0, &kv->dbi));
    MDB(mdb_txn_commit(txn));
  } else if (!strcmp(impl, "sqlite")) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cache.db", dir);
    if (sqlite3_open(path, &kv->db)) fail("sqlite3_open", sqlite3_errmsg(kv->db));
    char *err = NULL;
    const char *setup = durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    if (sqlite3_exec(kv->db, setup, NULL, NULL, &err)) fail("pragma", err);
    sqlite3_busy_timeout(kv->db, 60000);
    if (sqlite3_exec(kv->db,
                     "CREATE TABLE IF NOT EXISTS assets (id TEXT PRIMARY KEY, json TEXT NOT NULL)"
                     " WITHOUT ROWID",
                     NULL, NULL, &err))
      fail("create table", err);
    if (sqlite3_prepare_v2(kv->db, "INSERT OR REPLACE INTO assets (id, json) VALUES (?1, ?2)", -1,
                           &kv->ins, NULL) ||
        sqlite3_prepare_v2(kv->db, "SELECT json FROM assets WHERE id = ?1", -1, &kv->sel, NULL) ||
        sqlite3_prepare_v2(kv->db, "SELECT json FROM assets", -1, &kv->all, NULL))
      fail("prepare", sqlite3_errmsg(kv->db));
  } else if (!strcmp(impl, "ours")) {
    asset_cache_options o;
    asset_cache_options_init(&o);
    o.dir = dir;
    o.name = "model";
    o.ttl_seconds = 86400;
    o.durable = durable != 0;
    OURS(asset_cache_open(&o, &kv->cache));
  } else {
    fail("unknown implementation", impl);
  }
}

static void kv_close(struct kv *kv) {
  if (kv->env) {
    if (kv->rtxn) mdb_txn_abort(kv->rtxn);
    mdb_env_close(kv->env);
  }
  if (kv->db) {
    sqlite3_finalize(kv->ins);
    sqlite3_finalize(kv->sel);
    sqlite3_finalize(kv->all);
    sqlite3_close(kv->db);
  }
  if (kv->cache) asset_cache_free(kv->cache);
}

static void sqlite_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err)) fail(sql, err);
}

static void sqlite_put(struct kv *kv, size_t i) {
  sqlite3_bind_text(kv->ins, 1, ids[i], -1, SQLITE_STATIC);
  sqlite3_bind_text(kv->ins, 2, lines[i], (int)lens[i], SQLITE_STATIC);
  if (sqlite3_step(kv->ins) != SQLITE_DONE) fail("INSERT OR REPLACE", sqlite3_errmsg(kv->db));
  sqlite3_reset(kv->ins);
}

static void lmdb_put(struct kv *kv, MDB_txn *txn, size_t i) {
  MDB_val k = {strlen(ids[i]), ids[i]}, v = {lens[i], lines[i]};
  MDB(mdb_put(txn, kv->dbi, &k, &v, 0));
}

/* Replaces everything with lines[0 .. n): one transaction. */
static void kv_add_list(struct kv *kv, size_t n) {
  if (kv->env) {
    MDB_txn *txn;
    MDB(mdb_txn_begin(kv->env, NULL, 0, &txn));
    MDB(mdb_drop(txn, kv->dbi, 0));
    for (size_t i = 0; i < n; i++) lmdb_put(kv, txn, i);
    MDB(mdb_txn_commit(txn));
  } else if (kv->db) {
    sqlite_exec(kv->db, "BEGIN");
    sqlite_exec(kv->db, "DELETE FROM assets");
    for (size_t i = 0; i < n; i++) sqlite_put(kv, i);
    sqlite_exec(kv->db, "COMMIT");
  } else {
    size_t total = 3;
    for (size_t i = 0; i < n; i++) total += lens[i] + 1;
    char *s = malloc(total), *p = s;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
      if (i) *p++ = ',';
      memcpy(p, lines[i], lens[i]);
      p += lens[i];
    }
    *p++ = ']';
    *p = 0;
    OURS(asset_cache_add_list(kv->cache, s));
    free(s);
  }
}

/* One asset, durable as the store was opened (one transaction). */
static void kv_add(struct kv *kv, size_t i) {
  if (kv->env) {
    MDB_txn *txn;
    MDB(mdb_txn_begin(kv->env, NULL, 0, &txn));
    lmdb_put(kv, txn, i);
    MDB(mdb_txn_commit(txn));
  } else if (kv->db) {
    sqlite_put(kv, i);
  } else {
    OURS(asset_cache_add(kv->cache, lines[i]));
  }
}

/* The asset's JSON copied out as a fresh NUL-terminated string. */
static char *kv_get(struct kv *kv, size_t i) {
  if (kv->env) {
    if (!kv->rtxn)
      MDB(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &kv->rtxn));
    else
      MDB(mdb_txn_renew(kv->rtxn));
    MDB_val k = {strlen(ids[i]), ids[i]}, v;
    MDB(mdb_get(kv->rtxn, kv->dbi, &k, &v));
    char *out = malloc(v.mv_size + 1);
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = 0;
    mdb_txn_reset(kv->rtxn);
    return out;
  }
  if (kv->db) {
    sqlite3_bind_text(kv->sel, 1, ids[i], -1, SQLITE_STATIC);
    if (sqlite3_step(kv->sel) != SQLITE_ROW) fail("SELECT", ids[i]);
    const unsigned char *t = sqlite3_column_text(kv->sel, 0);
    size_t len = (size_t)sqlite3_column_bytes(kv->sel, 0);
    char *out = malloc(len + 1);
    memcpy(out, t, len);
    out[len] = 0;
    sqlite3_reset(kv->sel);
    return out;
  }
  char *out = NULL;
  OURS(asset_cache_get(kv->cache, ids[i], &out));
  return out;
}

static void kv_free(struct kv *kv, char *s) {
  if (kv->cache)
    asset_cache_string_free(s);
  else
    free(s);
}

/* Every asset read once (LMDB and SQLite are lazy: an open reads nothing). */
static size_t kv_read_all(struct kv *kv, size_t *bytes) {
  size_t count = 0;
  *bytes = 0;
  if (kv->env) {
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn));
    MDB(mdb_cursor_open(txn, kv->dbi, &cur));
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
      count++;
      *bytes += v.mv_size + ((const char *)v.mv_data)[v.mv_size / 2] * 0;
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
  } else if (kv->db) {
    while (sqlite3_step(kv->all) == SQLITE_ROW) {
      count++;
      *bytes += (size_t)sqlite3_column_bytes(kv->all, 0);
    }
    sqlite3_reset(kv->all);
  } else {
    OURS(asset_cache_len(kv->cache, &count));
  }
  return count;
}

static double get_rate(struct kv *kv, size_t n, size_t count) {
  size_t *keys = key_list(n);
  double t0 = now();
  for (size_t i = 0; i < count; i++) kv_free(kv, kv_get(kv, keys[i % KEYS]));
  double el = now() - t0;
  free(keys);
  return (double)count / el;
}

static double get_all_time(struct kv *kv, size_t n) {
  size_t bytes;
  double t0 = now();
  if (kv->cache) {
    char *out = NULL;
    OURS(asset_cache_get_all(kv->cache, &out));
    asset_cache_string_free(out);
  } else {
    /* The peers' get_all: every value copied out into one malloc'd array. */
    size_t got = 0;
    char **vals = malloc(n * sizeof *vals);
    if (kv->env) {
      MDB_txn *txn;
      MDB_cursor *cur;
      MDB_val k, v;
      MDB(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn));
      MDB(mdb_cursor_open(txn, kv->dbi, &cur));
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && got < n;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        vals[got] = malloc(v.mv_size + 1);
        memcpy(vals[got], v.mv_data, v.mv_size);
        vals[got++][v.mv_size] = 0;
      }
      mdb_cursor_close(cur);
      mdb_txn_abort(txn);
    } else {
      while (got < n && sqlite3_step(kv->all) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(kv->all, 0);
        vals[got] = malloc(len + 1);
        memcpy(vals[got], sqlite3_column_text(kv->all, 0), len);
        vals[got++][len] = 0;
      }
      sqlite3_reset(kv->all);
    }
    for (size_t i = 0; i < got; i++) free(vals[i]);
    free(vals);
  }
  (void)bytes;
  return now() - t0;
}

static size_t du_total;
static int du_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)path;
  (void)ftw;
  if (flag == FTW_F) du_total += (size_t)sb->st_size;
  return 0;
}

/* The bytes of the regular files under dir. */
static size_t dir_bytes(const char *dir) {
  du_total = 0;
  if (nftw(dir, du_one, 16, FTW_PHYS) != 0) fail("walk", dir);
  return du_total;
}

/* ---- children ---- */

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

static int child_rss(const char *impl, const char *dir) {
  struct kv kv;
  kv_open(&kv, impl, dir, 0);
  size_t bytes;
  size_t len = kv_read_all(&kv, &bytes);
  printf("%ld %zu\n", status_kb("VmHWM"), len);
  kv_close(&kv);
  return 0;
}

static int child_adder(const char *impl, const char *dir, const char *data, size_t first,
                       size_t count) {
  read_data(data);
  struct kv kv;
  kv_open(&kv, impl, dir, 0);
  for (size_t i = first; i < first + count; i++) kv_add(&kv, i);
  kv_close(&kv);
  return 0;
}

/* Item 5's native process: one long-lived handle on DIR/model.json adding
 * assets (the data's lines from FIRST on, cycled, each given the fresh id
 * TAG-<seq>) until CAP adds or SECONDS have passed. Each id whose add
 * returned OK is written to LOG at once; stdout gets "adds failures
 * seconds". The lock timeout is 120 s: a Python save of a large file can
 * hold the lock for seconds. */
static int child_fleet(const char *dir, const char *data, size_t first, size_t cap,
                       double seconds, const char *log_path, const char *tag) {
  read_data(data);
  need(first, 1);
  FILE *log = fopen(log_path, "w");
  if (!log) fail(log_path, strerror(errno));
  asset_cache_options o;
  asset_cache_options_init(&o);
  o.dir = dir;
  o.name = "model";
  o.ttl_seconds = 86400;
  o.lock_timeout_ms = 120000;
  asset_cache *c = NULL;
  OURS(asset_cache_open(&o, &c));
  double t0 = now();
  size_t adds = 0, failures = 0;
  char *buf = NULL;
  size_t cap_buf = 0;
  for (size_t seq = 0; seq < cap && now() - t0 < seconds; seq++) {
    const char *line = lines[first + seq % (nlines - first)];
    const char *rest = strchr(strstr(line, "\"id\":\"") + 6, '"'); /* after the old id */
    char id[128];
    snprintf(id, sizeof id, "%s-%zu", tag, seq);
    size_t need_len = strlen(rest) + strlen(id) + 16;
    if (need_len > cap_buf) buf = realloc(buf, cap_buf = need_len * 2);
    snprintf(buf, cap_buf, "{\"id\":\"%s%s", id, rest);
    asset_cache_status st = asset_cache_add(c, buf);
    if (st == ASSET_CACHE_OK) {
      fprintf(log, "%s\n", id);
      fflush(log);
      adds++;
    } else {
      fprintf(stderr, "peers_c fleet %s: add %s: %s (%s)\n", tag, id,
              asset_cache_status_str((int)st), asset_cache_last_error());
      failures++;
    }
  }
  printf("%zu %zu %.6f\n", adds, failures, now() - t0);
  asset_cache_free(c);
  fclose(log);
  free(buf);
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
    fprintf(stderr, "peers_c: child %d failed\n", (int)pid);
    exit(1);
  }
}

/* ---- the workloads ---- */

/* bench_c's workloads for LMDB or SQLite: same names, so bench/table.py puts
 * them in the columns beside ours. */
static void run(const char *impl, size_t n, const char *data, const char *dir) {
  read_data(data);
  need(n, 100);
  rm_rf(dir);
  int r = reps();
  double *xs = calloc((size_t)r, sizeof *xs);
  struct kv kv;

  kv_open(&kv, impl, dir, 0);
  for (int i = 0; i < r; i++) {
    double t0 = now();
    kv_add_list(&kv, n);
    xs[i] = now() - t0;
  }
  report(impl, "add_list", n, median(xs, r), "s");
  kv_close(&kv);

  /* open: the handle only; both are lazy (nothing read until asked). */
  for (int i = 0; i < r; i++) {
    double t0 = now();
    kv_open(&kv, impl, dir, 0);
    xs[i] = now() - t0;
    kv_close(&kv);
  }
  report(impl, "open", n, median(xs, r), "s");

  kv_open(&kv, impl, dir, 0);
  size_t adds = r * 4 > 100 ? 100 : (size_t)r * 4;
  double *ys = calloc(adds, sizeof *ys);
  for (size_t i = 0; i < adds; i++) {
    double t0 = now();
    kv_add(&kv, n + i);
    ys[i] = now() - t0;
  }
  report(impl, "add one", n, median(ys, (int)adds), "s");
  free(ys);

  for (int i = 0; i < r; i++) xs[i] = get_rate(&kv, n, gets(1000000));
  report(impl, "get, 1 thread", n, median(xs, r), "ops/s");
  for (int i = 0; i < r; i++) xs[i] = get_all_time(&kv, n);
  report(impl, "get_all", n, median(xs, r), "s");
  kv_close(&kv);

  for (int i = 0; i < r; i++) {
    int fds[2];
    if (pipe(fds)) exit(1);
    char *argv[] = {(char *)self_path, "rss", (char *)impl, (char *)dir, NULL};
    pid_t pid = spawn(argv, fds[1]);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    long kb = 0;
    size_t len = 0;
    if (fscanf(f, "%ld %zu", &kb, &len) != 2 || len < n) fail("rss child", "nothing useful");
    fclose(f);
    wait_ok(pid);
    xs[i] = (double)kb * 1024;
  }
  report(impl, "peak RSS", n, median(xs, r), "bytes");
  report(impl, "peak RSS / file size", n, median(xs, r) / (double)dir_bytes(dir), "x");
  free(xs);
  rm_rf(dir);
}

static void run_procs(const char *impl, const char *data, const char *dir) {
  read_data(data);
  need(1000, 0);
  int r = reps();
  double *xs = calloc((size_t)r, sizeof *xs);
  size_t kept_min = (size_t)-1;
  for (int i = 0; i < r; i++) {
    rm_rf(dir);
    /* The store exists before the processes start (our cache needs no setup;
     * LMDB's and SQLite's first open creates their files). */
    struct kv kv;
    kv_open(&kv, impl, dir, 0);
    kv_close(&kv);
    pid_t pids[4];
    double t0 = now();
    for (int p = 0; p < 4; p++) {
      char first[32];
      snprintf(first, sizeof first, "%d", p * 250);
      char *argv[] = {(char *)self_path, "adder", (char *)impl, (char *)dir, (char *)data,
                      first,           "250",     NULL};
      pids[p] = spawn(argv, -1);
    }
    for (int p = 0; p < 4; p++) wait_ok(pids[p]);
    xs[i] = now() - t0;
    kv_open(&kv, impl, dir, 0);
    size_t bytes, len = kv_read_all(&kv, &bytes);
    kv_close(&kv);
    if (len < kept_min) kept_min = len;
  }
  report(impl, "4 procs x 250 adds", 1000, median(xs, r), "s");
  report(impl, "4 procs x 250 adds: kept (min)", 1000, (double)kept_min, "assets");
  free(xs);
  rm_rf(dir);
}

static const char *const IMPLS[] = {"ours", "lmdb", "sqlite"};

/* Item 4: one add into a store of n, ours against LMDB and SQLite, without
 * and with fsync. The three take turns, batch by batch, so a burst of load
 * on the shared machine hits all three alike. Reported: the median of all
 * single adds (BENCH_REPS rounds of ADD_BATCH adds per store and mode). */
#define ADD_BATCH 200
/* Then, without fsync, the mean of ADD_MEAN (default 4000) adds in a row
 * per store, 500 at a time in turns: our file is rewritten whole when its
 * reservoir (an eighth of the live bytes) is full, which a median hides. */
static size_t add_mean_count(void) {
  const char *g = getenv("ADD_MEAN");
  long v = g ? atol(g) : 0;
  return v > 0 ? (size_t)v : 4000;
}

static void run_add(size_t n, const char *data, const char *dir) {
  read_data(data);
  int r = reps();
  size_t mean_adds = add_mean_count();
  size_t batches = (size_t)r * ADD_BATCH;
  need(n, batches + (mean_adds > batches ? mean_adds : batches));
  for (int durable = 0; durable < 2; durable++) {
    struct kv kv[3];
    char sub[3][4200];
    for (int k = 0; k < 3; k++) {
      snprintf(sub[k], sizeof sub[k], "%s/%s-%d", dir, IMPLS[k], durable);
      rm_rf(sub[k]);
      kv_open(&kv[k], IMPLS[k], sub[k], durable);
      kv_add_list(&kv[k], n);
    }
    size_t total = (size_t)r * ADD_BATCH;
    double *ts[3];
    for (int k = 0; k < 3; k++) ts[k] = calloc(total, sizeof(double));
    size_t next = n + (size_t)durable * total;
    for (int round = 0; round < r; round++)
      for (int k = 0; k < 3; k++)
        for (size_t j = 0; j < ADD_BATCH; j++) {
          size_t at = (size_t)round * ADD_BATCH + j;
          double t0 = now();
          kv_add(&kv[k], next + at);
          ts[k][at] = now() - t0;
        }
    for (int k = 0; k < 3; k++) {
      report(IMPLS[k], durable ? "add one, fsync" : "add one, no fsync", n,
             median(ts[k], (int)total), "s");
      free(ts[k]);
    }
    if (!durable) {
      double spent[3] = {0, 0, 0};
      for (size_t from = 0; from < mean_adds; from += 500)
        for (int k = 0; k < 3; k++) {
          size_t upto = from + 500 < mean_adds ? from + 500 : mean_adds;
          double t0 = now();
          for (size_t i = from; i < upto; i++) kv_add(&kv[k], n + total + i);
          spent[k] += now() - t0;
        }
      for (int k = 0; k < 3; k++)
        report(IMPLS[k], "add one, no fsync, mean with rewrites", n,
               spent[k] / (double)mean_adds, "s");
    }
    for (int k = 0; k < 3; k++) {
      kv_close(&kv[k]);
      rm_rf(sub[k]);
    }
  }
}

/* Item 6: open (a fresh process's view: the store is read as each one must
 * be before its first get), add one and get at N, ours and the peers. */
static void run_growth(size_t n, const char *data, const char *dir) {
  read_data(data);
  int r = reps();
  need(n, (size_t)r * 20);
  double *xs = calloc((size_t)r * 20, sizeof *xs);
  for (int k = 0; k < 3; k++) {
    const char *impl = IMPLS[k];
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/%s", dir, impl);
    rm_rf(sub);
    struct kv kv;
    kv_open(&kv, impl, sub, 0);
    kv_add_list(&kv, n);
    kv_close(&kv);
    for (int i = 0; i < r; i++) {
      double t0 = now();
      kv_open(&kv, impl, sub, 0);
      xs[i] = now() - t0;
      kv_close(&kv);
    }
    report(impl, "growth: open", n, median(xs, r), "s");
    kv_open(&kv, impl, sub, 0);
    for (int i = 0; i < r * 20; i++) {
      double t0 = now();
      kv_add(&kv, n + (size_t)i);
      xs[i] = now() - t0;
    }
    report(impl, "growth: add one", n, median(xs, r * 20), "s");
    for (int i = 0; i < r; i++) xs[i] = get_rate(&kv, n, gets(500000));
    report(impl, "growth: get, 1 thread", n, median(xs, r), "ops/s");
    kv_close(&kv);
    rm_rf(sub);
  }
  free(xs);
}

int main(int argc, char **argv) {
  static char exe[4096];
  ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
  self_path = "/proc/self/exe";
  if (l > 0) {
    exe[l] = 0;
    self_path = exe;
  }
  if (argc == 6 && !strcmp(argv[1], "run")) {
    run(argv[2], (size_t)atol(argv[3]), argv[4], argv[5]);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "procs")) {
    run_procs(argv[2], argv[3], argv[4]);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "add")) {
    run_add((size_t)atol(argv[2]), argv[3], argv[4]);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "growth")) {
    run_growth((size_t)atol(argv[2]), argv[3], argv[4]);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "fill")) {
    /* ours: DIR/model.json holding the first N assets, in our layout */
    read_data(argv[4]);
    need((size_t)atol(argv[3]), 0);
    struct kv kv;
    kv_open(&kv, "ours", argv[2], 0);
    kv_add_list(&kv, (size_t)atol(argv[3]));
    kv_close(&kv);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "rss")) return child_rss(argv[2], argv[3]);
  if (argc == 9 && !strcmp(argv[1], "fleet-adder"))
    return child_fleet(argv[2], argv[3], (size_t)atol(argv[4]), (size_t)atol(argv[5]),
                       atof(argv[6]), argv[7], argv[8]);
  if (argc == 7 && !strcmp(argv[1], "adder"))
    return child_adder(argv[2], argv[3], argv[4], (size_t)atol(argv[5]), (size_t)atol(argv[6]));
  fprintf(stderr, "usage: peers_c run lmdb|sqlite N DATA DIR | procs lmdb|sqlite DATA DIR | "
                  "add N DATA DIR | growth N DATA DIR\n");
  return 2;
}
