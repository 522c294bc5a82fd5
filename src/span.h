/* The L2.5 tier: blocks above the mid classes and up to about 1 MiB, and blocks with an
 * alignment of up to half a region, carved as runs of whole pages ("spans") out of shared 2 MiB
 * regions of kind HAK_SS_SPAN.  A pointer finds its region by masking, like any other, and its
 * run by its page index in the region's header; nothing is written inside a block.
 *
 * Each thread allocates from a region of its own (heap->span) while it has room, so that
 * threads do not meet on the common path; any thread frees into any region under that region's
 * lock, except into a region another live thread allocates from, where the free marks the block
 * pending in the region without a lock and the owner frees it at its next allocation there.
 * Free pages keep their memory for HAKMEM_SLAB_PURGE_MS (a region's dirty pages are
 * purged together), or less when HAKMEM_EMPTY_MAX_MB is passed; a region with no block left
 * and no thread allocating from it goes back to the LRU cache of empty SuperSlabs, where every
 * tier can take it. */
#ifndef HAK_SPAN_H
#define HAK_SPAN_H

#include "superslab.h"

/* The largest request the tier serves (whole pages: two of the largest fit in a region),
 * set by hak_span_init from the page size; larger ones are large blocks. */
extern size_t hak_span_max;
void hak_span_init(void);

/* True if a region can hold n bytes aligned to align (a power of two, 0 for none). */
bool hak_span_fits(size_t n, size_t align);
/* A block of at least n bytes (n <= hak_span_max) aligned to align, or NULL with errno ENOMEM.
 * *zeroed says whether every byte of it reads as zero. */
void *hak_span_alloc(size_t n, size_t align, bool *zeroed);
/* Frees p, which lies in span region ss; false if p is no live block of ss (nothing done). */
bool hak_span_free(hak_ss_t *ss, void *p);
/* Bytes usable at p in region ss (its run of pages), or 0 if p is no live block of ss. */
size_t hak_span_usable(hak_ss_t *ss, const void *p);
/* Grows or shrinks p's run to hold n bytes where it lies; false if the pages after it are taken
 * or n is beyond the tier. */
bool hak_span_resize(hak_ss_t *ss, void *p, size_t n);

/* The calling thread no longer allocates from its region (it exits, or trims). */
void hak_span_release(hak_heap_t *h);
/* Purges the free pages of regions dirty for longer than HAKMEM_SLAB_PURGE_MS; with all
 * (malloc_trim), every region's, and the wholly free regions kept go to the LRU cache.
 * Returns the bytes given back. */
size_t hak_span_purge(double now, bool all);
/* While empty memory is over max bytes (hak_empty_enforce), the regions dirty the longest give
 * their free pages back. */
void hak_span_purge_over(size_t max);

void hak_span_counts(size_t *regions, size_t *blocks);
void hak_span_lock_all(void);
void hak_span_unlock_all(bool child);

#endif
