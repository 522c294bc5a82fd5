/* malloc_trim(0) after a big mixed burst is freed: it reports that it released memory (1),
 * leaves no SuperSlab in the LRU cache (ordblks 0) and nothing in the BigCache (fordblks 0,
 * hblkhd 0), and the resident set drops by at least what the caches held.  A second trim with
 * nothing left to give returns 0. */
#include "tiers.h"

#define NTINY 40000
#define NMID 1500
#define NLARGE 24

static void *tiny[NTINY], *mid[NMID], *large[NLARGE];

int main(void)
{
  plan(8);
  watchdog(60);
  size_t bytes = 0;
  for (unsigned i = 0; i < NTINY; i++) {
    size_t n = 16 + (i * 37u) % 1009;
    tiny[i] = malloc(n);
    touch(tiny[i], n, 1);
    bytes += n;
  }
  for (unsigned i = 0; i < NMID; i++) {
    size_t n = 1025 + (i * 7919u) % (63 * KiB);
    mid[i] = malloc(n);
    touch(mid[i], n, 2);
    bytes += n;
  }
  for (unsigned i = 0; i < NLARGE; i++) {
    size_t n = 65 * KiB + (size_t)i * 150 * KiB;
    large[i] = malloc(n);
    touch(large[i], n, 3);
    bytes += n;
  }
  size_t rss_full = rss_bytes();
  for (unsigned i = 0; i < NTINY; i++) free(tiny[i]);
  for (unsigned i = 0; i < NMID; i++) free(mid[i]);
  for (unsigned i = 0; i < NLARGE; i++) free(large[i]);
  struct mallinfo2 m0 = mallinfo2();
  size_t rss_freed = rss_bytes();
  int r = malloc_trim(0);
  struct mallinfo2 m1 = mallinfo2();
  size_t rss_trim = rss_bytes();
  int r2 = malloc_trim(0);
  diag("burst %.1f MiB: RSS %.1f MiB full, %.1f MiB freed, %.1f MiB trimmed; before trim "
       "ordblks %zu fordblks %.1f MiB hblkhd %.1f MiB arena %.1f MiB; after arena %.1f MiB",
       mib(bytes), mib(rss_full), mib(rss_freed), mib(rss_trim), m0.ordblks, mib(m0.fordblks),
       mib(m0.hblkhd), mib(m0.arena), mib(m1.arena));
  ok(m0.ordblks + m0.uordblks > 0 && m0.fordblks > 0, "before the trim both caches hold memory "
     "(%zu SuperSlabs, %zu of them without their pages, %zu BigCache bytes)",
     m0.ordblks + m0.uordblks, m0.uordblks, m0.fordblks);
  ok(r == 1, "malloc_trim(0) returns 1 (%d)", r);
  ok(m1.ordblks + m1.uordblks == 0, "no SuperSlab cached after the trim (ordblks %zu, uordblks "
     "%zu)", m1.ordblks, m1.uordblks);
  ok(m1.fordblks == 0, "no BigCache bytes after the trim (fordblks %zu)", m1.fordblks);
  ok(m1.hblkhd == 0, "no cached bytes at all (hblkhd %zu)", m1.hblkhd);
  ok(m1.arena + m0.hblkhd <= m0.arena, "bytes mapped fell by at least the cached bytes "
     "(%zu -> %zu)", m0.arena, m1.arena);
  /* the SuperSlabs cached without their pages hold no memory to drop */
  size_t resident = m0.hblkhd - m0.uordblks * SS_SIZE;
  ok(rss_trim + resident / 2 <= rss_freed, "RSS dropped by at least half the cached bytes that "
     "held pages (%.1f -> %.1f MiB, %.1f MiB cached with pages)", mib(rss_freed), mib(rss_trim),
     mib(resident));
  ok(r2 == 0, "a second malloc_trim(0) has nothing to release and returns 0 (%d)", r2);
  return exit_status();
}
