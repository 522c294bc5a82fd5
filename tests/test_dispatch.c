/* free, realloc and malloc_usable_size on a block of each region kind (src/free.c): a tiny and
 * a mid block (small classes), an L2.5 block (a run of a span region), a large block (a mapping
 * of its own with a header) and a huge-aligned block (a plain aligned mapping).  Each must report a usable size that holds the
 * request, keep its bytes through realloc within its kind and into every other kind, and free.
 * The misuse of each kind is in test_misuse. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

enum { TINY, MID, SPAN, LARGE, HUGE, NKINDS };
static const char *const kind_name[NKINDS] = {"tiny", "mid", "L2.5", "large", "huge-aligned"};
static const size_t kind_size[NKINDS] = {40, 5000, 300000, (size_t)3 << 20, 100};
#define HUGE_ALIGN ((size_t)4 << 20)

static void *get(int kind)
{
  if (kind != HUGE) return malloc(kind_size[kind]);
  void *p = NULL;
  return posix_memalign(&p, HUGE_ALIGN, kind_size[kind]) == 0 ? p : NULL;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

int main(void)
{
  plan(3 * NKINDS + NKINDS * NKINDS);
  for (int k = 0; k < NKINDS; k++) {
    unsigned char *p = get(k);
    size_t n = kind_size[k];
    ok(p && malloc_usable_size(p) >= n, "%s block: malloc_usable_size %zu holds the %zu asked",
       kind_name[k], p ? malloc_usable_size(p) : 0, n);
    size_t align = k == HUGE ? HUGE_ALIGN : 16;
    ok(((uintptr_t)p & (align - 1)) == 0, "%s block: aligned to %zu", kind_name[k], align);
    if (p) fill(p, n, (unsigned)k);
    /* Grown within its kind (the L2.5 and large blocks in place if they can, the large one
     * else by moving its pages). */
    size_t grown = k == TINY ? 100 : k == MID ? 9000 : k == SPAN ? 900000 : k == LARGE ? 5u << 20 : 5000;
    unsigned char *q = p ? realloc(p, grown) : NULL;
    ok(q && same(q, n, (unsigned)k) && malloc_usable_size(q) >= grown,
       "%s block: realloc to %zu keeps its bytes", kind_name[k], grown);
    free(q);
  }
  /* Into every other kind: realloc to that kind's size (an aligned block cannot be asked for
   * through realloc, so the huge-aligned target is a large size). */
  for (int from = 0; from < NKINDS; from++) {
    for (int to = 0; to < NKINDS; to++) {
      unsigned char *p = get(from);
      size_t n = kind_size[from], m = to == HUGE ? (size_t)5 << 20 : kind_size[to];
      if (p) fill(p, n, (unsigned)(from * 5 + to));
      unsigned char *q = p ? realloc(p, m) : NULL;
      size_t kept = n < m ? n : m;
      ok(q && same(q, kept, (unsigned)(from * 5 + to)) && malloc_usable_size(q) >= m,
         "realloc from a %s block to %zu bytes keeps the first %zu", kind_name[from], m, kept);
      free(q);
    }
  }
  return exit_status();
}
