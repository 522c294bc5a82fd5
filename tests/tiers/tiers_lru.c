/* The LRU cache of empty SuperSlabs honours its bounds, one per mode (the wrapper sets them):
 *   count N  HAKMEM_SUPERSLAB_MAX_CACHED=N: after ~14 SuperSlabs of small blocks are freed,
 *            at most N stay cached (ordblks), and at least N/2 (past a bound the cache goes
 *            down to half of it at once), and the rest are unmapped;
 *   bytes M  HAKMEM_SUPERSLAB_MAX_MEMORY_MB=M (count bound high): M/4 to M/2 SuperSlabs stay;
 *   age S    HAKMEM_SUPERSLAB_TTL_SEC=S (other bounds high): all stay cached at first; after
 *            sleeping past S, allocator activity that needs a SuperSlab unmaps the old ones. */
#include "tiers.h"

#define BSIZE 512
#define NSS 14
#define NBLK (NSS * (SS_SIZE / BSIZE))

static void *blk[NBLK];

/* Fills ~NSS SuperSlabs with small blocks and frees them all; returns how many SuperSlabs
 * became empty (now cached, or cached and unmapped). */
static size_t fill_and_free(struct mallinfo2 *after)
{
  struct mallinfo2 m0 = mallinfo2();
  for (size_t i = 0; i < NBLK; i++) {
    blk[i] = malloc(BSIZE);
    if (!blk[i]) bail_out("malloc failed");
    memset(blk[i], (int)i, 16);
  }
  struct mallinfo2 m1 = mallinfo2();
  for (size_t i = 0; i < NBLK; i++) free(blk[i]);
  *after = mallinfo2();
  size_t mapped = m1.smblks - m0.smblks, emptied = after->ordblks + (after->fsmblks - m1.fsmblks);
  diag("%zu SuperSlabs mapped for %d blocks; after the frees %zu cached, %zu unmapped", mapped,
       NBLK, after->ordblks, after->fsmblks - m1.fsmblks);
  ok(mapped >= NSS - 1 && emptied + 2 >= mapped,
     "freeing every block emptied the SuperSlabs (%zu of %zu)", emptied, mapped);
  return emptied;
}

static void test_count(size_t n)
{
  struct mallinfo2 m;
  size_t emptied = fill_and_free(&m);
  ok(emptied > n, "more SuperSlabs emptied (%zu) than the cache may keep (%zu)", emptied, n);
  ok(m.ordblks <= n && m.ordblks >= n / 2, "HAKMEM_SUPERSLAB_MAX_CACHED / 2 <= ordblks <= "
     "HAKMEM_SUPERSLAB_MAX_CACHED (%zu, bound %zu)", m.ordblks, n);
  ok(m.hblkhd == m.ordblks * SS_SIZE, "hblkhd is the cached SuperSlabs' bytes (%zu)", m.hblkhd);
}

static void test_bytes(size_t mb)
{
  struct mallinfo2 m;
  size_t emptied = fill_and_free(&m);
  size_t want = mb * MiB / SS_SIZE;
  ok(emptied > want, "more SuperSlabs emptied (%zu) than fit in %zu MiB", emptied, mb);
  ok(m.ordblks <= want && m.ordblks >= want / 2, "%zu MiB / 4 MiB <= ordblks <= %zu MiB / 2 MiB "
     "(%zu, bound %zu)", mb, mb, m.ordblks, want);
  ok(m.hblkhd <= mb * MiB, "hblkhd <= %zu MiB (%zu)", mb, m.hblkhd);
}

static void test_age(unsigned sec)
{
  struct mallinfo2 m0;
  size_t emptied = fill_and_free(&m0);
  ok(m0.ordblks + 2 >= emptied && m0.ordblks >= 8, "within the TTL every empty SuperSlab stays "
     "cached (%zu of %zu)", m0.ordblks, emptied);
  sleep_ms(sec * 1000 + 600);
  struct mallinfo2 m1 = mallinfo2();
  ok(m1.ordblks == m0.ordblks, "ages are checked only when the cache is used (%zu)", m1.ordblks);
  /* Activity: blocks of 32 KiB live in 512 KiB slabs, a SuperSlab of the other kind, which
   * comes from the cache. */
  void *p[64];
  for (unsigned i = 0; i < 64; i++) p[i] = malloc(32 * KiB);
  for (unsigned i = 0; i < 64; i++) free(p[i]);
  struct mallinfo2 m2 = mallinfo2();
  diag("cached %zu after the frees, %zu after sleeping, %zu after activity; fsmblks +%zu",
       m0.ordblks, m1.ordblks, m2.ordblks, m2.fsmblks - m1.fsmblks);
  ok(m2.ordblks <= 1, "after the TTL, activity emptied the cache (ordblks %zu)", m2.ordblks);
  ok(m2.fsmblks - m1.fsmblks + 1 >= m1.ordblks, "the expired SuperSlabs were unmapped "
     "(fsmblks +%zu)", m2.fsmblks - m1.fsmblks);
}

int main(int argc, char **argv)
{
  watchdog(60);
  if (argc < 3) bail_out("usage: tiers_lru count N | bytes MB | age SEC");
  size_t v = (size_t)atoi(argv[2]);
  if (!strcmp(argv[1], "count")) {
    plan(4);
    test_count(v);
  } else if (!strcmp(argv[1], "bytes")) {
    plan(4);
    test_bytes(v);
  } else if (!strcmp(argv[1], "age")) {
    plan(5);
    test_age((unsigned)v);
  } else {
    bail_out("unknown mode");
  }
  return exit_status();
}
