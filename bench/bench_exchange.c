/* bench_exchange: two threads each allocate a burst of mixed small sizes (16 B..64 KiB, the first
 * 64 bytes and a byte of every 4 KiB of each block written), then each frees the other's blocks while both stay alive,
 * and nothing else is called: a server after a spike, its workers now waiting.  Prints the RSS
 * before the bursts, at their peak, right after the last free (the threads alive and idle) and
 * after the threads have exited.  final_rss_kb repeats freed_rss_kb, the figure compare.py
 * reports as the final RSS.
 *
 *   bench_exchange [mib_per_thread [seed]]      (default 512 MiB per thread, seed 1) */
#include <pthread.h>

#include "bench.h"

#define NTHREADS 2
static const char usage[] = "bench_exchange [mib_per_thread [seed]]";

static size_t burst_bytes;
static uint64_t seed;
static void **blocks[NTHREADS];
static size_t count[NTHREADS];
static pthread_barrier_t made, freed;

static void *worker(void *arg)
{
  int me = (int)(intptr_t)arg;
  bench_rng_t r;
  bench_rng_seed(&r, seed * 31 + (uint64_t)me);
  size_t cap = burst_bytes / 16 + 1, n = 0, total = 0;
  void **v = malloc(cap * sizeof *v);
  while (v && total < burst_bytes && n < cap) {
    size_t size = (size_t)16 << bench_rng_range(&r, 0, 12); /* a power of two, 16 B..64 KiB */
    size = bench_rng_range(&r, size / 2 + 1, size);
    char *p = malloc(size);
    if (!p) break;
    memset(p, me + 1, size < 64 ? size : 64);
    for (size_t o = 4096; o < size; o += 4096) p[o] = (char)me;
    v[n++] = p;
    total += size;
  }
  blocks[me] = v;
  count[me] = n;
  pthread_barrier_wait(&made);
  int other = (me + 1) % NTHREADS;
  for (size_t i = 0; i < count[other]; i++) free(blocks[other][i]);
  pthread_barrier_wait(&freed);
  pthread_barrier_wait(&freed); /* idle while main measures */
  return NULL;
}

int main(int argc, char **argv)
{
  burst_bytes = (size_t)(argc > 1 ? bench_arg(argv[1], "mib_per_thread", usage) : 512) << 20;
  seed = argc > 2 ? bench_arg(argv[2], "seed", usage) : 1;
  long base = bench_rss_kb();
  pthread_t t[NTHREADS];
  pthread_barrier_init(&made, NULL, NTHREADS + 1);
  pthread_barrier_init(&freed, NULL, NTHREADS + 1);
  double t0 = bench_now();
  for (intptr_t i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  pthread_barrier_wait(&made);
  long peak = bench_rss_kb();
  pthread_barrier_wait(&freed);
  double t1 = bench_now();
  long after = bench_rss_kb();
  pthread_barrier_wait(&freed);
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  long exited = bench_rss_kb();
  for (int i = 0; i < NTHREADS; i++) free(blocks[i]);
  printf("bench=exchange mib_per_thread=%zu seed=%llu time_s=%.6f maxrss_kb=%ld malloc=%s "
         "base_rss_kb=%ld peak_rss_kb=%ld freed_rss_kb=%ld exited_rss_kb=%ld final_rss_kb=%ld\n",
         burst_bytes >> 20, (unsigned long long)seed, t1 - t0, bench_maxrss_kb(),
         bench_malloc_provider(), base, peak, after, exited, after);
  return 0;
}
