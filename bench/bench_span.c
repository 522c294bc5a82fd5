/* bench_span: many live blocks between 64 KiB and 1 MiB (the L2.5 sizes), at 1 to 4 threads.
 * Each thread allocates `blocks` blocks of a size drawn from [min, max], writing the first and
 * the last byte of each (two pages, as a program that fills a header and a trailer does), or
 * with all_pages 1 a byte of every 4 KiB too (a program that fills its buffers), keeps
 * them all live, then replaces `churn` random ones by blocks of new random sizes, then frees
 * everything.  Prints the time of the three phases together (and thread 0's churn and final
 * free phases apart), the peak RSS and the number of mappings (lines of /proc/self/maps) while
 * every block is live: an allocator that maps each block on its own has one per block, and
 * near vm.max_map_count (65530) every other mmap of the process fails.
 *
 *   bench_span [threads [blocks [min [max [churn [seed [all_pages]]]]]]]
 *   (default 1 thread, 100000 blocks, 70000..70000 B, no churn, seed 1, two pages a block) */
#include <pthread.h>

#include "bench.h"

static const char usage[] = "bench_span [threads [blocks [min [max [churn [seed [all_pages]]]]]]]";

static unsigned long long nblocks, min_size, max_size, churn, seed, all_pages;
static pthread_barrier_t made, counted;
static long maps_at_peak;
static double churn_s, free_s; /* thread 0's churn and final free phases */

static long count_maps(void)
{
  static char buf[1 << 16];
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return -1;
  long lines = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
  close(fd);
  return lines;
}

static unsigned char *make(bench_rng_t *r, unsigned long long i)
{
  size_t n = bench_rng_range(r, (size_t)min_size, (size_t)max_size);
  unsigned char *p = malloc(n);
  if (!p) {
    fprintf(stderr, "malloc(%zu) failed at block %llu\n", n, i);
    exit(1);
  }
  p[0] = (unsigned char)i;
  if (all_pages)
    for (size_t at = 4096; at < n; at += 4096) p[at] = 1;
  p[n - 1] = 1;
  return p;
}

static void *worker(void *arg)
{
  unsigned me = (unsigned)(uintptr_t)arg;
  bench_rng_t r;
  bench_rng_seed(&r, seed * 131 + me);
  unsigned char **v = malloc(nblocks * sizeof *v);
  if (!v) {
    perror("malloc");
    exit(1);
  }
  for (unsigned long long i = 0; i < nblocks; i++) v[i] = make(&r, i);
  pthread_barrier_wait(&made);
  pthread_barrier_wait(&counted);
  uint64_t check = 0;
  double c0 = bench_now();
  for (unsigned long long i = 0; i < churn; i++) {
    size_t k = (size_t)(bench_rng_next(&r) % nblocks);
    check += v[k][0];
    free(v[k]);
    v[k] = make(&r, i);
  }
  double c1 = bench_now();
  for (unsigned long long i = 0; i < nblocks; i++) free(v[i]);
  free(v);
  if (me == 0) {
    churn_s = c1 - c0;
    free_s = bench_now() - c1;
  }
  return (void *)(uintptr_t)check;
}

int main(int argc, char **argv)
{
  unsigned long long threads = argc > 1 ? bench_arg(argv[1], "threads", usage) : 1;
  nblocks = argc > 2 ? bench_arg(argv[2], "blocks", usage) : 100000;
  min_size = argc > 3 ? bench_arg(argv[3], "min", usage) : 70000;
  max_size = argc > 4 ? bench_arg(argv[4], "max", usage) : min_size;
  churn = argc > 5 ? bench_arg(argv[5], "churn", usage) : 0;
  seed = argc > 6 ? bench_arg(argv[6], "seed", usage) : 1;
  all_pages = argc > 7 ? bench_arg(argv[7], "all_pages", usage) : 0;
  if (threads == 0 || threads > 64 || nblocks == 0 || min_size == 0 || max_size < min_size ||
      all_pages > 1 || argc > 8) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  pthread_t tid[64];
  pthread_barrier_init(&made, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&counted, NULL, (unsigned)threads + 1);
  double t0 = bench_now();
  for (unsigned i = 0; i < threads; i++)
    if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  pthread_barrier_wait(&made);
  double t1 = bench_now();
  maps_at_peak = count_maps();
  double t2 = bench_now();
  pthread_barrier_wait(&counted);
  uint64_t check = 0;
  for (unsigned i = 0; i < threads; i++) {
    void *c;
    pthread_join(tid[i], &c);
    check += (uint64_t)(uintptr_t)c;
  }
  double t = bench_now() - t0 - (t2 - t1); /* counting the mappings is not timed */
  long final_kb = bench_rss_kb();
  unsigned long long ops = threads * (nblocks + churn);
  printf("bench=span threads=%llu blocks=%llu min=%llu max=%llu churn=%llu seed=%llu "
         "all_pages=%llu time_s=%.6f ops=%llu ops_per_s=%.0f alloc_s=%.6f churn_s=%.6f free_s=%.6f "
         "maps_at_peak=%ld maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         threads, nblocks, min_size, max_size, churn, seed, all_pages, t, ops, (double)ops / t,
         t1 - t0, churn_s, free_s, maps_at_peak,
         bench_maxrss_kb(), bench_malloc_provider(), (unsigned long long)check,
         bench_ru_maxrss_kb(), final_kb);
  return 0;
}
