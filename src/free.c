/* The dispatcher by region kind for free, malloc_usable_size and realloc (free.h). */
#include "free.h"
#include "internal.h"
#include "large.h"
#include "small.h"

/* The region p lies in, if it is one of ours: a SuperSlab of small blocks or a large block's
 * mapping, as its header says.  NULL for anything else (a huge-aligned block is not in the map). */
static hak_ss_t *region_of(const void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  return hak_region_ours(ss) && ss->magic == HAK_SS_MAGIC ? ss : NULL;
}

/* The slab of a small block, if p is one its slab has handed out. */
static hak_slab_t *small_live(hak_ss_t *ss, const void *p)
{
  hak_slab_t *s = hak_slab_of(ss, p);
  return s->state == HAK_SLAB_ACTIVE && hak_slab_block_ok(s, p) ? s : NULL;
}

hak_block_t hak_block_find(const void *p)
{
  hak_block_t b = {HAK_BLOCK_INVALID, NULL, 0};
  hak_ss_t *ss = region_of(p);
  if (!ss) { /* a huge-aligned block lies in no region */
    if (!hak_region_ours(hak_ss_of(p)) && (b.usable = hak_huge_usable(p)) != 0)
      b.kind = HAK_BLOCK_HUGE;
    return b;
  }
  b.ss = ss;
  if (ss->kind == HAK_SS_LARGE) {
    if ((b.usable = hak_large_usable(ss, p)) != 0) b.kind = HAK_BLOCK_LARGE;
  } else {
    hak_slab_t *s = small_live(ss, p);
    if (s && ((const uintptr_t *)p)[1] != hak_free_tag(p)) { /* not free */
      b.kind = HAK_BLOCK_SMALL;
      b.usable = s->bsize;
    }
  }
  return b;
}

hak_block_t hak_block_or_die(const void *p, const char *who)
{
  hak_block_t b = hak_block_find(p);
  if (b.kind == HAK_BLOCK_INVALID) hak_fatal("hakmem: %s(): invalid pointer %p", who, p);
  return b;
}

_Noreturn static void report(const char *what, const void *p)
{
  hak_fatal("hakmem: free(): %s %p", what, p);
}

/* The fast path has found p outside the region map, at no block boundary of a small slab, or
 * carrying the free tag of its address. */
void hak_free_slow(void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (!hak_region_ours(ss)) {
    if (!hak_huge_free(p)) report("invalid pointer", p);
    return;
  }
  if (ss->magic != HAK_SS_MAGIC) report("invalid pointer", p);
  if (ss->kind == HAK_SS_LARGE) {
    if (!hak_large_free(ss, p)) report("invalid pointer", p);
    return;
  }
  if (!small_live(ss, p)) report("invalid pointer", p);
  report("double free detected for", p);
}
