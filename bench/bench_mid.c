/* Mid-size random replacement, single thread: a working set of W slots; each iteration frees a
 * random slot and puts a new block of a random size (uniform in 1024..65536 bytes) in it,
 * writing its first and last byte.  It measures the mid classes (above the small-object
 * classes of most allocators, below their large/mmap threshold), where size-class spacing and
 * slab reuse decide both time and RSS.
 *
 * usage: bench_mid [iterations [working_set [seed]]]   (default 2000000 1024 1) */
#include "bench.h"

#define MIN_SIZE 1024
#define MAX_SIZE 65536

static const char usage[] = "bench_mid [iterations [working_set [seed]]]";

int main(int argc, char **argv)
{
  unsigned long long iters = argc > 1 ? bench_arg(argv[1], "iterations", usage) : 2000000;
  unsigned long long ws = argc > 2 ? bench_arg(argv[2], "working set", usage) : 1024;
  unsigned long long seed = argc > 3 ? bench_arg(argv[3], "seed", usage) : 1;
  if (ws == 0 || argc > 4) {
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
  for (unsigned long long i = 0; i < iters; i++) {
    uint64_t r = bench_rng_next(&rng);
    size_t k = (size_t)(r % ws);
    size_t n = MIN_SIZE + (size_t)((r >> 32) % (MAX_SIZE - MIN_SIZE + 1));
    unsigned char *old = slot[k];
    if (old) check += old[0];
    free(old);
    unsigned char *p = malloc(n);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed at iteration %llu\n", n, i);
      return 1;
    }
    p[0] = (unsigned char)i;
    p[n - 1] = (unsigned char)n;
    slot[k] = p;
  }
  for (size_t k = 0; k < ws; k++) free(slot[k]);
  double t = bench_now() - t0;
  free(slot);
  long final_kb = bench_rss_kb();

  printf("bench=mid iterations=%llu working_set=%llu seed=%llu time_s=%.6f ops=%llu "
         "ops_per_s=%.0f maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         iters, ws, seed, t, iters, (double)iters / t, bench_maxrss_kb(), bench_malloc_provider(),
         (unsigned long long)check, bench_ru_maxrss_kb(), final_kb);
  return 0;
}
