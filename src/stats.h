/* Statistics (HAKMEM_STATS) and slow-path profiling (HAKMEM_PROFILE).
 *
 * Neither costs the fast paths anything when off.  With HAKMEM_STATS=1 every heap keeps its
 * fast-path view of the current slabs empty, so every malloc takes the slow path, which counts
 * (per thread, no atomics) and then serves the block from the current slab as the fast path
 * would; the counts are therefore exact.  Profiling reads the CPU's cycle counter around the
 * slow paths only. */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "internal.h"

extern bool hak_stats_on, hak_prof_on;

enum hak_prof_path { HAK_PROF_REFILL, HAK_PROF_DRAIN, HAK_PROF_MAP, HAK_PROF_UNMAP, HAK_PROF_NPATHS };

void hak_prof_record(enum hak_prof_path path, uint64_t cycles);

/* t0 = hak_prof_begin(); ... hak_prof_end(PATH, t0); — two predicted branches when off. */
HAK_INLINE uint64_t hak_prof_begin(void)
{
  return hak_unlikely(hak_prof_on) ? hak_cycles() | 1 : 0;
}
HAK_INLINE void hak_prof_end(enum hak_prof_path path, uint64_t t0)
{
  if (hak_unlikely(t0)) hak_prof_record(path, hak_cycles() - t0);
}

/* Counts kept outside the heaps, with atomics (slow paths only). */
void hak_stats_large_alloc(size_t size, bool cache_hit);
void hak_stats_span_alloc(size_t size);
void hak_stats_remote_free_unowned(unsigned cls);
/* A slab left the shared partial lists: reclaimed by a refill, or emptied by a remote free. */
void hak_stats_partial(bool reclaimed);
/* A slab on its owner's warm or full list was made wholly free by a remote free, and given
 * back. */
void hak_stats_owned_emptied(void);

void hak_stats_init(void);
/* Prints the tables; called once at exit. */
void hak_stats_report(void);

#endif
