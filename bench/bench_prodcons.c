/* Producer/consumer cross-thread free: P pairs of threads; producer i allocates blocks of
 * random size in [min, max], writes them, and pushes them through a bounded lock-free
 * single-producer/single-consumer ring to consumer i, which reads and frees them.  Every free
 * is a remote free of a block owned by a live thread, and memory flows one way, so an
 * allocator must recycle the blocks freed on the consumer side back to the producer.
 *
 * A lagging consumer (lag > 0) frees a block only once its producer has made lag more after
 * it (or has finished): lag blocks per pair are always in flight, spread over slabs that their
 * producer has long filled and left, as in a pipeline whose last stage runs behind.
 *
 * usage: bench_prodcons [pairs [items [min [max [seed [lag]]]]]]
 *   items is per producer; defaults 2 1000000 16 1024 1 0.  The queue holds 1024 blocks more
 *   than the lag. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench.h"

static const char usage[] = "bench_prodcons [pairs [items [min [max [seed [lag]]]]]]";

#define QSLACK 1024 /* slots beyond the lag */
#define SPINS 64  /* busy polls before sched_yield: the machine may have fewer cores than threads */

typedef struct {
  _Alignas(64) atomic_size_t head; /* next slot to read; written by the consumer */
  _Alignas(64) atomic_size_t tail; /* next slot to write; written by the producer */
  void **ring;
  size_t cap;             /* slots in ring: a power of two */
  size_t lag;
  unsigned long long items;
  size_t min, max;
  uint64_t seed;
  uint64_t check;
} queue_t;

static void backoff(unsigned *spins)
{
  if (++*spins < SPINS) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    *spins = 0;
    sched_yield();
  }
}

static void *producer(void *arg)
{
  queue_t *q = arg;
  bench_rng_t rng;
  bench_rng_seed(&rng, q->seed);
  size_t tail = 0;
  for (unsigned long long i = 0; i < q->items; i++) {
    size_t n = bench_rng_range(&rng, q->min, q->max);
    unsigned char *p = malloc(n);
    if (!p) {
      fprintf(stderr, "malloc(%zu) failed\n", n);
      exit(1);
    }
    memcpy(p, &n, n < sizeof n ? n : sizeof n);
    p[n - 1] = (unsigned char)i;
    unsigned spins = 0;
    while (tail - atomic_load_explicit(&q->head, memory_order_acquire) == q->cap) backoff(&spins);
    q->ring[tail & (q->cap - 1)] = p;
    atomic_store_explicit(&q->tail, ++tail, memory_order_release);
  }
  return NULL;
}

static void *consumer(void *arg)
{
  queue_t *q = arg;
  size_t head = 0;
  uint64_t check = 0;
  for (unsigned long long i = 0; i < q->items; i++) {
    unsigned spins = 0;
    /* Past the lag, or the producer's last block made. */
    size_t lag = i + q->lag < q->items ? q->lag : q->items - 1 - i;
    while (atomic_load_explicit(&q->tail, memory_order_acquire) <= head + lag) backoff(&spins);
    unsigned char *p = q->ring[head & (q->cap - 1)];
    atomic_store_explicit(&q->head, ++head, memory_order_release);
    check += p[0];
    free(p);
  }
  q->check = check;
  return NULL;
}

int main(int argc, char **argv)
{
  if (argc > 7) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  unsigned long long pairs = argc > 1 ? bench_arg(argv[1], "pairs", usage) : 2;
  unsigned long long items = argc > 2 ? bench_arg(argv[2], "items", usage) : 1000000;
  size_t min = argc > 3 ? bench_arg(argv[3], "min", usage) : 16;
  size_t max = argc > 4 ? bench_arg(argv[4], "max", usage) : 1024;
  unsigned long long seed = argc > 5 ? bench_arg(argv[5], "seed", usage) : 1;
  unsigned long long lag = argc > 6 ? bench_arg(argv[6], "lag", usage) : 0;
  if (pairs == 0 || min == 0 || max < min) {
    fprintf(stderr, "need pairs > 0, min > 0, max >= min\n");
    return 2;
  }

  queue_t *q = aligned_alloc(64, pairs * sizeof *q);
  pthread_t *th = malloc(2 * pairs * sizeof *th);
  if (!q || !th) return 1;
  memset(q, 0, pairs * sizeof *q);
  size_t cap = QSLACK;
  while (cap < lag + QSLACK) cap *= 2;
  for (size_t i = 0; i < pairs; i++) {
    q[i].ring = malloc(cap * sizeof *q[i].ring);
    if (!q[i].ring) return 1;
    q[i].cap = cap;
    q[i].lag = lag;
    q[i].items = items;
    q[i].min = min;
    q[i].max = max;
    q[i].seed = seed * 1000003 + i;
  }

  double t0 = bench_now();
  for (size_t i = 0; i < pairs; i++) {
    if (pthread_create(&th[2 * i], NULL, consumer, &q[i]) ||
        pthread_create(&th[2 * i + 1], NULL, producer, &q[i])) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  for (size_t i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
  double t = bench_now() - t0;

  uint64_t check = 0;
  for (size_t i = 0; i < pairs; i++) check += q[i].check;
  unsigned long long ops = pairs * items;
  for (size_t i = 0; i < pairs; i++) free(q[i].ring);
  free(th);
  free(q);
  long final_kb = bench_rss_kb();
  printf("bench=prodcons pairs=%llu items=%llu min=%zu max=%zu seed=%llu lag=%llu time_s=%.6f "
         "ops=%llu ops_per_s=%.0f maxrss_kb=%ld malloc=%s check=%llu ru_maxrss_kb=%ld "
         "final_rss_kb=%ld\n",
         pairs, items, min, max, seed, lag, t, ops, (double)ops / t, bench_maxrss_kb(),
         bench_malloc_provider(), (unsigned long long)check, bench_ru_maxrss_kb(), final_kb);
  return 0;
}
