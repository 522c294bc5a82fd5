/* The dispatcher by region kind for free, malloc_usable_size and realloc (free.h). */
#include "free.h"
#include "internal.h"
#include "large.h"
#include "small.h"
#include "span.h"

/* What the region map and the region's header say of p.  The one lookup that free's slow path,
 * malloc_usable_size and realloc share. */
enum region_kind {
  REGION_NONE,  /* in no region of ours: a huge-aligned block, or not ours at all */
  REGION_BAD,   /* in a region of ours without a live header: nobody's block */
  REGION_LARGE, /* a large block's mapping (*ss) */
  REGION_SPAN,  /* a region of L2.5 spans (*ss) */
  REGION_SMALL  /* a SuperSlab of small blocks (*ss) */
};

static enum region_kind region_of(const void *p, hak_ss_t **ss)
{
  *ss = hak_ss_of(p);
  if (!hak_region_ours(*ss)) return REGION_NONE;
  if ((*ss)->magic != HAK_SS_MAGIC) return REGION_BAD;
  switch ((*ss)->kind) {
  case HAK_SS_LARGE: return REGION_LARGE;
  case HAK_SS_SPAN: return REGION_SPAN;
  default: return REGION_SMALL;
  }
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
  hak_slab_t *s;
  switch (region_of(p, &b.ss)) {
  case REGION_NONE:
    if ((b.usable = hak_huge_usable(p)) != 0) b.kind = HAK_BLOCK_HUGE;
    break;
  case REGION_LARGE:
    if ((b.usable = hak_large_usable(b.ss, p)) != 0) b.kind = HAK_BLOCK_LARGE;
    break;
  case REGION_SPAN:
    if ((b.usable = hak_span_usable(b.ss, p)) != 0) b.kind = HAK_BLOCK_SPAN;
    break;
  case REGION_SMALL:
    s = small_live(b.ss, p);
    if (s && ((const uintptr_t *)p)[1] != hak_free_tag(p)) { /* not free */
      b.kind = HAK_BLOCK_SMALL;
      b.usable = s->bsize;
    }
    break;
  case REGION_BAD:
    break;
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

/* The fast path has found p outside the region map, at no block boundary of a small slab (as
 * every large and span block is: slab 0 of their regions is never ACTIVE), or carrying the
 * free tag of its address; or p is NULL. */
void hak_free_slow(void *p)
{
  if (p == NULL) return;
  hak_ss_t *ss;
  switch (region_of(p, &ss)) {
  case REGION_NONE:
    if (!hak_huge_free(p)) report("invalid pointer", p);
    return;
  case REGION_LARGE:
    if (!hak_large_free(ss, p)) report("invalid pointer", p);
    return;
  case REGION_SPAN:
    if (!hak_span_free(ss, p)) report("invalid pointer", p);
    return;
  case REGION_SMALL:
    if (small_live(ss, p)) report("double free detected for", p);
    break;
  case REGION_BAD:
    break;
  }
  report("invalid pointer", p);
}
