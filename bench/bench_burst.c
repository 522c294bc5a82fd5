/* bench_burst: a server that handles a burst of requests, then waits.  Each of `bursts` rounds
 * allocates about `mib` MiB in blocks of 16 B .. 64 KiB (a power of two picked at random, then
 * a size up to twice it; every byte written, as a request's buffers are), frees them all, and
 * sleeps `idle_ms`.  Prints the time spent in the bursts (the sleeps excluded), the peak RSS
 * and the resident set at the end.
 *
 * An allocator that gives empty memory back after a delay shorter than the idle time pays
 * for it at every burst, in page faults; one that keeps it longer holds it through the idle
 * time.  The purge delay that suits this loop is longer than the default: this is what
 * HAKMEM_LEARN tunes (docs/benchmarks.md).
 *
 * usage: bench_burst [bursts [mib [idle_ms [seed]]]]   (default 12 bursts of 32 MiB, 150 ms) */
#include "bench.h"

static const char usage[] = "bench_burst [bursts [mib [idle_ms [seed]]]]";

int main(int argc, char **argv)
{
  unsigned long long bursts = argc > 1 ? bench_arg(argv[1], "bursts", usage) : 12;
  unsigned long long mib = argc > 2 ? bench_arg(argv[2], "mib", usage) : 32;
  unsigned long long idle_ms = argc > 3 ? bench_arg(argv[3], "idle_ms", usage) : 150;
  unsigned long long seed = argc > 4 ? bench_arg(argv[4], "seed", usage) : 1;
  if (argc > 5 || bursts == 0 || mib == 0) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  size_t cap = (size_t)mib << 16; /* more slots than blocks: the mean block is above 16 B */
  unsigned char **v = malloc(cap * sizeof *v);
  if (!v) {
    perror("malloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  uint64_t check = 0;
  unsigned long long ops = 0;
  double busy = 0, first = 0;
  struct timespec idle = {(time_t)(idle_ms / 1000), (long)(idle_ms % 1000) * 1000000L};
  for (unsigned long long b = 0; b < bursts; b++) {
    double t0 = bench_now();
    size_t n = 0, bytes = 0;
    while (bytes < (size_t)mib << 20 && n < cap) {
      size_t size = (size_t)16 << bench_rng_range(&rng, 0, 11); /* 16 B .. 64 KiB */
      size = bench_rng_range(&rng, size, size * 2 - 1);
      unsigned char *p = malloc(size);
      if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", size);
        return 1;
      }
      memset(p, (int)n, size);
      v[n++] = p;
      bytes += size;
    }
    for (size_t i = 0; i < n; i++) {
      check += v[i][0];
      free(v[i]);
    }
    ops += 2 * n;
    double t = bench_now() - t0;
    busy += t;
    if (b == 0) first = t;
    nanosleep(&idle, NULL);
  }
  free(v);
  printf("bench=burst bursts=%llu mib=%llu idle_ms=%llu seed=%llu time_s=%.6f ops=%llu "
         "ops_per_s=%.0f first_s=%.6f maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld "
         "final_rss_kb=%ld\n",
         bursts, mib, idle_ms, seed, busy, ops, (double)ops / busy, first, bench_maxrss_kb(),
         bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(),
         bench_rss_kb());
  return 0;
}
