/* The block test of free's fast path (hak_slab_holds, small.h) against its definition: for
 * every size class, and carved counts from none to a full slab, a pointer passes exactly when
 * it lies on a block boundary among the carved blocks; none below the slab's start does, none
 * a region or 2^32 bytes away (hak_slab_block_ok, which checks links).  The class table's
 * constants are floor(2^64 / size) + 1.  Linked with the static library, whose hidden tables
 * and inline tests it reads. */
#include <stdint.h>

#include "small.h"
#include "tap.h"

/* 1 if the test disagrees with the definition for one of the offsets from..to (step) */
static int check_range(const hak_slab_t *s, uint64_t from, uint64_t to, uint64_t step,
                       uint32_t carved)
{
  for (uint64_t off = from; off < to; off += step) {
    const char *p = s->start + off;
    bool want = off < (uint64_t)carved * s->bsize && off % s->bsize == 0;
    if (hak_slab_holds(s, p) != want || hak_slab_block_ok(s, p) != want) {
      diag("size %u, %u carved: offset %llu reads %d", s->bsize, carved,
           (unsigned long long)off, !want);
      return 1;
    }
  }
  return 0;
}

static int check_below(const hak_slab_t *s, uint64_t to, uint64_t step, uint32_t carved)
{
  for (uint64_t back = 1; back <= to; back += step)
    if (hak_slab_holds(s, s->start - back) || hak_slab_block_ok(s, s->start - back)) {
      diag("size %u, %u carved: %llu bytes below start passes", s->bsize, carved,
           (unsigned long long)back);
      return 1;
    }
  return 0;
}

int main(void)
{
  plan(3 * HAK_NCLASSES);
  /* An address of a region: nothing is read through it. */
  char *region = (char *)(uintptr_t)((uint64_t)0x5a5a << HAK_SS_SHIFT);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    uint64_t d = hak_class_size[c], m = hak_class_magic[c];
    unsigned __int128 two64 = (unsigned __int128)1 << 64;
    ok(m == (uint64_t)(two64 / d) + 1, "class %u (%llu bytes): magic is floor(2^64 / size) + 1",
       c, (unsigned long long)d);
    size_t slab = (size_t)1 << hak_kind_slab_shift[hak_class_kind(c)];
    uint32_t cap = (uint32_t)(slab / d), counts[] = {0, 1, 2, cap / 2, cap - 1, cap};
    int bad = 0, far = 0;
    for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) {
      hak_slab_t s = {0};
      s.start = region + HAK_SS_HDR;
      s.bsize = (uint32_t)d;
      s.magic = m;
      s.limit = hak_slab_limit(&s, counts[k]); /* as mag_fill sets it */
      uint64_t span = (uint64_t)(cap + 2) * d;
      bad |= check_range(&s, 0, span, 1, counts[k]);
      bad |= check_range(&s, span, HAK_SS_SIZE, 61, counts[k]);
      bad |= check_below(&s, 1 << 16, 1, counts[k]);
      bad |= check_below(&s, HAK_SS_SIZE, 61, counts[k]);
      for (uint64_t i = 0; i < 4 && counts[k]; i++) { /* a block's offset, a region or 2^32 on */
        uint64_t at = i * d, away[] = {HAK_SS_SIZE, (uint64_t)1 << 32, ((uint64_t)1 << 32) - 16};
        for (unsigned j = 0; j < 3; j++) far |= hak_slab_block_ok(&s, s.start + at + away[j]);
      }
    }
    ok(!bad, "class %u: a pointer passes exactly at the carved blocks' starts", c);
    ok(!far, "class %u: a link a region or 2^32 bytes away fails", c);
  }
  return exit_status();
}
