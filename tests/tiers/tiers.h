/* Helpers shared by the tier tests: page size, resident set, page touching and the
 * mallinfo2 fields as hakmem defines them (src/override.c):
 *   arena  bytes mapped now        hblks   regions mapped now     hblkhd  bytes in caches
 *   ordblks SuperSlabs in the LRU   smblks  regions mapped so far  fsmblks regions unmapped so far
 *   (with their pages)              uordblks SuperSlabs in the LRU as address space only
 *   fordblks BigCache bytes         keepcost BigCache hits so far
 * Options are set by each test's wrapper script: hakmem reads them once, at start-up. */
#ifndef HAK_TIERS_H
#define HAK_TIERS_H

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SS_SIZE (2 * MiB) /* a SuperSlab */
#define HAK_TIERS_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline size_t page_size(void)
{
  return (size_t)sysconf(_SC_PAGESIZE);
}

/* The number after key in a small /proc file, or -1. */
static inline long proc_field(const char *path, const char *key, int nth)
{
  char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *s = buf;
  if (key) {
    s = strstr(buf, key);
    if (!s) return -1;
    s += strlen(key);
  }
  for (int i = 0; i < nth; i++) strtol(s, &s, 10);
  return strtol(s, NULL, 10);
}

/* Resident bytes of this process: the second field of /proc/self/statm times the page size.
 * Under qemu-user statm is the emulator's own (host pages) while sysconf gives the guest's
 * page, so when that product is over twice VmRSS (which is in kB, whatever the page) VmRSS is
 * the right figure. */
static inline size_t rss_bytes(void)
{
  long pages = proc_field("/proc/self/statm", NULL, 1);
  long kb = proc_field("/proc/self/status", "VmRSS:", 0);
  size_t statm = pages > 0 ? (size_t)pages * page_size() : 0;
  if (kb > 0 && (statm == 0 || statm > 2 * (size_t)kb * 1024)) return (size_t)kb * 1024;
  return statm;
}

/* Writes one byte per 4 KiB of [p, p+n) and its last byte: every page becomes resident, also
 * under qemu-user with a larger guest page, where the host (whose pages RSS counts) still maps
 * 4 KiB pages one at a time. */
static inline void touch(void *p, size_t n, unsigned char v)
{
  volatile unsigned char *c = p;
  size_t pg = 4096;
  for (size_t i = 0; i < n; i += pg) c[i] = v;
  if (n) c[n - 1] = v;
}

/* True when the tests run under an emulator, whose own memory (translated code) grows. */
static inline int emulated(void)
{
  const char *e = getenv("HAK_EMULATOR");
  return e && *e;
}

static inline void sleep_ms(unsigned ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static inline double mib(size_t b)
{
  return (double)b / (double)MiB;
}

/* Two checks of a purge delay, from the RSS when freed bytes were written (r0), right after
 * they were freed (r1), after sleeping past the delay (r2) and after one more request (r3),
 * which applies the time bounds: within the delay less than a quarter went back, after it at
 * least three quarters.  Skipped under an emulator, whose RSS includes its translated code. */
static inline void check_purge_delay(size_t r0, size_t r1, size_t r2, size_t r3, size_t freed,
                                     const char *what)
{
  if (emulated()) {
    skip(2, "an emulator's RSS includes its own translated code");
    return;
  }
  ok((long)r0 - (long)r1 < (long)(freed / 4), "within the delay the %s kept their pages "
     "(RSS -%.1f MiB)", what, mib(r0 > r1 ? r0 - r1 : 0));
  ok((long)r2 - (long)r3 >= (long)(freed * 3 / 4), "after it they gave them back (RSS -%.1f "
     "MiB of %.1f)", mib(r2 > r3 ? r2 - r3 : 0), mib(freed));
}

#endif
