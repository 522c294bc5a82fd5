/* realloc keeps the contents of a block while it grows from 1 byte to 8 MiB through every size
 * class and tier (tiny <= 1 KiB, mid <= 64 KiB, large above) and while it shrinks back. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define MAX_SIZE ((size_t)8 << 20)

static unsigned char byte_at(size_t i)
{
  return (unsigned char)(i * 131 + (i >> 8) * 7 + 1);
}

static void fill(unsigned char *p, size_t from, size_t to)
{
  for (size_t i = from; i < to; i++) p[i] = byte_at(i);
}

/* Index of the first byte that differs, or n. */
static size_t check(const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != byte_at(i)) return i;
  return n;
}

/* The next size: every size up to 64, then about eight steps per doubling, so that every class
 * boundary (and the tier boundaries +-1) is crossed. */
static size_t next_size(size_t n)
{
  if (n < 64) return n + 1;
  size_t step = n / 8 > 16 ? n / 8 : 16;
  return n + step + (n & 1 ? 0 : 1); /* odd and even sizes alternate */
}

int main(void)
{
  plan(8);
  watchdog(60);
  static const size_t edges[] = {1024, 1025, 65536, 65537};
  size_t steps = 0, bad_at = 0, bad_byte = 0;
  int good = 1, usable = 1;
  unsigned char *p = malloc(1);
  size_t n = 1;
  fill(p, 0, 1);
  /* Up, through every step and the tier edges. */
  for (;;) {
    size_t m = next_size(n);
    for (size_t e = 0; e < 4; e++)
      if (edges[e] > n && edges[e] < m) m = edges[e];
    if (m > MAX_SIZE) m = MAX_SIZE;
    unsigned char *q = realloc(p, m);
    if (!q) bail_out("realloc failed while growing");
    p = q;
    size_t at = check(p, n);
    if (good && at != n) good = 0, bad_at = m, bad_byte = at;
    usable &= malloc_usable_size(p) >= m;
    fill(p, n, m);
    n = m;
    steps++;
    if (n == MAX_SIZE) break;
  }
  ok(good, "growing 1 byte -> 8 MiB in %zu steps keeps the contents", steps);
  if (!good) diag("first difference after realloc to %zu bytes: byte %zu", bad_at, bad_byte);
  ok(usable, "malloc_usable_size >= the requested size at every step up");
  ok(check(p, n) == n, "all 8 MiB hold the pattern at the top");

  /* Down: the first m bytes must survive every shrink. */
  good = 1, usable = 1, steps = 0;
  while (n > 1) {
    size_t m = n > 64 ? n - n / 9 - 3 : n - 1;
    for (size_t e = 0; e < 4; e++)
      if (edges[e] < n && edges[e] > m) m = edges[e];
    unsigned char *q = realloc(p, m);
    if (!q) bail_out("realloc failed while shrinking");
    p = q;
    size_t at = check(p, m);
    if (good && at != m) good = 0, bad_at = m, bad_byte = at;
    usable &= malloc_usable_size(p) >= m;
    n = m;
    steps++;
  }
  ok(good, "shrinking 8 MiB -> 1 byte in %zu steps keeps the contents", steps);
  if (!good) diag("first difference after realloc to %zu bytes: byte %zu", bad_at, bad_byte);
  ok(usable, "malloc_usable_size >= the requested size at every step down");
  free(p);

  /* Jumps across tiers in one call, both ways. */
  static const size_t jumps[][2] = {{10, 5u << 20}, {5u << 20, 10}, {1000, 60000},
                                    {60000, 1000}, {70000, 3u << 20}, {3u << 20, 70000}};
  good = 1;
  for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
    size_t a = jumps[j][0], b = jumps[j][1];
    p = malloc(a);
    fill(p, 0, a);
    p = realloc(p, b);
    good &= p && check(p, a < b ? a : b) == (a < b ? a : b);
    free(p);
  }
  ok(good, "realloc jumping straight between tiers keeps the contents");

  /* A large block regrown many times (moves by remapping pages). */
  p = malloc(100000);
  fill(p, 0, 100000);
  n = 100000;
  good = 1;
  for (int i = 0; i < 40; i++) {
    size_t m = i % 3 == 2 ? n - 50000 : n + 200000;
    p = realloc(p, m);
    if (!p) bail_out("realloc of a large block failed");
    good &= check(p, m < n ? m : n) == (m < n ? m : n);
    if (m > n) fill(p, n, m);
    n = m;
  }
  ok(good, "a large block grown and shrunk 40 times keeps its contents");
  /* Other blocks are not disturbed by the remapping. */
  unsigned char *other = malloc(3u << 20);
  memset(other, 0x77, 3u << 20);
  p = realloc(p, n + (4u << 20));
  int intact = 1;
  for (size_t i = 0; i < (3u << 20); i++) intact &= other[i] == 0x77;
  ok(p && intact && check(p, n) == n, "growing one large block leaves another intact");
  free(p);
  free(other);
  return exit_status();
}
