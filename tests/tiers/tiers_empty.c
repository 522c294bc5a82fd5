/* Test k: HAKMEM_EMPTY_MAX_MB bounds the empty memory that keeps its pages.  A 64 MiB burst of
 * small blocks (every page written) is freed, and nothing more is called.  empty.sh runs this
 * with purge delays and cache bounds far beyond the run, so that only the bound can give pages
 * back.  The first argument is the expected outcome and the burst's shape:
 *   bounded    one thread allocates and frees it all: right after the last free, RSS is within
 *              8 MiB (and the thread's own current slabs) of where it started;
 *   exchanged  two threads each allocate half, then each frees the other's and stays alive but
 *              idle: the same bound, the two threads' current slabs besides.  Their other
 *              slabs, which sit on their owners' full lists, must come back at the remote free
 *              that empties them, not when the idle owner next allocates;
 *   kept       as bounded, with the bound at 1 GiB: RSS stays up, which shows the bound is what
 *              did it;
 *   large      24 large blocks of 2..3.5 MiB, every page written, go to the BigCache (whose own
 *              bounds are far beyond them): right after the last free RSS is within 8 MiB of
 *              where it started, and blocks of the same sizes asked for again with calloc come
 *              from the cached mappings, and read as zero. */
#include <pthread.h>

#include "tiers.h"

#define BURST (64 * MiB)
#define MAXBLOCKS (BURST / 512)

static void *v[MAXBLOCKS];

/* Allocates about bytes in blocks of 512 B .. 4 KiB (tiny and mid classes) into out, each
 * written; returns how many. */
static size_t burst(void **out, size_t bytes, unsigned x)
{
  size_t n = 0, total = 0;
  for (; total < bytes && n < MAXBLOCKS / 2; n++) {
    x = x * 1103515245u + 12345u;
    size_t size = 512 + (x >> 8) % 3584;
    out[n] = malloc(size);
    if (!out[n]) break;
    touch(out[n], size, 1);
    total += size;
  }
  return n;
}

#define NLARGE 24

static size_t large_size(unsigned i)
{
  return 2 * MiB + (size_t)(i % 6) * (256 << 10) + 4096 * (i / 6);
}

/* The large mode; returns after its checks (plan 4). */
static void large_blocks(void)
{
  void *warm = malloc(64);
  char *p[NLARGE];
  size_t base = rss_bytes();
  for (unsigned i = 0; i < NLARGE; i++) {
    p[i] = malloc(large_size(i));
    if (!p[i]) bail_out("malloc of a large block failed");
    touch(p[i], large_size(i), 0x5a);
  }
  size_t peak = rss_bytes();
  for (unsigned i = 0; i < NLARGE; i++) free(p[i]);
  size_t after = rss_bytes(), above = after > base ? after - base : 0;
  ok(peak >= base + NLARGE * 2 * MiB, "the large blocks made %.1f MiB resident", mib(peak - base));
  ok(above <= 8 * MiB + 4 * MiB, "with HAKMEM_EMPTY_MAX_MB=8, right after the last free %.1f MiB"
     " above the start (at most 12): the cached mappings gave their pages back", mib(above));
  unsigned reused = 0, nonzero = 0;
  char *q[NLARGE];
  for (unsigned i = 0; i < NLARGE; i++) {
    q[i] = calloc(1, large_size(i));
    if (!q[i]) bail_out("calloc of a large block failed");
    for (unsigned j = 0; j < NLARGE; j++) reused += q[i] == p[j];
    for (size_t at = 0; at < large_size(i); at += page_size() / 2) nonzero += q[i][at] != 0;
    nonzero += q[i][large_size(i) - 1] != 0;
  }
  ok(reused == NLARGE, "%u of %u blocks asked for again came from the cached mappings", reused,
     NLARGE);
  ok(nonzero == 0, "the purged mappings read as zero through calloc (%u bytes were not)", nonzero);
  for (unsigned i = 0; i < NLARGE; i++) free(q[i]);
  free(warm);
}

static size_t half_count[2];
static pthread_barrier_t made, measured, freed;

static void *exchanger(void *arg)
{
  int me = (int)(intptr_t)arg;
  half_count[me] = burst(v + me * (MAXBLOCKS / 2), BURST / 2, 1u + (unsigned)me);
  pthread_barrier_wait(&made);
  pthread_barrier_wait(&measured); /* main reads the peak before anything is freed */
  int other = 1 - me;
  for (size_t i = 0; i < half_count[other]; i++) free(v[other * (MAXBLOCKS / 2) + i]);
  pthread_barrier_wait(&freed); /* idle while main measures */
  pthread_barrier_wait(&freed);
  return NULL;
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "bounded";
  int exchanged = strcmp(mode, "exchanged") == 0, kept = strcmp(mode, "kept") == 0;
  int large = strcmp(mode, "large") == 0;
  plan(large ? 4 : 2);
  if (emulated()) {
    skip(large ? 4 : 2, "under an emulator RSS is the emulator's, not the program's");
    return exit_status();
  }
  if (large) {
    large_blocks();
    return exit_status();
  }
  void *warm = malloc(64); /* the heap exists before the baseline is taken */
  size_t base = rss_bytes(), peak, after, limit;
  if (exchanged) {
    pthread_t t[2];
    pthread_barrier_init(&made, NULL, 3);
    pthread_barrier_init(&measured, NULL, 3);
    pthread_barrier_init(&freed, NULL, 3);
    for (intptr_t i = 0; i < 2; i++) pthread_create(&t[i], NULL, exchanger, (void *)i);
    pthread_barrier_wait(&made);
    peak = rss_bytes();
    pthread_barrier_wait(&measured);
    pthread_barrier_wait(&freed);
    after = rss_bytes();
    pthread_barrier_wait(&freed);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    /* the bound, the two threads' current slabs (4.3 MiB each at most for these sizes), their
     * stacks and the touched part of v; before full slabs came back this way, 70 MiB stayed */
    limit = 8 * MiB + 12 * MiB;
  } else {
    size_t n = burst(v, BURST, 1);
    peak = rss_bytes();
    for (size_t i = 0; i < n; i++) free(v[i]);
    after = rss_bytes();
    limit = 8 * MiB + 4 * MiB; /* the bound, and slack for the current slabs */
  }
  size_t above = after > base ? after - base : 0;
  ok(peak >= base + BURST / 2, "the burst made %.1f MiB resident", mib(peak - base));
  if (kept)
    ok(above > 4 * limit, "with HAKMEM_EMPTY_MAX_MB=1024, right after the last free %.1f MiB"
       " stay resident", mib(above));
  else
    ok(above <= limit, "with HAKMEM_EMPTY_MAX_MB=8, right after the last free%s %.1f MiB above"
       " the start (at most %.1f)", exchanged ? " by the other thread," : "", mib(above),
       mib(limit));
  free(warm);
  return exit_status();
}
