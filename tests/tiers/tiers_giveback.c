/* Test l: a thread's own slabs that other threads' frees have emptied serve its other classes.
 * A thread fills 20 MiB of 64-byte blocks; with HAKMEM_KEPT_FULL_SLABS=4096 (giveback.sh) every
 * exhausted slab stays on its own full list.  A second thread frees them all: the slabs are now
 * wholly free, but still the first thread's.  The first thread then allocates 20 MiB of
 * 128-byte blocks: before it takes slabs from the pool it must give back the emptied ones, so
 * that the new class is carved from them and not from fresh SuperSlabs.  Measured with hakmem's
 * count of bytes mapped (mallinfo2's arena). */
#include <pthread.h>

#include "tiers.h"

#define PART (20 * MiB)

static void **blocks;
static size_t count;
static pthread_barrier_t made, freed;

static void *freer(void *arg)
{
  (void)arg;
  pthread_barrier_wait(&made);
  for (size_t i = 0; i < count; i++) free(blocks[i]);
  pthread_barrier_wait(&freed);
  return NULL;
}

static size_t fill(void **v, size_t n, size_t size)
{
  size_t i;
  for (i = 0; i < n && (v[i] = malloc(size)) != NULL; i++) memset(v[i], 1, size);
  return i;
}

int main(void)
{
  plan(3);
  size_t n = PART / 64;
  blocks = malloc(n * sizeof *blocks);
  void **second = malloc(PART / 128 * sizeof *second);
  pthread_t t;
  pthread_barrier_init(&made, NULL, 2);
  pthread_barrier_init(&freed, NULL, 2);
  pthread_create(&t, NULL, freer, NULL);
  size_t start = mallinfo2().arena;
  count = blocks && second ? fill(blocks, n, 64) : 0;
  size_t filled = mallinfo2().arena;
  ok(count == n && filled >= start + PART, "%zu blocks of 64 bytes mapped %.1f MiB", count,
     mib(filled - start));
  pthread_barrier_wait(&made);
  pthread_barrier_wait(&freed); /* every 64-byte block freed by the other thread */
  size_t m = second ? fill(second, PART / 128, 128) : 0;
  size_t after = mallinfo2().arena;
  ok(m == PART / 128, "%zu blocks of 128 bytes allocated after", m);
  ok(after <= filled + 4 * MiB,
     "they took the emptied slabs: %.1f MiB more mapped (at most 4; %.1f without them)",
     mib(after > filled ? after - filled : 0), mib(PART));
  pthread_join(t, NULL);
  for (size_t i = 0; i < m; i++) free(second[i]);
  free(second);
  free(blocks);
  return exit_status();
}
