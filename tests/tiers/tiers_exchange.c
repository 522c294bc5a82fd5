/* Test j: a producer allocates a burst of small blocks of one class and stays alive but idle; a
 * consumer frees them all, and nothing else is called.  With no full slabs kept
 * (HAKMEM_KEPT_FULL_SLABS=0, exchange.sh), every exhausted slab leaves the producer's lists,
 * marked, and the consumer's first free into it puts it on the shared partial list.  The free
 * that brings back its last block must give it to the pool at once, so that its SuperSlab,
 * once wholly empty, goes to the LRU cache and past its bound back to the OS: a server that
 * handled a spike and now waits must not keep the spike mapped until some later malloc runs
 * the housekeeping.  Measured with hakmem's count of bytes mapped (mallinfo2's arena), which
 * reads no clock and runs no housekeeping. */
#include <pthread.h>

#include "tiers.h"

#define BURST (32 * MiB)
#define SIZE 64

static void **blocks;
static size_t count;
static pthread_barrier_t made, freed;

static void *producer(void *arg)
{
  (void)arg;
  size_t cap = BURST / SIZE;
  blocks = malloc(cap * sizeof *blocks);
  for (count = 0; blocks && count < cap; count++) {
    blocks[count] = malloc(SIZE);
    if (!blocks[count]) break;
    memset(blocks[count], 1, SIZE);
  }
  pthread_barrier_wait(&made);
  pthread_barrier_wait(&freed); /* idle while the consumer frees, and while main measures */
  pthread_barrier_wait(&freed);
  return NULL;
}

static void *consumer(void *arg)
{
  (void)arg;
  pthread_barrier_wait(&made);
  for (size_t i = 0; i < count; i++) free(blocks[i]);
  pthread_barrier_wait(&freed);
  pthread_barrier_wait(&freed);
  return NULL;
}

int main(void)
{
  plan(2);
  size_t before = mallinfo2().arena;
  pthread_t p, c;
  pthread_barrier_init(&made, NULL, 2);
  pthread_barrier_init(&freed, NULL, 3);
  pthread_create(&p, NULL, producer, NULL);
  pthread_create(&c, NULL, consumer, NULL);
  pthread_barrier_wait(&freed);
  size_t after = mallinfo2().arena;
  ok(count == BURST / SIZE, "the producer allocated %zu blocks of %d bytes", count, SIZE);
  /* What may stay mapped: the 4 empty SuperSlabs the LRU cache keeps (exchange.sh), the
   * SuperSlab of the producer's current slab, the one with the small blocks the threads'
   * start-up allocated, one more, and the pointer array's own mapping.  Before the free that
   * empties a shared slab gave it back, 39 MiB stayed. */
  size_t array = (BURST / SIZE * sizeof(void *) + SS_SIZE - 1) / SS_SIZE * SS_SIZE;
  size_t bound = 7 * SS_SIZE + array;
  ok(after <= before + bound,
     "right after the last free, %.1f MiB mapped above the start (at most %.1f), the producer idle",
     mib(after > before ? after - before : 0), mib(bound));
  pthread_barrier_wait(&freed);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  free(blocks);
  return exit_status();
}
