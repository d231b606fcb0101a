/* asset-cache: inspect and edit a cache from the shell, over the C API.
 *
 *   asset-cache [--dir DIR | --backend-url URL [--backend-timeout-ms MS]] --name NAME COMMAND [ARG]
 *
 * Exit codes: 0 success, 1 asset not found, 2 usage error, 3 the library
 * refused or failed (the message says why). */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "asset_cache.h"

enum { EXIT_NOT_FOUND = 1, EXIT_USAGE = 2, EXIT_LIBRARY = 3 };

static const char *USAGE =
    "usage: asset-cache [--dir DIR] --name NAME COMMAND [ARG]\n"
    "       asset-cache --backend-url URL [--backend-timeout-ms MS] --name NAME COMMAND [ARG]\n"
    "\n"
    "Inspect or edit the asset cache <DIR>/<NAME>.json (DIR defaults to .cache,\n"
    "as in the aiXplain Python SDK), or the cache NAME on a Redis server.\n"
    "\n"
    "options:\n"
    "  --dir DIR              folder of the cache files (default .cache)\n"
    "  --name NAME            the cache's name (the files' base name)\n"
    "  --backend-url URL      the cache on a Redis server instead of files:\n"
    "                         redis://[user:password@]host[:port][/db],\n"
    "                         rediss://... (TLS; ?ssl_ca_certs=/path/ca.pem for a\n"
    "                         private CA) or redis+unix:///path/to.sock\n"
    "  --backend-timeout-ms MS  longest wait for each answer of the server\n"
    "                         (default 5000)\n"
    "\n"
    "commands:\n"
    "  info            file, number of assets, expiry, validity\n"
    "  get ID          print the asset with this id (exit 1 if absent)\n"
    "  list            print all assets as one JSON array, in insertion order\n"
    "  ids             print the ids as one JSON array, in insertion order\n"
    "  remove ID       remove the asset with this id (exit 1 if absent)\n"
    "  add FILE|-      add one asset (a JSON object with an \"id\")\n"
    "  add-list FILE|- replace everything with a JSON array of assets\n"
    "  invalidate      empty the cache and delete its file\n"
    "\n"
    "exit codes: 0 ok, 1 not found, 2 usage error, 3 library error\n"
    "\n"
    "Warnings of the library (e.g. an unreadable file moved aside to .corrupt)\n"
    "go to stderr; ASSET_CACHE_LOG=error|warn|info|debug chooses the level.\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "asset-cache: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(run 'asset-cache --help' for usage)\n");
  return EXIT_USAGE;
}

static int library_error(const char *what, asset_cache_status status) {
  /* The library's message names the problem and usually its kind ("invalid
     JSON: ..."): the status text in front of it only repeated it. */
  const char *message = asset_cache_last_error();
  fprintf(stderr, "asset-cache: %s failed: %s\n", what,
          message != NULL && message[0] != '\0' ? message : asset_cache_status_str((int)status));
  return EXIT_LIBRARY;
}

/* Reads a whole file, or stdin for "-". NULL with a message on failure. */
static char *slurp(const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "asset-cache: cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fprintf(stderr, "asset-cache: out of memory reading %s\n", path);
      break;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
    if (len + 1 == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (bigger == NULL) free(buf);
      buf = bigger;
    }
  }
  int failed = ferror(f);
  if (f != stdin) fclose(f);
  if (buf == NULL) return NULL;
  if (failed) {
    fprintf(stderr, "asset-cache: cannot read %s\n", path);
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  if (strlen(buf) != len) {
    fprintf(stderr, "asset-cache: %s contains a NUL byte; JSON text cannot\n", path);
    free(buf);
    return NULL;
  }
  return buf;
}

/* Where the cache is, for messages: "<dir>/<name>.json", or "<name> on
   <url>" with the URL's password (if any) masked. */
static void describe(char *out, size_t size, const char *dir, const char *name, const char *url) {
  if (url == NULL) {
    snprintf(out, size, "%s/%s.json", dir, name);
    return;
  }
  const char *auth = strstr(url, "://");
  auth = auth == NULL ? url : auth + 3;
  const char *host_end = auth + strcspn(auth, "/");
  const char *at = NULL;
  for (const char *p = auth; p < host_end; p++)
    if (*p == '@') at = p;
  const char *colon = at == NULL ? NULL : memchr(auth, ':', (size_t)(at - auth));
  if (colon == NULL) {
    snprintf(out, size, "%s on %s", name, url);
  } else {
    snprintf(out, size, "%s on %.*s:***%s", name, (int)(colon - url), url, at);
  }
}

static int print_and_free(char *json) {
  puts(json);
  asset_cache_string_free(json);
  return 0;
}

static int info(const asset_cache *cache, const char *where, int on_server) {
  /* A folder or name that holds no cache is worth saying plainly: an expiry
     and "0 assets" alone read as an empty cache that exists. */
  struct stat st;
  if (!on_server && stat(where, &st) != 0 && errno == ENOENT) {
    printf("file:    %s (none: no cache file there)\n", where);
    printf("assets:  0\n");
    printf("expiry:  -\n");
    printf("valid:   no (no file)\n");
    return 0;
  }
  size_t len = 0;
  double expiry = 0;
  bool valid = false;
  asset_cache_status s;
  if ((s = asset_cache_len(cache, &len)) != ASSET_CACHE_OK) return library_error("len", s);
  if ((s = asset_cache_expiry(cache, &expiry)) != ASSET_CACHE_OK) return library_error("expiry", s);
  if ((s = asset_cache_has_valid_cache(cache, &valid)) != ASSET_CACHE_OK)
    return library_error("has_valid_cache", s);
  time_t t = (time_t)expiry;
  char when[64] = "?";
  struct tm tm;
  if (gmtime_r(&t, &tm) != NULL) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  printf("%s %s\n", on_server ? "cache:  " : "file:   ", where);
  printf("assets:  %zu\n", len);
  printf("expiry:  %s (unix %.3f)\n", when, expiry);
  printf("valid:   %s\n", valid ? "yes" : "no (expired or empty)");
  return 0;
}

int main(int argc, char **argv) {
  /* Someone at a shell should see the library's warnings (an unreadable file
     moved aside to .corrupt), which the library keeps silent by default for
     programs that embed it. An explicit ASSET_CACHE_LOG still decides. */
  if (getenv("ASSET_CACHE_LOG") == NULL) setenv("ASSET_CACHE_LOG", "warn", 1);
  const char *dir = ".cache", *name = NULL, *url = NULL, *timeout = NULL;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("asset-cache %s\n", asset_cache_version());
      return 0;
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
      name = argv[++i];
    } else if (strcmp(argv[i], "--backend-url") == 0 && i + 1 < argc) {
      url = argv[++i];
    } else if (strcmp(argv[i], "--backend-timeout-ms") == 0 && i + 1 < argc) {
      timeout = argv[++i];
    } else {
      return usage_error("unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (i >= argc) return usage_error("%s", "no command given");
  const char *cmd = argv[i++];
  const char *arg = i < argc ? argv[i++] : NULL;
  if (i < argc) return usage_error("unexpected argument '%s'", argv[i]);
  int needs_arg = strcmp(cmd, "get") == 0 || strcmp(cmd, "add") == 0 ||
                  strcmp(cmd, "add-list") == 0 || strcmp(cmd, "remove") == 0;
  int known = needs_arg || strcmp(cmd, "info") == 0 || strcmp(cmd, "list") == 0 ||
              strcmp(cmd, "ids") == 0 || strcmp(cmd, "invalidate") == 0;
  if (!known) return usage_error("unknown command '%s'", cmd);
  if (needs_arg && arg == NULL) return usage_error("'%s' needs an argument", cmd);
  if (!needs_arg && arg != NULL) return usage_error("unexpected argument '%s'", arg);
  if (name == NULL) return usage_error("%s", "missing --name NAME (the cache file's base name)");
  size_t name_len = strlen(name);
  if (url == NULL && name_len > 5 && strcmp(name + name_len - 5, ".json") == 0)
    fprintf(stderr,
            "asset-cache: note: NAME is the file's base name: --name %s is the file %s.json "
            "(for %s, use --name %.*s)\n",
            name, name, name, (int)(name_len - 5), name);
  long long timeout_ms = 0;
  if (timeout != NULL) {
    char *end = NULL;
    errno = 0;
    timeout_ms = strtoll(timeout, &end, 10);
    if (errno != 0 || end == timeout || *end != '\0')
      return usage_error("--backend-timeout-ms needs a number of milliseconds, got '%s'", timeout);
    if (url == NULL) return usage_error("%s", "--backend-timeout-ms needs --backend-url");
  }

  /* Through the options object: a setter that fails (a URL that does not
     parse, a timeout under 1 ms) is reported, with its message, by the open. */
  asset_cache_config *cfg = NULL;
  asset_cache_status s = asset_cache_config_new(&cfg);
  if (s != ASSET_CACHE_OK) return library_error("open", s);
  asset_cache_config_set_name(cfg, name);
  asset_cache_config_set_dir(cfg, dir);
  if (url != NULL) asset_cache_config_set_backend_url(cfg, url);
  if (timeout != NULL) asset_cache_config_set_backend_timeout_ms(cfg, (int64_t)timeout_ms);
  asset_cache *cache = NULL;
  s = asset_cache_open_config(cfg, &cache, NULL);
  asset_cache_config_free(cfg);
  if (s != ASSET_CACHE_OK) return library_error("open", s);
  char where[1024];
  describe(where, sizeof where, dir, name, url);

  int rc = 0;
  char *json = NULL;
  if (strcmp(cmd, "info") == 0) {
    rc = info(cache, where, url != NULL);
  } else if (strcmp(cmd, "get") == 0) {
    s = asset_cache_get(cache, arg, &json);
    if (s == ASSET_CACHE_OK) {
      rc = print_and_free(json);
    } else if (s == ASSET_CACHE_NOT_FOUND) {
      fprintf(stderr, "asset-cache: no asset with id '%s'\n", arg);
      rc = EXIT_NOT_FOUND;
    } else {
      rc = library_error("get", s);
    }
  } else if (strcmp(cmd, "list") == 0) {
    s = asset_cache_get_all(cache, &json);
    rc = s == ASSET_CACHE_OK ? print_and_free(json) : library_error("list", s);
  } else if (strcmp(cmd, "ids") == 0) {
    s = asset_cache_ids(cache, &json);
    rc = s == ASSET_CACHE_OK ? print_and_free(json) : library_error("ids", s);
  } else if (strcmp(cmd, "remove") == 0) {
    bool removed = false;
    s = asset_cache_remove(cache, arg, &removed);
    if (s != ASSET_CACHE_OK) {
      rc = library_error("remove", s);
    } else if (!removed) {
      fprintf(stderr, "asset-cache: no asset with id '%s'\n", arg);
      rc = EXIT_NOT_FOUND;
    } else {
      printf("remove: ok (%s removed from %s)\n", arg, where);
    }
  } else if (strcmp(cmd, "add") == 0 || strcmp(cmd, "add-list") == 0) {
    char *input = slurp(arg);
    if (input == NULL) {
      rc = EXIT_LIBRARY;
    } else {
      int one = strcmp(cmd, "add") == 0;
      s = one ? asset_cache_add(cache, input) : asset_cache_add_list(cache, input);
      free(input);
      if (s != ASSET_CACHE_OK) {
        rc = library_error(cmd, s);
      } else {
        size_t len = 0;
        asset_cache_len(cache, &len);
        printf("%s: ok (%zu asset%s in %s)\n", cmd, len, len == 1 ? "" : "s", where);
      }
    }
  } else {
    s = asset_cache_invalidate(cache);
    if (s == ASSET_CACHE_OK) {
      printf(url == NULL ? "invalidate: ok (%s deleted)\n" : "invalidate: ok (%s emptied)\n", where);
    } else {
      rc = library_error("invalidate", s);
    }
  }
  asset_cache_free(cache);
  return rc;
}
