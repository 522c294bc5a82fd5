/* Mid, L2.5 and large blocks are reused: a loop that allocates and frees blocks of 1..64 KiB,
 * of 100, 512 and 900 KiB (spans) and of 1.25 and 4 MiB (large) many times maps no new region
 * once warmed up (smblks flat), and every large request after the warm-up is a BigCache hit
 * (keepcost grows by one per request).  And a producer reuses what its consumer freed: blocks
 * that another thread freed into the producer's slab come back to it before the slab carves
 * fresh ones, which would touch new pages while the freed ones lie unused.
 * Contents are checked, so a block handed out twice would show. */
#include <pthread.h>

#include "tiers.h"

#define NMID 160
#define ROUNDS 60
#define WARMUP 3

static const size_t span_sizes[] = {100 * KiB, 512 * KiB, 900 * KiB, 100 * KiB};
#define NSPAN (sizeof span_sizes / sizeof span_sizes[0])
static const size_t large_sizes[] = {1280 * KiB, 4 * MiB, 1280 * KiB};
#define NLARGE (sizeof large_sizes / sizeof large_sizes[0])

static unsigned char *mid[NMID], *span[NSPAN], *large[NLARGE];

/* The same sizes every round, so that the warm-up has seen the loop's peak. */
static size_t mid_size(unsigned i)
{
  return 1025 + (size_t)((i * 2654435761u) % (64 * KiB - 1024));
}

/* One round: every block allocated, stamped, checked and freed. */
static int round_trip(unsigned r)
{
  int bad = 0;
  for (unsigned i = 0; i < NMID; i++) {
    size_t n = mid_size(i);
    mid[i] = malloc(n);
    if (!mid[i]) return -1;
    mid[i][0] = (unsigned char)i;
    mid[i][n - 1] = (unsigned char)(i + r);
  }
  for (unsigned i = 0; i < NSPAN; i++) {
    span[i] = malloc(span_sizes[i]);
    if (!span[i]) return -1;
    touch(span[i], span_sizes[i], (unsigned char)(i + r));
  }
  for (unsigned i = 0; i < NLARGE; i++) {
    large[i] = malloc(large_sizes[i]);
    if (!large[i]) return -1;
    touch(large[i], large_sizes[i], (unsigned char)(i + r));
  }
  for (unsigned j = 0; j < NMID; j++) { /* freed in a different order each round */
    unsigned i = (j * 7 + r * 13) % NMID;
    size_t n = mid_size(i);
    bad += mid[i][0] != (unsigned char)i || mid[i][n - 1] != (unsigned char)(i + r);
    free(mid[i]);
  }
  for (unsigned i = 0; i < NSPAN; i++) {
    bad += span[i][span_sizes[i] - 1] != (unsigned char)(i + r);
    free(span[i]);
  }
  for (unsigned i = 0; i < NLARGE; i++) {
    bad += large[i][large_sizes[i] - 1] != (unsigned char)(i + r);
    free(large[i]);
  }
  return bad;
}

/* A producer (the main thread) and a consumer: the producer takes 16 blocks of the 20 KiB class
 * (a mid slab of 25, refilled 8 at a time), the consumer frees 10, the producer takes 8 (a
 * refill finds the 10 and keeps 2 on the slab), the consumer frees the other 6, and the
 * producer takes 8 more: the 2 left on the slab and the 6 just freed, not fresh blocks carved
 * beside them.  Returns how many of those last 8 are blocks of the first 16. */
#define HAND_SIZE 20000
static unsigned char *first[16], *second[8], *third[8];
static unsigned hand_from, hand_to;

static void *consumer(void *arg)
{
  (void)arg;
  for (unsigned i = hand_from; i < hand_to; i++) free(first[i]);
  return NULL;
}

static void consume(unsigned from, unsigned to)
{
  pthread_t t;
  hand_from = from;
  hand_to = to;
  if (pthread_create(&t, NULL, consumer, NULL) != 0) bail_out("pthread_create failed");
  pthread_join(t, NULL);
}

static void produce(unsigned char **out, unsigned n)
{
  for (unsigned i = 0; i < n; i++) {
    out[i] = malloc(HAND_SIZE);
    if (!out[i]) bail_out("malloc failed");
    memset(out[i], (int)i, HAND_SIZE);
  }
}

static unsigned handed_back(void)
{
  produce(first, 16);
  consume(0, 10);
  produce(second, 8);
  consume(10, 16);
  produce(third, 8);
  unsigned reused = 0;
  for (unsigned i = 0; i < 8; i++)
    for (unsigned j = 0; j < 16; j++) reused += third[i] == first[j];
  for (unsigned i = 0; i < 8; i++) {
    free(second[i]);
    free(third[i]);
  }
  return reused;
}

int main(void)
{
  plan(6);
  watchdog(120);
  unsigned reused = handed_back();
  ok(reused == 8, "a producer's refill took the %u blocks its consumer had freed before fresh "
     "ones (8 expected)", reused);
  int bad = 0;
  for (unsigned r = 0; r < WARMUP; r++) bad += round_trip(r);
  struct mallinfo2 m0 = mallinfo2();
  for (unsigned r = WARMUP; r < ROUNDS; r++) bad += round_trip(r);
  struct mallinfo2 m1 = mallinfo2();
  diag("after warm-up: smblks %zu, arena %.1f MiB, keepcost %zu; after %d rounds: smblks %zu, "
       "arena %.1f MiB, keepcost %zu", m0.smblks, mib(m0.arena), m0.keepcost, ROUNDS, m1.smblks,
       mib(m1.arena), m1.keepcost);
  ok(bad == 0, "every block kept its contents (%d bad)", bad);
  ok(m0.smblks > 0, "the warm-up mapped regions (%zu)", m0.smblks);
  ok(m1.smblks == m0.smblks, "no region mapped after the warm-up (smblks %zu -> %zu)", m0.smblks,
     m1.smblks);
  size_t want = (ROUNDS - WARMUP) * NLARGE;
  ok(m1.keepcost - m0.keepcost >= want, "every large request after the warm-up hit the BigCache "
     "(keepcost +%zu, %zu requests)", m1.keepcost - m0.keepcost, want);
  ok(m1.arena <= m0.arena, "bytes mapped did not grow (%zu -> %zu)", m0.arena, m1.arena);
  return exit_status();
}
