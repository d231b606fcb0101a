/*
 * The system-call floor of one add (issue 11, item 4): the sequences of
 * system calls an add of ours makes, replayed alone (no JSON, no memory
 * update) on a real cache folder, against LMDB's commit without fsync
 * (three 4 KiB page writes and a 120-byte meta write: what strace shows one
 * mdb_txn_commit of one 1 KB put to do, MDB_NOSYNC).
 *
 *   add_floor DIR [ITERATIONS]
 *
 * Prints, per sequence, the median time of one iteration (of 9 batches).
 * Sequences (see BENCHMARKS.md, "add one against LMDB"):
 *   before:   the 27 calls of an add before issue 11 (strace -f of bench_c)
 *   now:      the 13 calls of an add now (descriptors kept across adds)
 *   locked write only: flock + pwrite + unlock, nothing checked
 *   lmdb-like: LMDB's four pwrites
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char dir[4096], json[4200], lockp[4200], tmp[4200];
static char record[1040], page[4096], header[256], tail[4096];
static int kept_dir = -1, kept_lock = -1, kept_json = -1;

static void ofd(int fd, short type, off_t start, off_t len, int cmd) {
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = start;
  l.l_len = len;
  if (fcntl(fd, cmd, &l) != 0) {
    perror("fcntl");
    exit(1);
  }
}

static off_t slot = 4432897436968977446LL;

static void before(void) {
  struct stat sb;
  stat(dir, &sb);
  lstat(json, &sb);
  int turn = open(lockp, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  fstat(turn, &sb);
  ofd(turn, F_WRLCK, 0, 1, F_OFD_SETLK);
  int d = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  int l = openat(d, "model.lock", O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  fstat(l, &sb);
  flock(l, LOCK_EX | LOCK_NB);
  ofd(d, F_RDLCK, slot + 1, 1, F_OFD_SETLK);
  fstat(l, &sb);
  lstat(lockp, &sb);
  ofd(d, F_WRLCK, slot, 2, F_OFD_GETLK);
  close(turn);
  int j = open(json, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  fstat(j, &sb);
  pread(j, header, sizeof header, 0);
  pread(j, tail, 971, 4096);
  unlink(tmp);
  pwrite(j, record, sizeof record, 8192);
  close(j);
  close(d);
  close(l);
}

static void kept(void) {
  struct stat sb;
  if (kept_dir < 0) {
    kept_dir = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    kept_lock = openat(kept_dir, "model.lock", O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    kept_json = open(json, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  }
  ofd(kept_lock, F_WRLCK, 0, 1, F_OFD_SETLK); /* turnstile */
  flock(kept_lock, LOCK_EX | LOCK_NB);
  ofd(kept_lock, F_UNLCK, 0, 1, F_OFD_SETLK);       /* turnstile let go */
  ofd(kept_dir, F_RDLCK, slot + 1, 1, F_OFD_SETLK); /* announce */
  fstat(kept_lock, &sb);                            /* still at its path */
  lstat(lockp, &sb);
  ofd(kept_dir, F_WRLCK, slot, 2, F_OFD_GETLK);
  lstat(json, &sb); /* the file is the one kept open */
  pread(kept_json, header, sizeof header, 0);
  pread(kept_json, tail, 971, 4096);
  pwrite(kept_json, record, sizeof record, 8192);
  ofd(kept_dir, F_UNLCK, slot + 1, 1, F_OFD_SETLK);
  flock(kept_lock, LOCK_UN);
}

static void locked_write(void) {
  flock(kept_lock, LOCK_EX | LOCK_NB);
  pwrite(kept_json, record, sizeof record, 8192);
  flock(kept_lock, LOCK_UN);
}

static void lmdb_like(void) {
  pwrite(kept_json, page, sizeof page, 16384);
  pwrite(kept_json, page, sizeof page, 20480);
  pwrite(kept_json, page, sizeof page, 24576);
  pwrite(kept_json, page, 120, 4128);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void measure(const char *name, void (*fn)(void), int iters) {
  double xs[9];
  for (int b = 0; b < 9; b++) {
    double t0 = now();
    for (int i = 0; i < iters; i++) fn();
    xs[b] = (now() - t0) / iters;
  }
  qsort(xs, 9, sizeof *xs, cmp);
  printf("floor\t%s\t1\t%.9f\ts\n", name, xs[4]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: add_floor DIR [ITERATIONS]\n");
    return 2;
  }
  int iters = argc > 2 ? atoi(argv[2]) : 2000;
  snprintf(dir, sizeof dir, "%s", argv[1]);
  mkdir(dir, 0777);
  snprintf(json, sizeof json, "%s/model.json", dir);
  snprintf(lockp, sizeof lockp, "%s/model.lock", dir);
  snprintf(tmp, sizeof tmp, "%s/.model.json.tmp", dir);
  memset(record, ' ', sizeof record);
  memset(page, 'x', sizeof page);
  int fd = open(json, O_RDWR | O_CREAT, 0600);
  for (int i = 0; i < 8; i++) write(fd, page, sizeof page);
  close(fd);
  close(open(lockp, O_RDWR | O_CREAT, 0600));
  kept(); /* opens the kept descriptors */
  measure("add's system calls before (27)", before, iters);
  measure("add's system calls now (13, descriptors kept)", kept, iters);
  measure("flock + pwrite 1 KB + unlock", locked_write, iters);
  measure("LMDB commit's system calls (4 pwrites, 12 KiB + 120 B)", lmdb_like, iters);
  unlink(json);
  unlink(lockp);
  rmdir(dir);
  return 0;
}
