/* Large blocks: above the L2.5 tier (span.h), each block has a SuperSlab-aligned mapping of its own
 * with a header at its start; alignments beyond half a SuperSlab get a plain aligned mapping
 * recorded in a hash table (the "huge-aligned" blocks). */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include "superslab.h"

/* A block of at least size bytes aligned to align (a power of two, or 0 for the default);
 * NULL with errno ENOMEM when it cannot be had.  growing: realloc makes the block, or moves one
 * that grows, here.  *zeroed says whether it reads as zero. */
void *hak_large_alloc(size_t size, size_t align, bool growing, bool *zeroed);
/* Frees p if it is the block of the large mapping ss; false if p is not. */
bool hak_large_free(hak_ss_t *ss, void *p);
/* Frees p if it is a huge-aligned block; false if it is not one. */
bool hak_huge_free(void *p);
/* Bytes usable at p in the large mapping ss, or 0 if p is not its block. */
size_t hak_large_usable(const hak_ss_t *ss, const void *p);
/* Bytes usable at p if it is a huge-aligned block, else 0. */
size_t hak_huge_usable(const void *p);
/* Grows or shrinks p, the block of the large mapping ss, in place or by moving its pages
 * (mremap); NULL if it can't. */
void *hak_large_resize(hak_ss_t *ss, void *p, size_t size);

/* Purges cached large mappings older than HAKMEM_SLAB_PURGE_MS and unmaps those older than
 * HAKMEM_BIGCACHE_TTL_MS. */
void hak_bigcache_maintain(double now);
/* While empty memory is over max bytes (hak_empty_enforce), the oldest cached mappings give
 * their pages back and keep their address space. */
void hak_bigcache_purge_over(size_t max);
/* Gives every cached large mapping back to the OS; returns the bytes released. */
size_t hak_bigcache_trim(void);
void hak_bigcache_counts(size_t *bytes, size_t *hits, size_t *misses);

/* The learner's view (learn.c): bytes of cached pages its bounds threw away, and requests, both
 * since the start; the address bound in MiB, which it may set above HAKMEM_BIGCACHE_MAX_MB; and
 * the bytes by which that raises the bound on empty memory (hak_empty_bound), since the cache's
 * pages count against it. */
void hak_bigcache_learn_counts(uint64_t *lost, uint64_t *requests);
unsigned hak_bigcache_bound_mb(void);
void hak_bigcache_set_bound_mb(unsigned mb);
size_t hak_bigcache_extra(void);

void hak_large_lock_all(void);
void hak_large_unlock_all(bool child);

#endif
