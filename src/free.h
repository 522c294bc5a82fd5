/* free, malloc_usable_size and realloc's view of a pointer, dispatched by the kind of region it
 * lies in: a SuperSlab of small blocks (small.h), a region of L2.5 spans (span.h), a large
 * block's own mapping, or no region of ours (a huge-aligned block, or not ours at all).  free's
 * fast path (hak_small_free) handles the common case inline and passes everything else to
 * hak_free_slow. */
#ifndef HAK_FREE_H
#define HAK_FREE_H

#include "superslab.h"

enum hak_block_kind {
  HAK_BLOCK_INVALID = 0, HAK_BLOCK_SMALL, HAK_BLOCK_SPAN, HAK_BLOCK_LARGE, HAK_BLOCK_HUGE
};

typedef struct hak_block {
  enum hak_block_kind kind;
  hak_ss_t *ss;  /* the region, for SMALL, SPAN and LARGE */
  size_t usable; /* bytes usable at the block; 0 when INVALID */
} hak_block_t;

/* What p is: a live block of one of the four kinds, or INVALID (a free small block is one:
 * nothing may be done with it).  Takes no lock but a span region's or the huge table's. */
hak_block_t hak_block_find(const void *p);
/* hak_block_find, for a p that must be live: reports "hakmem: WHO(): invalid pointer" and
 * aborts when it is not. */
hak_block_t hak_block_or_die(const void *p, const char *who);
/* Frees what free's fast path did not: span, large and huge blocks; reports double frees and
 * invalid pointers. */
void hak_free_slow(void *p);

#endif
