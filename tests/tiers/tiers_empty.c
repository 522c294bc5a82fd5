/* Test k: HAKMEM_EMPTY_MAX_MB bounds the empty memory that keeps its pages.  One thread
 * allocates a 64 MiB burst of small blocks (every page written), frees it all, and calls
 * nothing more.  empty.sh runs this with purge delays and cache bounds far beyond the run, so
 * that only the bound can give pages back: with the bound at 8 MiB, RSS right after the last
 * free is within 8 MiB (and the thread's own current slabs) of where it started; with the
 * bound at 1 GiB it stays up, which shows the bound is what did it.  The expected outcome is
 * the first argument: "bounded" or "kept". */
#include "tiers.h"

#define BURST (64 * MiB)

int main(int argc, char **argv)
{
  int bounded = argc > 1 && strcmp(argv[1], "bounded") == 0;
  plan(2);
  if (emulated()) {
    ok(1, "# SKIP under an emulator RSS is the emulator's, not the program's");
    ok(1, "# SKIP the same");
    return exit_status();
  }
  static void *v[BURST / 512];
  size_t n = 0, total = 0;
  void *warm = malloc(64); /* the heap exists before the baseline is taken */
  size_t base = rss_bytes();
  for (unsigned x = 1; total < BURST && n < sizeof v / sizeof v[0]; n++) {
    x = x * 1103515245u + 12345u;
    size_t size = 512 + (x >> 8) % 3584; /* 512 B .. 4 KiB: tiny and mid classes */
    v[n] = malloc(size);
    if (!v[n]) break;
    touch(v[n], size, 1);
    total += size;
  }
  size_t peak = rss_bytes();
  ok(peak >= base + BURST / 2, "the burst made %.1f MiB resident", mib(peak - base));
  for (size_t i = 0; i < n; i++) free(v[i]);
  size_t after = rss_bytes(), above = after > base ? after - base : 0;
  size_t limit = 8 * MiB + 4 * MiB; /* the bound, and slack for the current slabs */
  if (bounded)
    ok(above <= limit, "with HAKMEM_EMPTY_MAX_MB=8, right after the last free %.1f MiB above the"
       " start (at most %.1f)", mib(above), mib(limit));
  else
    ok(above > 4 * limit, "with HAKMEM_EMPTY_MAX_MB=1024, right after the last free %.1f MiB"
       " stay resident", mib(above));
  free(warm);
  return exit_status();
}
