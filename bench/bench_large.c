/* Large blocks, single thread: S slots; each iteration frees a random slot and puts a block of
 * a random size in [min, max] (default 256 KiB .. 8 MiB) there, writing one byte in every 4 KiB
 * so that every page is touched.  Measures what a large malloc/free pair costs beyond the
 * touching: mmap/munmap and page faults for an allocator that returns large blocks at once,
 * a cache hit for one that keeps them.
 *
 * usage: bench_large [iterations [slots [min [max [seed]]]]]   (default 4000 4 262144 8388608 1) */
#include "bench.h"

static const char usage[] = "bench_large [iterations [slots [min [max [seed]]]]]";

int main(int argc, char **argv)
{
  unsigned long long iters = argc > 1 ? bench_arg(argv[1], "iterations", usage) : 4000;
  unsigned long long ns = argc > 2 ? bench_arg(argv[2], "slots", usage) : 4;
  unsigned long long min = argc > 3 ? bench_arg(argv[3], "min", usage) : 262144;
  unsigned long long max = argc > 4 ? bench_arg(argv[4], "max", usage) : 8388608;
  unsigned long long seed = argc > 5 ? bench_arg(argv[5], "seed", usage) : 1;
  if (ns == 0 || min == 0 || max < min || argc > 6) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  unsigned char **slot = calloc(ns, sizeof *slot);
  if (!slot) {
    perror("calloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  uint64_t check = 0, bytes = 0;

  double t0 = bench_now();
  for (unsigned long long i = 0; i < iters; i++) {
    uint64_t r = bench_rng_next(&rng);
    size_t k = (size_t)(r % ns);
    size_t n = (size_t)min + (size_t)((r >> 24) % (max - min + 1));
    if (slot[k]) check += slot[k][0];
    free(slot[k]);
    unsigned char *p = malloc(n);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed at iteration %llu\n", n, i);
      return 1;
    }
    for (size_t o = 0; o < n; o += 4096) p[o] = (unsigned char)(i + o);
    p[n - 1] = 1;
    slot[k] = p;
    bytes += n;
  }
  for (size_t k = 0; k < ns; k++) free(slot[k]);
  double t = bench_now() - t0;
  free(slot);
  long final_kb = bench_rss_kb();

  printf("bench=large iterations=%llu slots=%llu min=%llu max=%llu seed=%llu time_s=%.6f "
         "ops=%llu ops_per_s=%.0f bytes=%llu maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld "
         "final_rss_kb=%ld\n",
         iters, ns, min, max, seed, t, iters, (double)iters / t, (unsigned long long)bytes,
         bench_maxrss_kb(), bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(),
         final_kb);
  return 0;
}
