/* Phases, single thread plus a sampler: burst to about M MiB in mixed sizes (16 B .. 4 MiB,
 * every page touched), free it all, idle for I ms, burst again, free, idle again.  A sampler
 * thread reads the resident set (/proc/self/statm) every 50 ms.  While idle the program is an
 * event loop that wakes every 50 ms and mallocs and frees a few small blocks, so an allocator
 * that returns memory only when called gets the chance.  Reports:
 *   maxrss_kb        peak RSS (VmHWM)
 *   freed_rss_kb     RSS right after the first burst was freed
 *   idle_end_rss_kb  RSS at the end of the first idle (before the second burst)
 *   final_rss_kb     RSS at the end of the second idle
 *   time_s           time of the bursts and frees only, idles excluded
 * With BENCH_RSS_TRACE=FILE the samples go to FILE, one "ms rss_kb phase" line each.
 *
 * usage: bench_phase [burst_mib [idle_ms [seed]]]   (default 256 2000 1) */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

static const char usage[] = "bench_phase [burst_mib [idle_ms [seed]]]";

#define MAX_SAMPLES 8192
static struct {
  float ms;
  long kb;
  int phase;
} sample[MAX_SAMPLES];
static atomic_int nsamples, phase, stop_sampler;
static double t_start;

static void *sampler(void *arg)
{
  (void)arg;
  while (!atomic_load(&stop_sampler)) {
    int n = atomic_load(&nsamples);
    if (n < MAX_SAMPLES) {
      sample[n].ms = (float)((bench_now() - t_start) * 1e3);
      sample[n].kb = bench_rss_kb();
      sample[n].phase = atomic_load(&phase);
      atomic_store(&nsamples, n + 1);
    }
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static unsigned char **blk;
static size_t *len;
static size_t maxblk;

/* Sizes: 60% of blocks tiny (16..1024), 38% mid (1..64 KiB), 2% large (64 KiB..4 MiB). */
static size_t pick(bench_rng_t *r)
{
  uint64_t x = bench_rng_next(r);
  unsigned c = (unsigned)(x % 100);
  x >>= 8;
  if (c < 60) return 16 + (size_t)(x % 1009);
  if (c < 98) return 1024 + (size_t)(x % (63 * 1024 + 1));
  return 65536 + (size_t)(x % (4 * 1024 * 1024 - 65536 + 1));
}

static double burst(bench_rng_t *r, size_t target, uint64_t *check)
{
  double t0 = bench_now();
  size_t total = 0, n = 0;
  while (total < target && n < maxblk) {
    size_t s = pick(r);
    unsigned char *p = malloc(s);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed\n", s);
      exit(1);
    }
    for (size_t o = 0; o < s; o += 4096) p[o] = (unsigned char)o;
    p[s - 1] = (unsigned char)s;
    blk[n] = p;
    len[n++] = s;
    total += s;
  }
  /* free in a scrambled order (a stride prime to n) */
  size_t stride = 7919;
  while (n % stride == 0) stride += 2;
  for (size_t j = 0; j < n; j++) {
    size_t i = (j * stride) % n;
    *check += blk[i][len[i] - 1];
    free(blk[i]);
  }
  return bench_now() - t0;
}

static void idle(bench_rng_t *r, unsigned ms)
{
  void *p[8];
  for (unsigned t = 0; t < ms; t += 50) {
    for (unsigned i = 0; i < 8; i++) p[i] = malloc(16 + (size_t)(bench_rng_next(r) % 497));
    for (unsigned i = 0; i < 8; i++) free(p[i]);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char **argv)
{
  unsigned long long mibs = argc > 1 ? bench_arg(argv[1], "burst MiB", usage) : 256;
  unsigned long long idle_ms = argc > 2 ? bench_arg(argv[2], "idle ms", usage) : 2000;
  unsigned long long seed = argc > 3 ? bench_arg(argv[3], "seed", usage) : 1;
  if (mibs == 0 || argc > 4) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  size_t target = (size_t)mibs << 20;
  maxblk = target / 256 + 1024;
  blk = malloc(maxblk * sizeof *blk);
  len = malloc(maxblk * sizeof *len);
  if (!blk || !len) {
    perror("malloc");
    return 1;
  }
  memset(blk, 1, maxblk * sizeof *blk); /* resident from the start (non-zero: not turned into calloc) */
  memset(len, 1, maxblk * sizeof *len);
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  uint64_t check = 0;

  t_start = bench_now();
  pthread_t th;
  if (pthread_create(&th, NULL, sampler, NULL) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  long base_kb = bench_rss_kb();
  atomic_store(&phase, 1);
  double t = burst(&rng, target, &check);
  long freed_kb = bench_rss_kb();
  atomic_store(&phase, 2);
  idle(&rng, (unsigned)idle_ms);
  long idle_end_kb = bench_rss_kb();
  atomic_store(&phase, 3);
  t += burst(&rng, target, &check);
  atomic_store(&phase, 4);
  idle(&rng, (unsigned)idle_ms);
  long final_kb = bench_rss_kb();
  atomic_store(&stop_sampler, 1);
  pthread_join(th, NULL);

  long peak_sampled = 0;
  int ns = atomic_load(&nsamples);
  for (int i = 0; i < ns; i++)
    if (sample[i].kb > peak_sampled) peak_sampled = sample[i].kb;
  const char *trace = getenv("BENCH_RSS_TRACE");
  if (trace && *trace) {
    FILE *f = fopen(trace, "w");
    if (f) {
      fprintf(f, "# ms rss_kb phase (1 burst, 2 idle, 3 burst, 4 idle)\n");
      for (int i = 0; i < ns; i++) fprintf(f, "%.0f %ld %d\n", sample[i].ms, sample[i].kb, sample[i].phase);
      fclose(f);
    }
  }
  free(blk);
  free(len);
  printf("bench=phase burst_mib=%llu idle_ms=%llu seed=%llu time_s=%.6f ops=%llu ops_per_s=%.0f "
         "maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld base_rss_kb=%ld freed_rss_kb=%ld "
         "idle_end_rss_kb=%ld final_rss_kb=%ld peak_sampled_kb=%ld samples=%d\n",
         mibs, idle_ms, seed, t, 2 * mibs, (double)(2 * mibs) / t, bench_maxrss_kb(),
         bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(), base_kb,
         freed_kb, idle_end_kb, final_kb, peak_sampled, ns);
  return 0;
}
