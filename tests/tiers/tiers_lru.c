/* The LRU cache of empty SuperSlabs honours its bounds, one per mode (the wrapper sets them):
 *   count N  HAKMEM_SUPERSLAB_MAX_CACHED=N: after ~14 SuperSlabs of small blocks are freed,
 *            N stay cached with their pages (ordblks), and the rest gave every page back and
 *            stay as address space (uordblks): the resident memory drops by their size;
 *   bytes M  HAKMEM_SUPERSLAB_MAX_MEMORY_MB=M (count bound high): M/4 to M/2 MiB of
 *            SuperSlabs stay cached, with or without pages (past the bound the cache goes
 *            down to half of it at once), and the rest are unmapped;
 *   age S    HAKMEM_SUPERSLAB_TTL_SEC=S (other bounds high, or none kept with pages): all
 *            stay cached at first; after sleeping past S, allocator activity that needs a
 *            SuperSlab unmaps the old ones, with their pages or without;
 *   ring     HAKMEM_SUPERSLAB_MAX_CACHED=0 (the other purges held off): regions of L2.5 blocks written full of a pattern
 *            and freed stay as address space only; calloc of the same blocks takes them back
 *            (no new mapping) and reads zero;
 *   space    the same, then RLIMIT_AS set just above what is mapped: a request that fits only
 *            once the cached address space is given up still succeeds. */
#include <errno.h>
#include <sys/resource.h>

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
  size_t mapped = m1.smblks - m0.smblks;
  size_t emptied = after->ordblks + after->uordblks + (after->fsmblks - m1.fsmblks);
  diag("%zu SuperSlabs mapped for %d blocks; after the frees %zu cached with their pages, "
       "%zu without, %zu unmapped", mapped, NBLK, after->ordblks, after->uordblks,
       after->fsmblks - m1.fsmblks);
  ok(mapped >= NSS - 1 && emptied + 2 >= mapped,
     "freeing every block emptied the SuperSlabs (%zu of %zu)", emptied, mapped);
  return emptied;
}

static void test_count(size_t n)
{
  long before = (long)(rss_bytes() / 1024);
  struct mallinfo2 m;
  size_t emptied = fill_and_free(&m);
  long after = (long)(rss_bytes() / 1024);
  ok(emptied > n, "more SuperSlabs emptied (%zu) than the cache may keep (%zu)", emptied, n);
  ok(m.ordblks == n, "HAKMEM_SUPERSLAB_MAX_CACHED SuperSlabs keep their pages (ordblks %zu, "
     "bound %zu)", m.ordblks, n);
  ok(m.hblkhd == (m.ordblks + m.uordblks) * SS_SIZE,
     "hblkhd is the cached SuperSlabs' bytes, with their pages or without (%zu)", m.hblkhd);
  /* the ones past the bound hold no page, their headers' neither: at most the bound's 2 MiB
   * each stay above the RSS from before the blocks were made, and 4 MiB of slack (the block
   * array, the heap's own slabs); all 14 kept with their pages would be 28 MiB */
  diag("RSS %ld KiB before the blocks, %ld after the frees", before, after);
  if (emulated())
    skip(1, "under an emulator RSS is the emulator's, not the program's");
  else
    ok(after - before <= (long)(n + 2) * 2048, "the resident memory kept is at most the "
       "bound's (%ld KiB above the start, bound %zu SuperSlabs)", after - before, n);
}

static void test_bytes(size_t mb)
{
  struct mallinfo2 m;
  size_t emptied = fill_and_free(&m);
  size_t want = mb * MiB / SS_SIZE, cached = m.ordblks + m.uordblks;
  ok(emptied > want, "more SuperSlabs emptied (%zu) than fit in %zu MiB", emptied, mb);
  ok(cached <= want && cached >= want / 2, "%zu MiB / 4 MiB <= cached <= %zu MiB / 2 MiB "
     "(%zu, bound %zu)", mb, mb, cached, want);
  ok(m.hblkhd <= mb * MiB, "hblkhd <= %zu MiB (%zu)", mb, m.hblkhd);
}

static size_t cached(const struct mallinfo2 *m)
{
  return m->ordblks + m->uordblks;
}

static void test_age(unsigned sec)
{
  struct mallinfo2 m0;
  size_t emptied = fill_and_free(&m0);
  ok(cached(&m0) + 2 >= emptied && cached(&m0) >= 8, "within the TTL every empty SuperSlab "
     "stays cached (%zu of %zu, %zu of them without pages)", cached(&m0), emptied, m0.uordblks);
  sleep_ms(sec * 1000 + 600);
  struct mallinfo2 m1 = mallinfo2();
  ok(cached(&m1) == cached(&m0), "ages are checked only when the cache is used (%zu)",
     cached(&m1));
  /* Activity: blocks of 32 KiB live in 512 KiB slabs, a SuperSlab of the other kind, which
   * comes from the cache. */
  void *p[64];
  for (unsigned i = 0; i < 64; i++) p[i] = malloc(32 * KiB);
  for (unsigned i = 0; i < 64; i++) free(p[i]);
  struct mallinfo2 m2 = mallinfo2();
  diag("cached %zu after the frees, %zu after sleeping, %zu after activity; fsmblks +%zu",
       cached(&m0), cached(&m1), cached(&m2), m2.fsmblks - m1.fsmblks);
  ok(cached(&m2) <= 1, "after the TTL, activity emptied the cache (%zu cached)", cached(&m2));
  ok(m2.fsmblks - m1.fsmblks + 1 >= cached(&m1), "the expired SuperSlabs were unmapped "
     "(fsmblks +%zu)", m2.fsmblks - m1.fsmblks);
}

#define SPAN_BLOCK (256 * KiB)
#define SPAN_N 256 /* 64 MiB */
static unsigned char *sblk[SPAN_N];

/* Writes 0xab on every page of SPAN_N L2.5 blocks and frees them; returns the SuperSlabs cached as address
 * space after. */
static size_t fill_ring(void)
{
  for (unsigned i = 0; i < SPAN_N; i++) {
    if (!(sblk[i] = malloc(SPAN_BLOCK))) bail_out("malloc failed");
    touch(sblk[i], SPAN_BLOCK, 0xab); /* volatile: no store the compiler may drop */
  }
  for (unsigned i = 0; i < SPAN_N; i++) free(sblk[i]);
  struct mallinfo2 m = mallinfo2();
  diag("after the frees: %zu SuperSlabs cached with their pages, %zu without", m.ordblks,
       m.uordblks);
  return m.uordblks;
}

static void test_ring(void)
{
  size_t ring = fill_ring();
  ok(ring >= 16, "the emptied regions stay as address space (%zu)", ring);
  struct mallinfo2 m0 = mallinfo2();
  size_t nonzero = 0;
  for (unsigned i = 0; i < SPAN_N; i++) {
    if (!(sblk[i] = calloc(1, SPAN_BLOCK))) bail_out("calloc failed");
    for (size_t j = 0; j < SPAN_BLOCK; j += 64) nonzero += sblk[i][j] != 0;
    nonzero += sblk[i][SPAN_BLOCK - 1] != 0;
  }
  struct mallinfo2 m1 = mallinfo2();
  diag("calloc again: %zu regions mapped, %zu cached without pages (were %zu)",
       m1.smblks - m0.smblks, m1.uordblks, m0.uordblks);
  ok(m1.smblks - m0.smblks <= 1 && m1.uordblks + 16 <= m0.uordblks,
     "calloc took the cached regions back (%zu newly mapped)", m1.smblks - m0.smblks);
  ok(nonzero == 0, "every calloc'd byte read in them is zero (%zu not)", nonzero);
  for (unsigned i = 0; i < SPAN_N; i++) free(sblk[i]);
}

static void test_space(void)
{
  if (emulated()) {
    skip(2, "under an emulator the address space is the emulator's");
    return;
  }
  size_t ring = fill_ring();
  long vm_kb = proc_field("/proc/self/status", "VmSize:", 0);
  if (vm_kb <= 0) bail_out("no VmSize");
  /* room for 48 MiB more: the 80 MiB request fits only once the 64 MiB cached are unmapped */
  struct rlimit rl = {(rlim_t)vm_kb * 1024 + 48 * MiB, (rlim_t)vm_kb * 1024 + 48 * MiB};
  if (setrlimit(RLIMIT_AS, &rl) != 0) bail_out("setrlimit");
  ok(ring * SS_SIZE >= 48 * MiB, "%zu MiB of address space cached without pages", ring * 2);
  void *p = malloc(80 * MiB);
  int e = errno;
  struct mallinfo2 m = mallinfo2();
  ok(p != NULL, "with RLIMIT_AS just above what is mapped, malloc(80 MiB) gave up the cached "
     "address space and succeeded (%s; %zu still cached)", p ? "ok" : strerror(e), m.uordblks);
  free(p);
}

int main(int argc, char **argv)
{
  watchdog(60);
  if (argc < 2 || (argc < 3 && strcmp(argv[1], "ring") && strcmp(argv[1], "space")))
    bail_out("usage: tiers_lru count N | bytes MB | age SEC | ring | space");
  size_t v = argc > 2 ? (size_t)atoi(argv[2]) : 0;
  if (!strcmp(argv[1], "count")) {
    plan(5);
    test_count(v);
  } else if (!strcmp(argv[1], "bytes")) {
    plan(4);
    test_bytes(v);
  } else if (!strcmp(argv[1], "age")) {
    plan(5);
    test_age((unsigned)v);
  } else if (!strcmp(argv[1], "ring")) {
    plan(3);
    test_ring();
  } else if (!strcmp(argv[1], "space")) {
    plan(2);
    test_space();
  } else {
    bail_out("unknown mode");
  }
  return exit_status();
}
