/* Larson-style server workload.  T chains run at once; each owns an array of S slots filled
 * with blocks of random size in [min, max].  A round is R replacements (free a random slot,
 * malloc a new random size, write it).  After each round the thread starts a new thread, hands
 * it the whole slot array and exits, so nearly every free is of a block that another thread -
 * by then usually a dead one - allocated.  The initial blocks come from the main thread.
 * This exercises remote frees, adoption of blocks and slabs from exited threads, and thread
 * start/exit in the allocator.
 *
 * usage: bench_larson threads duration min max slots [ops_per_round [seed]]
 *   duration: a number of rounds per chain (fixed work: compare times), or a number of seconds
 *   with an 's' suffix such as 5s (fixed time: compare ops_per_s).
 *   defaults for the optional arguments: ops_per_round 10000, seed 1 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "bench.h"

static const char usage[] =
    "bench_larson threads rounds|SECONDSs min max slots [ops_per_round [seed]]";

typedef struct {
  unsigned char **slot;
  size_t nslots;
  size_t min, max;
  unsigned long long ops_per_round;
  unsigned long long rounds_left; /* fixed-work mode */
  bench_rng_t rng;
  unsigned long long ops;
  unsigned long long threads;     /* threads this chain has run */
  pthread_t prev;                 /* the thread that handed over; joined by its successor */
  int has_prev;
  pthread_t last;                 /* the chain's final thread, joined by main */
  uint64_t check;
} chain_t;

static int timed;
static double deadline;
static atomic_int stop;
static sem_t chains_done;

static void *worker(void *arg)
{
  chain_t *c = arg;
  if (c->has_prev) pthread_join(c->prev, NULL);
  for (unsigned long long i = 0; i < c->ops_per_round; i++) {
    uint64_t r = bench_rng_next(&c->rng);
    size_t k = (size_t)(r % c->nslots);
    size_t n = c->min + (size_t)((r >> 32) % (c->max - c->min + 1));
    unsigned char *old = c->slot[k];
    c->check += old[0];
    free(old);
    unsigned char *p = malloc(n);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed\n", n);
      exit(1);
    }
    p[0] = (unsigned char)i;
    p[n - 1] = (unsigned char)n;
    c->slot[k] = p;
  }
  c->ops += c->ops_per_round;
  c->threads++;

  int more;
  if (timed) {
    if (!atomic_load_explicit(&stop, memory_order_relaxed) && bench_now() >= deadline)
      atomic_store(&stop, 1);
    more = !atomic_load_explicit(&stop, memory_order_relaxed);
  } else {
    more = --c->rounds_left > 0;
  }
  if (more) {
    c->prev = pthread_self();
    c->has_prev = 1;
    pthread_t next;
    int e = pthread_create(&next, NULL, worker, c);
    if (e) {
      fprintf(stderr, "pthread_create: %s\n", strerror(e));
      exit(1);
    }
  } else {
    c->last = pthread_self();
    sem_post(&chains_done);
  }
  return NULL;
}

int main(int argc, char **argv)
{
  if (argc < 6 || argc > 8) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  unsigned long long nthreads = bench_arg(argv[1], "threads", usage);
  char dur[64];
  snprintf(dur, sizeof dur, "%s", argv[2]);
  size_t dl = strlen(dur);
  if (dl > 1 && dur[dl - 1] == 's') {
    timed = 1;
    dur[dl - 1] = '\0';
  }
  unsigned long long duration = bench_arg(dur, "duration", usage);
  size_t min = bench_arg(argv[3], "min", usage);
  size_t max = bench_arg(argv[4], "max", usage);
  size_t nslots = bench_arg(argv[5], "slots", usage);
  unsigned long long per_round = argc > 6 ? bench_arg(argv[6], "ops_per_round", usage) : 10000;
  unsigned long long seed = argc > 7 ? bench_arg(argv[7], "seed", usage) : 1;
  if (nthreads == 0 || duration == 0 || min == 0 || max < min || nslots == 0 || per_round == 0) {
    fprintf(stderr, "need threads, duration, min, slots, ops_per_round > 0 and max >= min\n");
    return 2;
  }

  chain_t *chain = calloc(nthreads, sizeof *chain);
  if (!chain) return 1;
  for (size_t t = 0; t < nthreads; t++) {
    chain_t *c = &chain[t];
    c->slot = malloc(nslots * sizeof *c->slot);
    if (!c->slot) return 1;
    c->nslots = nslots;
    c->min = min;
    c->max = max;
    c->ops_per_round = per_round;
    c->rounds_left = duration;
    bench_rng_seed(&c->rng, seed * 1000003 + t);
    for (size_t k = 0; k < nslots; k++) {
      size_t n = bench_rng_range(&c->rng, min, max);
      c->slot[k] = malloc(n);
      if (!c->slot[k]) return 1;
      memset(c->slot[k], 0, n < 64 ? n : 64);
    }
  }
  sem_init(&chains_done, 0, 0);

  double t0 = bench_now();
  deadline = t0 + (double)duration;
  for (size_t t = 0; t < nthreads; t++) {
    pthread_t th;
    int e = pthread_create(&th, NULL, worker, &chain[t]);
    if (e) {
      fprintf(stderr, "pthread_create: %s\n", strerror(e));
      return 1;
    }
    (void)th; /* joined by its successor, or by main when it is the chain's last */
  }
  for (size_t t = 0; t < nthreads; t++) sem_wait(&chains_done);
  for (size_t t = 0; t < nthreads; t++) pthread_join(chain[t].last, NULL);
  double t = bench_now() - t0;

  unsigned long long ops = 0, threads = 0;
  uint64_t check = 0;
  for (size_t i = 0; i < nthreads; i++) {
    ops += chain[i].ops;
    threads += chain[i].threads;
    check += chain[i].check;
    for (size_t k = 0; k < nslots; k++) free(chain[i].slot[k]);
    free(chain[i].slot);
  }
  free(chain);
  long final_kb = bench_rss_kb();

  printf("bench=larson threads=%llu duration=%s min=%zu max=%zu slots=%zu ops_per_round=%llu "
         "seed=%llu time_s=%.6f ops=%llu ops_per_s=%.0f threads_run=%llu maxrss_kb=%ld "
         "malloc=%s check=%llu ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         nthreads, argv[2], min, max, nslots, per_round, seed, t, ops, (double)ops / t, threads,
         bench_maxrss_kb(), bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(),
         final_kb);
  return 0;
}
