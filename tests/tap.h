/* A small TAP producer for the hakmem test programs (run under automake's tap-driver.sh).
 *
 *   plan(n); ok(cond, "what %d", x); diag("note"); return exit_status();
 *
 * Output goes through write(2) from a stack buffer, so that printing a result never calls the
 * allocator under test in the middle of a check; skip_all() prints "1..0 # SKIP why". */
#ifndef HAK_TEST_TAP_H
#define HAK_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_run, tap_failed, tap_planned;

static void tap_write(const char *prefix, const char *fmt, va_list ap)
{
  char buf[1024];
  size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
  int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  n = m < 0 ? n : n + (size_t)m < sizeof buf - 1 ? n + (size_t)m : sizeof buf - 2;
  buf[n++] = '\n';
  for (size_t off = 0; off < n;) {
    ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
}

static void tap_line(const char *prefix, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  tap_write(prefix, fmt, ap);
  va_end(ap);
}

static inline void plan(int n)
{
  tap_planned = n;
  tap_line("", "1..%d", n);
}

/* The plan comes at the end, for tests whose count depends on the machine. */
static inline void done_testing(void)
{
  tap_planned = tap_run;
  tap_line("", "1..%d", tap_run);
}

static inline void diag(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  tap_write("# ", fmt, ap);
  va_end(ap);
}

static inline int ok(int cond, const char *fmt, ...)
{
  char prefix[48];
  tap_run++;
  if (!cond) tap_failed++;
  snprintf(prefix, sizeof prefix, "%sok %d - ", cond ? "" : "not ", tap_run);
  va_list ap;
  va_start(ap, fmt);
  tap_write(prefix, fmt, ap);
  va_end(ap);
  return cond;
}

static inline void skip(int n, const char *why)
{
  for (int i = 0; i < n; i++) tap_line("", "ok %d # SKIP %s", ++tap_run, why);
}

static inline _Noreturn void skip_all(const char *why)
{
  tap_line("", "1..0 # SKIP %s", why);
  exit(0);
}

/* A hang is a failure: SIGALRM kills the test after this many seconds (times the factor in
 * HAK_TEST_TIME_SCALE, for slow emulators). */
static inline void watchdog(unsigned seconds)
{
  const char *s = getenv("HAK_TEST_TIME_SCALE");
  unsigned scale = s ? (unsigned)atoi(s) : 1;
  alarm(seconds * (scale ? scale : 1));
}

/* Stops at once: a failure that makes the remaining checks meaningless. */
static inline _Noreturn void bail_out(const char *why)
{
  tap_line("", "Bail out! %s", why);
  exit(1);
}

static inline int exit_status(void)
{
  return tap_failed || tap_run != tap_planned ? 1 : 0;
}

#endif
