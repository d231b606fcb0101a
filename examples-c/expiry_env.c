/* Issue 10 item 1: CACHE_EXPIRY_TIME is read as the Python original reads
 * it, with int(), so that both give one shared cache the same lifetime;
 * what int() refuses, and 0 or a negative lifetime, give the default of
 * 86400 s and a warning (never a cache that expires as it is written).
 *
 * Checked to fail before the fix: with the old parser (ASCII digits and a
 * '+' only) the underscore, Unicode-digit and Unicode-space rows got 86400,
 * and "0" was taken as a lifetime of 0 s with no warning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static int warnings;
static char last_warning[1024];
static void on_log(void *userdata, asset_cache_log_level level, const char *message) {
  (void)userdata;
  if (level == ASSET_CACHE_LOG_WARN) {
    warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", message);
  }
}

struct row {
  const char *text;
  double ttl; /* expected lifetime in seconds */
  int warns;  /* 1: refused, with a warning naming the variable */
};

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "scratch-expiry-env";
  const struct row rows[] = {
      {"60", 60, 0},
      {" +5\n", 5, 0},
      {"1_000", 1000, 0},
      {"007", 7, 0},
      {"\xd9\xa1\xd9\xa2", 12, 0},             /* Arabic-Indic digits one, two */
      {"\xef\xbc\x91\xef\xbc\x90", 10, 0},     /* fullwidth digits one, zero */
      {"\xc2\xa0" "7\xe3\x80\x80", 7, 0},      /* no-break space, ideographic space */
      {"\xc2\x85" "9\xe2\x80\xa8", 9, 0},       /* next line, line separator */
      {"\x1c" "9", 86400, 1},                  /* str.isspace(), but int() refuses it */
      {"0", 86400, 1},
      {"-0", 86400, 1},
      {"-5", 86400, 1},
      {"1.5", 86400, 1},
      {"1__0", 86400, 1},
      {"_1", 86400, 1},
      {"1_", 86400, 1},
      {"+ 1", 86400, 1},
      {"abc", 86400, 1},
      {"", 86400, 1},
      {"\xc2\xb2", 86400, 1}, /* superscript two: numeric, not a decimal digit */
  };
  CHECK_OK(asset_cache_set_log_callback(on_log, ASSET_CACHE_LOG_WARN, NULL));
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    CHECK(setenv("CACHE_EXPIRY_TIME", rows[i].text, 1) == 0);
    warnings = 0;
    asset_cache_options opts;
    asset_cache_options_init(&opts);
    opts.dir = dir;
    opts.name = "expiry_env";
    asset_cache *c = NULL;
    double before = (double)time(NULL);
    CHECK_OK(asset_cache_open(&opts, &c));
    double expiry;
    CHECK_OK(asset_cache_expiry(c, &expiry));
    double ttl = expiry - before;
    if (fabs(ttl - rows[i].ttl) > 2.0 || warnings != rows[i].warns) {
      fprintf(stderr, "CACHE_EXPIRY_TIME=\"%s\": lifetime %.1f s, %d warning(s); expected %.0f s, %d\n",
              rows[i].text, ttl, warnings, rows[i].ttl, rows[i].warns);
      return 1;
    }
    if (rows[i].warns) CHECK(strstr(last_warning, "CACHE_EXPIRY_TIME") != NULL);
    /* The lifetime is really used: an add is still there. */
    CHECK_OK(asset_cache_add(c, "{\"id\":\"a\"}"));
    char *json = NULL;
    CHECK_OK(asset_cache_get(c, "a", &json));
    asset_cache_string_free(json);
    CHECK_OK(asset_cache_invalidate(c));
    asset_cache_free(c);
  }
  CHECK_OK(asset_cache_set_log_callback(NULL, ASSET_CACHE_LOG_WARN, NULL));
  unsetenv("CACHE_EXPIRY_TIME");
  puts("expiry_env: CACHE_EXPIRY_TIME read as Python's int() reads it; 0 and negatives refused");
  return 0;
}
