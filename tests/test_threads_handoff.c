/* Blocks handed between threads: each thread allocates blocks of random sizes, fills them with
 * a pattern derived from the address and size, and passes them to another thread through a
 * queue; the receiver checks the pattern and frees the block (a remote free).  Every block
 * must arrive intact, and every block must be freed exactly once. */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

enum { THREADS = 6, QCAP = 1024, OPS = 60000 };
#define SECONDS_MAX 2.0

typedef struct {
  pthread_mutex_t lock;
  void *ring[QCAP];
  size_t size[QCAP];
  unsigned head, count;
} queue_t;

static queue_t queues[THREADS];
static atomic_long sent, received, corrupt, short_usable;
static atomic_int stop;
static double t_start;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdu;
  x ^= x >> 33;
  return x;
}

/* The pattern: 8-byte words from (address, size, index); big blocks get their first and last
 * 4 KiB and one word per 4 KiB in between, so that the test stays quick. */
static void pattern(unsigned char *p, size_t n, int check)
{
  uint64_t seed = mix((uintptr_t)p ^ (n << 40));
  size_t words = n / 8;
  for (size_t w = 0; w < words; w++) {
    if (n > 16384 && w >= 512 && w + 512 < words && w % 512 != 0) continue;
    uint64_t v = seed + w * 0x9e3779b97f4a7c15u;
    if (check) {
      uint64_t got;
      memcpy(&got, p + w * 8, 8);
      if (got != v) {
        atomic_fetch_add(&corrupt, 1);
        return;
      }
    } else {
      memcpy(p + w * 8, &v, 8);
    }
  }
  for (size_t i = words * 8; i < n; i++) {
    unsigned char v = (unsigned char)(seed >> (i % 8 * 8));
    if (check && p[i] != v) {
      atomic_fetch_add(&corrupt, 1);
      return;
    }
    if (!check) p[i] = v;
  }
}

static void consume(void *p, size_t n)
{
  pattern(p, n, 1);
  free(p);
  atomic_fetch_add(&received, 1);
}

static size_t random_size(uint64_t *r)
{
  *r = mix(*r + 1);
  unsigned k = (unsigned)(*r % 100);
  size_t x = (size_t)(*r >> 8);
  if (k < 75) return 1 + x % 1024;
  if (k < 98) return 1025 + x % 64512;
  return 65537 + x % (1u << 20);
}

/* Takes everything waiting in a queue; returns how many. */
static int drain(queue_t *q)
{
  void *ring[QCAP];
  size_t size[QCAP];
  pthread_mutex_lock(&q->lock);
  unsigned n = q->count;
  for (unsigned i = 0; i < n; i++) {
    unsigned at = (q->head + i) % QCAP;
    ring[i] = q->ring[at];
    size[i] = q->size[at];
  }
  q->head = (q->head + n) % QCAP;
  q->count = 0;
  pthread_mutex_unlock(&q->lock);
  for (unsigned i = 0; i < n; i++) consume(ring[i], size[i]);
  return (int)n;
}

static void *worker(void *arg)
{
  unsigned self = (unsigned)(uintptr_t)arg;
  uint64_t r = self * 7919 + 1;
  for (int op = 0; op < OPS && !atomic_load(&stop); op++) {
    size_t n = random_size(&r);
    unsigned char *p = malloc(n);
    if (!p) {
      atomic_fetch_add(&corrupt, 1);
      break;
    }
    if (malloc_usable_size(p) < n) atomic_fetch_add(&short_usable, 1);
    pattern(p, n, 0);
    atomic_fetch_add(&sent, 1);
    queue_t *q = &queues[(self + 1 + r % (THREADS - 1)) % THREADS];
    pthread_mutex_lock(&q->lock);
    int full = q->count == QCAP;
    if (!full) {
      unsigned at = (q->head + q->count++) % QCAP;
      q->ring[at] = p;
      q->size[at] = n;
    }
    pthread_mutex_unlock(&q->lock);
    if (full) consume(p, n); /* the receiver is behind: check and free it here */
    if (op % 8 == 0) drain(&queues[self]);
    if (op % 1024 == 0 && now() - t_start > SECONDS_MAX) atomic_store(&stop, 1);
  }
  drain(&queues[self]);
  return NULL;
}

int main(void)
{
  watchdog(60);
  plan(4);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_mutex_init(&queues[i].lock, NULL);
  t_start = now();
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0) bail_out("pthread_create");
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  /* Blocks sent to a thread after its last drain: the main thread takes them. */
  for (int i = 0; i < THREADS; i++) drain(&queues[i]);
  diag("%ld blocks handed over in %.2f s", atomic_load(&sent), now() - t_start);
  ok(atomic_load(&corrupt) == 0, "every block arrived with its pattern intact (%ld bad)",
     atomic_load(&corrupt));
  ok(atomic_load(&sent) == atomic_load(&received) && atomic_load(&sent) > 0,
     "every block sent was received and freed (%ld sent, %ld received)", atomic_load(&sent),
     atomic_load(&received));
  ok(atomic_load(&short_usable) == 0, "malloc_usable_size >= request in every thread");
  void *p = malloc(1000), *q = malloc(100000);
  ok(p && q, "malloc works after the threads are gone");
  free(p);
  free(q);
  return exit_status();
}
