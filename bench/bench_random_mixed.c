/* Random-mixed, single thread: a working set of W slots; each iteration picks a random slot,
 * frees what is there and puts a new block of a random size (uniform in 16..1040 bytes) in it,
 * writing its first and last byte.  It measures the small-object malloc/free fast paths with a
 * cache-unfriendly access pattern; the working set decides how much memory stays live.
 *
 * Built a second time as bench_mid (bench/local.mk) with sizes 1024..65536 and its own
 * defaults: the mid classes, above most allocators' small-object classes and below their
 * large/mmap threshold, where size-class spacing and slab reuse decide both time and RSS.
 *
 * The sizes may be given: min and max (both, min at least 1); a single size, or a range within
 * one size class, takes the class lookup's variety out of the measure.
 *
 * usage: bench_random_mixed [iterations [working_set [seed [min max]]]]
 *        (default 10000000 8192 1 16 1040) */
#include "bench.h"

#ifndef BENCH_NAME /* the random-mixed defaults; bench_mid defines its own */
#define BENCH_NAME "random_mixed"
#define MIN_SIZE 16
#define MAX_SIZE 1040
#define DEFAULT_ITERATIONS 10000000
#define DEFAULT_WORKING_SET 8192
#endif

static const char usage[] = "bench_" BENCH_NAME " [iterations [working_set [seed [min max]]]]";

int main(int argc, char **argv)
{
  unsigned long long iters =
      argc > 1 ? bench_arg(argv[1], "iterations", usage) : DEFAULT_ITERATIONS;
  unsigned long long ws = argc > 2 ? bench_arg(argv[2], "working set", usage) : DEFAULT_WORKING_SET;
  unsigned long long seed = argc > 3 ? bench_arg(argv[3], "seed", usage) : 1;
  unsigned long long lo = argc > 5 ? bench_arg(argv[4], "min", usage) : MIN_SIZE;
  unsigned long long hi = argc > 5 ? bench_arg(argv[5], "max", usage) : MAX_SIZE;
  if (ws == 0 || argc == 5 || argc > 6 || lo == 0 || hi < lo) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }

  unsigned char **slot = calloc(ws, sizeof *slot);
  if (!slot) {
    perror("calloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  uint64_t check = 0;

  double t0 = bench_now();
  bench_replace(slot, (size_t)ws, (size_t)lo, (size_t)hi, iters, &rng, &check);
  for (size_t k = 0; k < ws; k++) free(slot[k]);
  double t = bench_now() - t0;
  free(slot);
  long final_kb = bench_rss_kb();

  printf("bench=" BENCH_NAME " iterations=%llu working_set=%llu seed=%llu min=%llu max=%llu "
         "time_s=%.6f ops=%llu ops_per_s=%.0f maxrss_kb=%ld malloc=%s check=%llu "
         "ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         iters, ws, seed, lo, hi, t, iters, (double)iters / t, bench_maxrss_kb(),
         bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(), final_kb);
  return 0;
}
