/* bench_shift: one thread whose sizes shift, as a program whose phases differ: phase 1 replaces
 * random slots of 8192 with blocks of 16..1040 bytes, phase 2 slots of 1024 with blocks of
 * 8..32 KiB, phase 3 as phase 1 again; each block has its first and last byte written.  A
 * fixed refill batch that suits one phase's classes is too small for the other's: this is what
 * HAKMEM_LEARN tunes (docs/benchmarks.md).  Prints the three phases' times and their sum.
 *
 * usage: bench_shift [iterations_per_phase [seed]]   (default 20000000 1) */
#include "bench.h"

static const char usage[] = "bench_shift [iterations_per_phase [seed]]";

static uint64_t check;

static double phase(unsigned char **slot, size_t ws, size_t lo, size_t hi,
                    unsigned long long iters, bench_rng_t *rng)
{
  double t0 = bench_now();
  bench_replace(slot, ws, lo, hi, iters, rng, &check);
  for (size_t k = 0; k < ws; k++) {
    free(slot[k]);
    slot[k] = NULL;
  }
  return bench_now() - t0;
}

int main(int argc, char **argv)
{
  unsigned long long iters = argc > 1 ? bench_arg(argv[1], "iterations", usage) : 20000000;
  unsigned long long seed = argc > 2 ? bench_arg(argv[2], "seed", usage) : 1;
  if (argc > 3) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  unsigned char **slot = calloc(8192, sizeof *slot);
  if (!slot) {
    perror("calloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  double a = phase(slot, 8192, 16, 1040, iters, &rng);
  double b = phase(slot, 1024, 8192, 32768, iters, &rng);
  double c = phase(slot, 8192, 16, 1040, iters, &rng);
  free(slot);
  printf("bench=shift iterations_per_phase=%llu seed=%llu time_s=%.6f tiny1_s=%.6f mid_s=%.6f "
         "tiny2_s=%.6f maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         iters, seed, a + b + c, a, b, c, bench_maxrss_kb(), bench_malloc_provider(),
         (unsigned long long)check, bench_ru_maxrss_kb(), bench_rss_kb());
  return 0;
}
