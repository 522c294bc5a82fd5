/* Memory goes back to the OS: ~1 GiB in tiny, mid and large blocks (every page touched) is
 * allocated and freed, then either
 *   trim  malloc_trim(0) is called, or
 *   idle  the program sleeps past every delay and TTL (the wrapper sets them short: SuperSlab
 *         TTL 1 s, BigCache TTL 300 ms, slab purge 300 ms) and then does a little allocation
 *         in each tier, which is when hakmem checks its ages; twice, so that what the first
 *         round empties has aged too (the second round's own blocks, ~3 MiB, stay);
 * and the resident set (statm) must be back within max(10% of the baseline, 4 MiB) of what it
 * was before the burst.
 *
 * Why 4 MiB: before the burst the process already holds its heap, the pointer arrays (touched
 * up front) and the region map, so what hakmem may legitimately keep afterwards is its
 * bookkeeping - a few pages - and in idle mode the small working set of the last activity
 * (measured: about 3 MiB); a thread's current slab per class is not excused.  4 MiB is 0.4% of the burst: a leak of one block in 250, or
 * any cache that ignores its bounds, fails; page-table pages are not in RSS.  Under an emulator
 * its own translated code grows RSS, so 32 MiB more is allowed there. */
#include "tiers.h"

#define TARGET ((size_t)1 << 30)
#define MAXBLK 320000

static unsigned char *blk[MAXBLK];
static size_t len[MAXBLK];

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Tiny 12%, mid 38%, large 50% of the bytes. */
static size_t pick(void)
{
  uint64_t r = next();
  unsigned c = (unsigned)(r % 10000);
  r >>= 14;
  if (c < 9502) return 16 + (size_t)(r % 1009);           /* tiny: most blocks, few bytes */
  if (c < 9995) return 1025 + (size_t)(r % (63 * KiB + 511)); /* mid */
  return 65 * KiB + (size_t)(r % (8 * MiB));             /* large: 65 KiB .. 8 MiB */
}

static void little_activity(void)
{
  static void *p[600];
  for (unsigned r = 0; r < 3; r++) {
    void *big = malloc(300 * KiB + r);
    touch(big, 300 * KiB, 1);
    free(big);
    for (unsigned i = 0; i < 600; i++) p[i] = malloc(256);
    for (unsigned i = 0; i < 600; i++) free(p[i]);
    for (unsigned i = 0; i < 200; i++) p[i] = malloc(8 * KiB);
    for (unsigned i = 0; i < 200; i++) free(p[i]);
  }
}

int main(int argc, char **argv)
{
  int idle = argc > 1 && !strcmp(argv[1], "idle");
  if (argc < 2 || (!idle && strcmp(argv[1], "trim"))) bail_out("usage: tiers_return trim|idle");
  plan(4);
  watchdog(120);
  memset(blk, 0, sizeof blk); /* the arrays are resident before the baseline */
  memset(len, 0, sizeof len);
  free(malloc(16));
  size_t base = rss_bytes();

  size_t total = 0, n = 0;
  while (total < TARGET && n < MAXBLK) {
    size_t s = pick();
    blk[n] = malloc(s);
    if (!blk[n]) break;
    touch(blk[n], s, (unsigned char)n);
    len[n++] = s;
    total += s;
  }
  ok(total >= TARGET, "allocated %.0f MiB in %zu blocks", mib(total), n);
  size_t peak = rss_bytes();
  struct mallinfo2 mp = mallinfo2();
  ok(peak >= base + TARGET * 9 / 10, "the burst was resident (RSS %.1f -> %.1f MiB)", mib(base),
     mib(peak));

  int bad = 0;
  for (size_t j = 0; j < n; j++) { /* a scrambled order: 7919 is prime, n is not a multiple */
    size_t i = (j * 7919) % n;
    bad += blk[i][len[i] - 1] != (unsigned char)i;
    free(blk[i]);
  }
  ok(bad == 0, "every block kept its last byte (%d bad)", bad);
  size_t freed = rss_bytes();
  if (idle) {
    /* Twice: what the first round's activity empties enters the caches then, and must age too. */
    for (unsigned k = 0; k < 2; k++) {
      sleep_ms(1600);
      little_activity();
    }
  } else {
    malloc_trim(0);
  }
  size_t after = rss_bytes();
  struct mallinfo2 m = mallinfo2();
  size_t slack = HAK_TIERS_MAX(base / 10, 4 * MiB) + (emulated() ? 32 * MiB : 0);
  diag("RSS MiB: baseline %.1f, peak %.1f, freed %.1f, after %s %.1f; mapped at peak %.1f, "
       "after %.1f; cached %zu SuperSlabs, %.1f MiB BigCache", mib(base), mib(peak), mib(freed),
       idle ? "idling" : "malloc_trim", mib(after), mib(mp.arena), mib(m.arena), m.ordblks,
       mib(m.fordblks));
  ok(after <= base + slack, "RSS back within %.1f MiB of the baseline after %s (+%.1f MiB)",
     mib(slack), idle ? "idling past the TTLs" : "malloc_trim", after > base ? mib(after - base) : 0.0);
  return exit_status();
}
