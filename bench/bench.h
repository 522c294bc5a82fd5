/* Shared helpers for the hakmem benchmarks: a small PRNG, a monotonic clock, argument parsing
 * and one result line.  The programs use only the standard malloc API, so any allocator can be
 * measured by preloading it; glibc's malloc is measured with no preload.
 *
 * Every program ends with one line of key=value pairs that bench/compare.py reads:
 *   bench=NAME ... time_s=SECONDS ops=N ops_per_s=RATE maxrss_kb=KB malloc=PROVIDER check=X
 *       ru_maxrss_kb=KB
 *       final_rss_kb=KB
 * maxrss_kb is the peak resident set in KiB (VmHWM; see bench_maxrss_kb), ru_maxrss_kb is
 * getrusage(RUSAGE_SELF).ru_maxrss; final_rss_kb is the resident set when the program has freed
 * everything, just before it prints (bench_rss_kb): what the allocator still holds; malloc names the allocator library found mapped in the
 * process (a check that the preload took). */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* xorshift64*: fast, good enough for picking sizes and slots, and identical on every run. */
typedef struct { uint64_t s; } bench_rng_t;

static inline void bench_rng_seed(bench_rng_t *r, uint64_t seed)
{
  /* splitmix64 step, so that small seeds still give a well mixed state that is never zero */
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  r->s = (z ^ (z >> 31)) | 1;
}

static inline uint64_t bench_rng_next(bench_rng_t *r)
{
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi] (inclusive); the modulo bias is negligible for these ranges. */
static inline size_t bench_rng_range(bench_rng_t *r, size_t lo, size_t hi)
{
  return lo + (size_t)((bench_rng_next(r) >> 16) % (hi - lo + 1));
}

/* Random replacement in ws slots, iters times: a random slot's block (if any) is freed and a
 * new one of lo..hi bytes (uniform) takes its place, its first and last byte written.  Adds
 * the first byte of every block freed to *check (so that the work is not optimised away);
 * exits if a malloc fails.  bench_random_mixed, bench_mid and bench_shift share it. */
static inline void bench_replace(unsigned char **slot, size_t ws, size_t lo, size_t hi,
                                 unsigned long long iters, bench_rng_t *rng, uint64_t *check)
{
  for (unsigned long long i = 0; i < iters; i++) {
    uint64_t r = bench_rng_next(rng);
    size_t k = (size_t)(r % ws), n = lo + (size_t)((r >> 32) % (hi - lo + 1));
    unsigned char *old = slot[k];
    if (old) *check += old[0];
    free(old);
    unsigned char *p = malloc(n);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed at iteration %llu\n", n, i);
      exit(1);
    }
    p[0] = (unsigned char)i;
    p[n - 1] = (unsigned char)n;
    slot[k] = p;
  }
}

static inline double bench_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident set of this program, in KiB: VmHWM from /proc/self/status.  getrusage's
 * ru_maxrss is not used as the main figure because Linux carries it across execve: a program
 * started by a large parent (python, make) reports at least the parent's RSS.  ru_maxrss is
 * printed as well, and used where /proc is missing. */
static inline long bench_ru_maxrss_kb(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static inline long bench_maxrss_kb(void)
{
  static char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return bench_ru_maxrss_kb();
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return bench_ru_maxrss_kb();
  buf[n] = '\0';
  const char *h = strstr(buf, "VmHWM:");
  return h ? strtol(h + 6, NULL, 10) : bench_ru_maxrss_kb();
}

/* Resident set now, in KiB: the second field of /proc/self/statm times the page size. */
static inline long bench_rss_kb(void)
{
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *s = buf;
  strtol(s, &s, 10);
  return strtol(s, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A positive integer argument, or exit with the usage line. */
static inline unsigned long long bench_arg(const char *s, const char *what, const char *usage)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end != '\0') {
    fprintf(stderr, "bad %s '%s'\nusage: %s\n", what, s, usage);
    exit(2);
  }
  return v;
}

/* Which malloc is mapped into the process: the first known allocator library in
 * /proc/self/maps, else "glibc".  Read with open/read into a static buffer, after timing. */
static inline const char *bench_malloc_provider(void)
{
  static char buf[1 << 16];
  static const char *const names[] = { "/libhakmem", "/libmimalloc", "/libjemalloc",
                                       "/libtcmalloc" };
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return "unknown";
  const char *found = "glibc";
  ssize_t n;
  size_t keep = 0;
  while ((n = read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
    size_t len = keep + (size_t)n;
    buf[len] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strstr(buf, names[i])) {
        found = names[i] + 4; /* "hakmem", ... */
        goto done;
      }
    /* keep a tail so that a name split across two reads is still seen */
    keep = len < 16 ? len : 16;
    memmove(buf, buf + len - keep, keep);
  }
done:
  close(fd);
  return found;
}

#endif
