/* The BigCache's bounds, one per mode (the wrapper sets the options):
 *   max N   HAKMEM_BIGCACHE_MAX_MB=N: freeing many large blocks never leaves more than N MiB
 *           cached (fordblks), the cache does fill up to near N, and what falls out is unmapped;
 *   ttl MS  HAKMEM_BIGCACHE_TTL_MS=MS: entries older than MS are unmapped by the next large
 *           alloc/free (fordblks drops, fsmblks grows), and not before;
 *   off     HAKMEM_BIGCACHE_MAX_MB=0: nothing is cached, every freed block is unmapped;
 *   purge MS  HAKMEM_SLAB_PURGE_MS=MS: cached mappings give their pages back after MS (checked
 *           by the next large request) and stay cached; a hit on one reads as zero;
 *   grow     a request of 8 MiB or more with only a smaller mapping cached grows that one (a
 *           hit) instead of mapping anew; the block is whole and writable;
 *   full 0|1 HAKMEM_BIGCACHE_MAX_MB=16 or 64: three 3 MiB mappings cached (10.5 MiB), then a
 *           6 MiB request, below 8 MiB, that none of them fits: past half the bound (1) the
 *           largest smaller one is grown for it (a hit), under half (0) it is a miss. */
#include "tiers.h"

#define NBLK 48

static void *blk[NBLK];

static size_t size_of(unsigned i)
{
  return 1100 * KiB + (size_t)(i % 12) * 160 * KiB; /* past the L2.5 tier: 1.07 .. 2.8 MiB */
}

static int alloc_all(void)
{
  for (unsigned i = 0; i < NBLK; i++) {
    blk[i] = malloc(size_of(i));
    if (!blk[i]) return 0;
    touch(blk[i], size_of(i), (unsigned char)i);
  }
  return 1;
}

static void test_max(size_t max_mb)
{
  size_t limit = max_mb * MiB, worst = 0, total = 0;
  ok(alloc_all(), "%d large blocks allocated", NBLK);
  struct mallinfo2 m0 = mallinfo2();
  for (unsigned i = 0; i < NBLK; i++) {
    free(blk[i]);
    total += size_of(i);
    size_t c = mallinfo2().fordblks;
    if (c > worst) worst = c;
  }
  struct mallinfo2 m1 = mallinfo2();
  diag("freed %.1f MiB; cached at most %.2f MiB, now %.2f MiB; unmapped %zu regions", mib(total),
       mib(worst), mib(m1.fordblks), m1.fsmblks - m0.fsmblks);
  ok(worst <= limit, "fordblks stayed <= %zu MiB while freeing (max %zu bytes)", max_mb, worst);
  ok(worst >= limit / 2, "the cache filled to at least half its bound (%zu bytes)", worst);
  ok(m1.fsmblks - m0.fsmblks >= NBLK / 2, "blocks past the bound were unmapped (fsmblks +%zu)",
     m1.fsmblks - m0.fsmblks);
  ok(m1.hblkhd >= m1.fordblks, "hblkhd counts the BigCache bytes (%zu >= %zu)", m1.hblkhd,
     m1.fordblks);
}

static void test_ttl(unsigned ttl_ms)
{
  ok(alloc_all(), "%d large blocks allocated", NBLK);
  for (unsigned i = 0; i < NBLK; i++) free(blk[i]);
  struct mallinfo2 m0 = mallinfo2();
  /* Well inside the TTL, one more alloc/free evicts nothing of age. */
  void *p = malloc(5 * MiB);
  free(p);
  struct mallinfo2 m1 = mallinfo2();
  sleep_ms(ttl_ms * 2 + 100);
  struct mallinfo2 m2 = mallinfo2();
  p = malloc(3 * MiB); /* another bucket: a miss that checks ages */
  free(p);
  struct mallinfo2 m3 = mallinfo2();
  diag("cached %.2f MiB after the frees, %.2f MiB after a fresh alloc/free, %.2f MiB after "
       "sleeping, %.2f MiB after one more alloc/free; fsmblks %zu %zu %zu %zu", mib(m0.fordblks),
       mib(m1.fordblks), mib(m2.fordblks), mib(m3.fordblks), m0.fsmblks, m1.fsmblks, m2.fsmblks,
       m3.fsmblks);
  ok(m0.fordblks >= 8 * MiB, "freed blocks are cached (%zu bytes)", m0.fordblks);
  ok(m1.fordblks >= m0.fordblks, "nothing expired before the TTL (%zu -> %zu)", m0.fordblks,
     m1.fordblks);
  ok(m2.fordblks == m1.fordblks, "sleeping alone changes nothing (checked on alloc/free)");
  ok(m3.fordblks <= 4 * MiB, "after the TTL one alloc/free evicted the old entries (%zu bytes left)",
     m3.fordblks);
  ok(m3.fsmblks - m2.fsmblks >= NBLK / 2, "the evicted mappings were unmapped (fsmblks +%zu)",
     m3.fsmblks - m2.fsmblks);
}

static void test_off(void)
{
  struct mallinfo2 m0 = mallinfo2();
  size_t worst = 0;
  for (unsigned r = 0; r < 3; r++) {
    ok(alloc_all(), "round %u: %d large blocks allocated", r, NBLK);
    for (unsigned i = 0; i < NBLK; i++) {
      free(blk[i]);
      size_t c = mallinfo2().fordblks;
      if (c > worst) worst = c;
    }
  }
  struct mallinfo2 m1 = mallinfo2();
  ok(worst == 0, "nothing was ever cached (max fordblks %zu)", worst);
  ok(m1.keepcost == m0.keepcost, "no BigCache hit (keepcost %zu -> %zu)", m0.keepcost, m1.keepcost);
  ok(m1.fsmblks - m0.fsmblks >= 3 * NBLK, "every freed block was unmapped (fsmblks +%zu of %d)",
     m1.fsmblks - m0.fsmblks, 3 * NBLK);
}

#define NPG 8
#define PGSIZE (2 * MiB)

/* NPG blocks of 2 MiB written through and freed into the cache; returns the RSS before. */
static size_t cache_written(void)
{
  void *v[NPG];
  for (unsigned i = 0; i < NPG; i++) {
    if (!(v[i] = malloc(PGSIZE))) bail_out("malloc of 2 MiB failed");
    memset(v[i], (int)i + 1, PGSIZE);
  }
  size_t r = rss_bytes();
  for (unsigned i = 0; i < NPG; i++) free(v[i]);
  return r;
}

static void test_purge(unsigned delay_ms)
{
  size_t r0 = cache_written(), r1 = rss_bytes(), freed = NPG * PGSIZE;
  struct mallinfo2 m1 = mallinfo2();
  sleep_ms(delay_ms * 2 + 200);
  size_t r2 = rss_bytes();
  free(malloc(3 * MiB)); /* a large request: the time bounds are checked */
  size_t r3 = rss_bytes();
  struct mallinfo2 m3 = mallinfo2();
  diag("RSS %.1f MiB written, %.1f after the frees, %.1f after %u ms, %.1f after one more "
       "request; cached %.1f then %.1f MiB", mib(r0), mib(r1), mib(r2), delay_ms * 2 + 200,
       mib(r3), mib(m1.fordblks), mib(m3.fordblks));
  check_purge_delay(r0, r1, r2, r3, freed, "cached blocks");
  ok(m3.fordblks >= m1.fordblks, "and stayed cached, address space kept (%zu -> %zu bytes)",
     m1.fordblks, m3.fordblks);
  unsigned char *p = calloc(1, PGSIZE);
  struct mallinfo2 m4 = mallinfo2();
  size_t nonzero = 0;
  for (size_t i = 0; p && i < PGSIZE; i++) nonzero += p[i] != 0;
  ok(p && m4.keepcost > m3.keepcost && nonzero == 0, "calloc of a purged cached block is a "
     "BigCache hit that reads as zero (%zu bytes not)", nonzero);
  free(p);
}

static void test_grow(void)
{
  unsigned char *p = malloc(9 * MiB);
  if (!p) bail_out("malloc of 9 MiB failed");
  memset(p, 1, 9 * MiB);
  free(p);
  struct mallinfo2 m0 = mallinfo2();
  unsigned char *q = malloc(12 * MiB);
  struct mallinfo2 m1 = mallinfo2();
  ok(q && m1.keepcost == m0.keepcost + 1, "malloc(12 MiB) took the cached 9 MiB mapping "
     "(BigCache hits %zu -> %zu)", m0.keepcost, m1.keepcost);
  ok(q && malloc_usable_size(q) >= 12 * MiB && m1.fordblks < m0.fordblks,
     "grown to hold 12 MiB (usable %zu), and out of the cache", q ? malloc_usable_size(q) : 0);
  if (q) memset(q, 2, 12 * MiB);
  size_t bad = 0;
  for (size_t i = 0; q && i < 12 * MiB; i += 4096) bad += q[i] != 2;
  ok(q && bad == 0, "every page of it is written and read back (%zu not)", bad);
  free(q);
}

static void test_full(int past_half)
{
  unsigned char *v[3];
  for (unsigned i = 0; i < 3; i++) {
    if (!(v[i] = malloc(3 * MiB))) bail_out("malloc of 3 MiB failed");
    memset(v[i], (int)i + 1, 3 * MiB);
  }
  for (unsigned i = 0; i < 3; i++) free(v[i]);
  struct mallinfo2 m0 = mallinfo2();
  unsigned char *q = malloc(6 * MiB);
  struct mallinfo2 m1 = mallinfo2();
  diag("cached %.1f MiB, then %.1f; BigCache hits %zu -> %zu", mib(m0.fordblks),
       mib(m1.fordblks), m0.keepcost, m1.keepcost);
  if (past_half) {
    ok(q && m1.keepcost == m0.keepcost + 1 && m1.fordblks < m0.fordblks,
       "past half its bound, the cache grew a 3 MiB mapping for malloc(6 MiB)");
    ok(q && malloc_usable_size(q) >= 6 * MiB, "and it holds 6 MiB (usable %zu)",
       q ? malloc_usable_size(q) : 0);
  } else {
    ok(q && m1.keepcost == m0.keepcost && m1.fordblks == m0.fordblks,
       "under half its bound, malloc(6 MiB) left the three 3 MiB mappings cached");
    ok(q && malloc_usable_size(q) >= 6 * MiB, "and mapped its own (usable %zu)",
       q ? malloc_usable_size(q) : 0);
  }
  if (q) memset(q, 7, 6 * MiB);
  size_t bad = 0;
  for (size_t i = 0; q && i < 6 * MiB; i += 4096) bad += q[i] != 7;
  ok(q && bad == 0, "every page of it is written and read back (%zu not)", bad);
  free(q);
}

int main(int argc, char **argv)
{
  watchdog(60);
  if (argc > 2 && !strcmp(argv[1], "max")) {
    plan(5);
    test_max((size_t)atoi(argv[2]));
  } else if (argc > 2 && !strcmp(argv[1], "ttl")) {
    plan(6);
    test_ttl((unsigned)atoi(argv[2]));
  } else if (argc > 1 && !strcmp(argv[1], "off")) {
    plan(6);
    test_off();
  } else if (argc > 1 && !strcmp(argv[1], "grow")) {
    plan(3);
    test_grow();
  } else if (argc > 2 && !strcmp(argv[1], "full")) {
    plan(3);
    test_full(atoi(argv[2]));
  } else if (argc > 2 && !strcmp(argv[1], "purge")) {
    plan(4);
    test_purge((unsigned)atoi(argv[2]));

  } else {
    bail_out("usage: tiers_bigcache max MB | ttl MS | off | purge MS | grow | full 0|1");
  }
  return exit_status();
}
