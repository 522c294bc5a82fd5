/* Test j: a producer allocates a burst of small blocks of one class and stays alive but idle; a
 * consumer frees them all, and nothing else is called.  With no full slabs kept
 * (HAKMEM_KEPT_FULL_SLABS=0, exchange.sh), every exhausted slab leaves the producer's lists,
 * marked, and the consumer's first free into it puts it on the shared partial list.  The free
 * that brings back its last block must give it to the pool at once, so that its SuperSlab,
 * once wholly empty, goes to the LRU cache and past its bound back to the OS: a server that
 * handled a spike and now waits must not keep the spike mapped until some later malloc runs
 * the housekeeping.  Measured with hakmem's count of bytes mapped (mallinfo2's arena) less the
 * SuperSlabs cached as address space only (uordblks: they gave every page back), which reads no
 * clock and runs no housekeeping.
 *
 * With the argument "gone" (exchange.sh runs it with HAKMEM_STATS=1 and no SuperSlab cached),
 * the free that empties a region is also the one that unmaps it, and a remote free must not
 * look at the slab after that:
 *   1. a thread allocates 16 KiB blocks over several SuperSlabs and exits, and a thread that
 *      never allocated frees them all: each free that brings back the last block of a region
 *      unmaps it at once (the free went on to count itself in the slab's class: a SIGSEGV);
 *      what stays is the region of main's blocks, the one of the current slab that the
 *      makers' heap keeps for the next thread (hak_thread_done), and at most one more;
 *   2. a thread that stays alive allocates such a burst and calls malloc_trim(0) over and over
 *      while another thread frees the burst: whichever of them empties a region unmaps it,
 *      also while the other's free is between its push and its last look at the slab. */
#include <pthread.h>
#include <stdatomic.h>

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

#define GONE_BLOCKS 512 /* 8 MiB of 16 KiB blocks */
#define GONE_ROUNDS 20
static void *gone[GONE_BLOCKS];
static atomic_int made_round, freed_round;

static void *gone_maker(void *arg)
{
  (void)arg;
  for (unsigned i = 0; i < GONE_BLOCKS; i++) {
    gone[i] = malloc(16 * KiB);
    if (!gone[i]) bail_out("malloc");
    memset(gone[i], 1, 64);
  }
  return NULL;
}

static void *gone_freer(void *arg)
{
  (void)arg;
  for (unsigned i = 0; i < GONE_BLOCKS; i++) free(gone[i]);
  return NULL;
}

static void *trimming_owner(void *arg)
{
  (void)arg;
  for (int r = 1; r <= GONE_ROUNDS; r++) {
    gone_maker(NULL);
    atomic_store(&made_round, r);
    while (atomic_load(&freed_round) != r) malloc_trim(0);
  }
  return NULL;
}

static void *round_freer(void *arg)
{
  void *own = malloc(32); /* a heap of its own: its frees are named by it */
  (void)arg;
  for (int r = 1; r <= GONE_ROUNDS; r++) {
    while (atomic_load(&made_round) != r) sched_yield();
    gone_freer(NULL);
    atomic_store(&freed_round, r);
  }
  free(own);
  return NULL;
}

/* Bytes mapped that may hold pages. */
static size_t held(void)
{
  struct mallinfo2 m = mallinfo2();
  return m.arena - m.uordblks * SS_SIZE;
}

static int regions_gone(void)
{
  plan(2);
  size_t before = mallinfo2().arena;
  pthread_t t;
  for (int r = 0; r < GONE_ROUNDS; r++) {
    pthread_create(&t, NULL, gone_maker, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, gone_freer, NULL);
    pthread_join(t, NULL);
  }
  size_t after = mallinfo2().arena;
  ok(after <= before + 3 * SS_SIZE, "%d rounds of a burst freed by a thread without a heap after "
     "its maker exited: %.1f MiB mapped above the start (at most 6)", GONE_ROUNDS,
     mib(after > before ? after - before : 0));
  pthread_t o, f;
  pthread_create(&o, NULL, trimming_owner, NULL);
  pthread_create(&f, NULL, round_freer, NULL);
  pthread_join(o, NULL);
  pthread_join(f, NULL);
  after = mallinfo2().arena;
  ok(after <= before + 2 * SS_SIZE, "%d rounds freed by a thread while their maker trims: %.1f MiB "
     "mapped above the start (at most 4)", GONE_ROUNDS, mib(after > before ? after - before : 0));
  return exit_status();
}

int main(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "gone")) return regions_gone();
  plan(2);
  size_t before = held();
  pthread_t p, c;
  pthread_barrier_init(&made, NULL, 2);
  pthread_barrier_init(&freed, NULL, 3);
  pthread_create(&p, NULL, producer, NULL);
  pthread_create(&c, NULL, consumer, NULL);
  pthread_barrier_wait(&freed);
  size_t after = held();
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
