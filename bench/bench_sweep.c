/* A collector's sweep, single thread: N live blocks of random size in [min, max], each written;
 * then, for each of R rounds, all of them freed in an order unrelated to where they lie (a
 * fresh random permutation), and as many allocated again, each written.  Most programs that
 * free a large structure, and every collector's sweep, free blocks that have not been touched
 * for a while: what the allocator reads from a freed block, and how it finds free blocks again,
 * decide the time.  free_s and alloc_s are the two phases summed over the rounds; time_s is
 * their sum (the permutations are not timed).
 *
 * usage: bench_sweep [blocks [min [max [rounds [seed]]]]]   (default 1000000 16 128 5 1) */
#include "bench.h"

static const char usage[] = "bench_sweep [blocks [min [max [rounds [seed]]]]]";

int main(int argc, char **argv)
{
  unsigned long long n = argc > 1 ? bench_arg(argv[1], "blocks", usage) : 1000000;
  unsigned long long min = argc > 2 ? bench_arg(argv[2], "min", usage) : 16;
  unsigned long long max = argc > 3 ? bench_arg(argv[3], "max", usage) : 128;
  unsigned long long rounds = argc > 4 ? bench_arg(argv[4], "rounds", usage) : 5;
  unsigned long long seed = argc > 5 ? bench_arg(argv[5], "seed", usage) : 1;
  if (n == 0 || min == 0 || max < min || argc > 6) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  unsigned char **v = malloc(n * sizeof *v);
  size_t *size = malloc(n * sizeof *size);
  if (!v || !size) {
    perror("malloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  uint64_t check = 0;
  for (size_t i = 0; i < n; i++) {
    size[i] = bench_rng_range(&rng, (size_t)min, (size_t)max);
    if (!(v[i] = malloc(size[i]))) {
      fprintf(stderr, "malloc(%zu) failed\n", size[i]);
      return 1;
    }
    memset(v[i], (int)i, size[i]);
  }
  double free_s = 0, alloc_s = 0;
  for (unsigned long long r = 0; r < rounds; r++) {
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates, blocks and their sizes together */
      size_t j = (size_t)(bench_rng_next(&rng) % (i + 1));
      unsigned char *t = v[i];
      v[i] = v[j];
      v[j] = t;
      size_t s = size[i];
      size[i] = size[j];
      size[j] = s;
    }
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) free(v[i]);
    double t1 = bench_now();
    for (size_t i = 0; i < n; i++) {
      if (!(v[i] = malloc(size[i]))) {
        fprintf(stderr, "malloc(%zu) failed in round %llu\n", size[i], r);
        return 1;
      }
      v[i][0] = (unsigned char)r;
      v[i][size[i] - 1] = (unsigned char)i;
      check += v[i][0];
    }
    double t2 = bench_now();
    free_s += t1 - t0;
    alloc_s += t2 - t1;
  }
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
  free(size);
  long final_kb = bench_rss_kb();
  double t = free_s + alloc_s;
  printf("bench=sweep blocks=%llu min=%llu max=%llu rounds=%llu seed=%llu time_s=%.6f "
         "free_s=%.6f alloc_s=%.6f ops=%llu ops_per_s=%.0f maxrss_kb=%ld malloc=%s check=%llu "
         "ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         n, min, max, rounds, seed, t, free_s, alloc_s, 2 * n * rounds,
         (double)(2 * n * rounds) / t, bench_maxrss_kb(), bench_malloc_provider(),
         (unsigned long long)check, bench_ru_maxrss_kb(), final_kb);
  return 0;
}
