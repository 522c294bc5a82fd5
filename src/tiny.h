/* The thread front: size classes, per-thread heaps and the two fast paths.
 *
 * Classes: 16..1024 bytes in steps of 16, 32, 64 and 128 (tiny, 20 classes) and 1280..65536
 * bytes, four per doubling (mid, 24 classes): at most 25% waste, 12% on average.  A table
 * maps a size to its class in one load.
 *
 * Each thread's heap holds, per class, the slab it allocates from (cur) and lists of the other
 * slabs it owns: warm ones with free blocks, and a bounded number of full ones.  malloc pops cur's free list; free pushes onto the
 * free list of the block's slab when this thread owns it, and otherwise onto the slab's
 * remote list with one compare-and-swap. */
#ifndef HAK_TINY_H
#define HAK_TINY_H

#include <string.h>

#include "superslab.h"

#define HAK_TINY_MAX 1024
#define HAK_SMALL_MAX 65536
#define HAK_TINY_CLASSES 20
#define HAK_NCLASSES 44

extern const uint8_t hak_tiny_class_tbl[HAK_TINY_MAX / 16 + 1];
extern const uint8_t hak_mid_class_tbl[HAK_SMALL_MAX / 256 + 1];
extern const uint32_t hak_class_size[HAK_NCLASSES];
/* n * hak_class_magic[c] <= hak_class_magic[c] - 1 exactly when n (< 2^32) is a multiple of
 * the class size (Lemire, Kaser and Kurz, "Faster remainder by direct computation", 2019). */
extern const uint64_t hak_class_magic[HAK_NCLASSES];

HAK_INLINE unsigned hak_class_of(size_t n)
{
  return n <= HAK_TINY_MAX ? hak_tiny_class_tbl[(n + 15) >> 4] : hak_mid_class_tbl[(n + 255) >> 8];
}
HAK_INLINE unsigned hak_class_kind(unsigned c)
{
  return c < HAK_TINY_CLASSES ? HAK_SS_TINY : HAK_SS_MID;
}

typedef struct {
  uint64_t requests, hits, refills, remote_frees;
} hak_class_stats_t;

struct hak_heap {
  hak_slab_t *cur[HAK_NCLASSES];  /* what the fast path pops from: slab[c], or none (stats) */
  hak_slab_t *slab[HAK_NCLASSES]; /* the current slab; never NULL: &hak_slab_none if none */
  /* Owned slabs besides the current one, per class: [0] warm (with free blocks), [1] full. */
  hak_slab_t *head[2][HAK_NCLASSES], *tail[2][HAK_NCLASSES];
  uint32_t count[2][HAK_NCLASSES];
  hak_class_stats_t stats[HAK_NCLASSES]; /* HAKMEM_STATS only */
  uint32_t refills;               /* slow-path refills, to pace hak_maintain */
  hak_heap_t *next_all;           /* every heap ever made */
  hak_heap_t *next_free;          /* heaps whose thread has exited, ready for reuse */
  bool live;
};

/* The slab that cur points to when there is none: its free list is always empty. */
extern hak_slab_t hak_slab_none;
/* The heap of a thread that has not allocated yet, or has exited: all cur are none. */
extern hak_heap_t hak_heap_empty;
extern __thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec")));
/* A per-process secret written into the second word of every free block, so that freeing a
 * block twice is caught at once (the first word is the free-list link). */
extern uintptr_t hak_free_key;

/* The slow path of malloc for class cls; n is the request (0 when only the class matters). */
void *hak_small_alloc_slow(unsigned cls, size_t n);
void hak_small_free_slow(void *p);
void hak_free_remote(hak_slab_t *s, void *p);
void hak_slab_freed(hak_heap_t *h, hak_slab_t *s);
/* Gives back everything a heap owns; the heap must not be used again by its thread. */
void hak_heap_abandon(hak_heap_t *h);
/* malloc_trim: gives back the calling thread's wholly free slabs. */
void hak_heap_trim(void);
/* Adds up the class counts of every heap, live or exited, into out. */
void hak_heap_stats(hak_class_stats_t out[HAK_NCLASSES]);
void hak_heap_lock_all(void);
void hak_heap_unlock_all(bool child);

/* The fast path of malloc for a class: a pop from the thread's current slab. */
HAK_INLINE void *hak_small_alloc(unsigned c, size_t n)
{
  hak_slab_t *s = hak_tls_heap->cur[c];
  void **b = (void **)s->free;
  if (hak_likely(b != NULL)) {
    s->free = b[0];
    s->used++;
    b[1] = NULL; /* no longer free: clear the double-free key */
    return b;
  }
  return hak_small_alloc_slow(c, n);
}

/* True if p is a block the slab has handed out: inside the carved part, on a block boundary.
 * One compare and one multiply (the unsigned offset also catches p below start). */
HAK_INLINE bool hak_slab_block_ok(const hak_slab_t *s, const void *p)
{
  uint64_t off = (uint64_t)((const char *)p - s->start);
  return off < s->limit && off * s->magic <= s->magic - 1;
}

/* The fast path of free: a push onto the slab's free list when this thread owns the slab.
 * Checks on the way that p is a block this slab handed out (in the carved part, on a block
 * boundary) and is not already free; anything else goes to the slow path, which reports it. */
HAK_INLINE void hak_small_free(void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (hak_unlikely(!hak_region_ours(ss))) {
    hak_small_free_slow(p);
    return;
  }
  hak_slab_t *s = hak_slab_of(ss, p);
  uintptr_t *b = (uintptr_t *)p;
  if (hak_unlikely(!hak_slab_block_ok(s, p) || b[1] == hak_free_key)) {
    hak_small_free_slow(p);
    return;
  }
  hak_heap_t *h = hak_tls_heap;
  if (hak_likely(atomic_load_explicit(&s->owner, memory_order_relaxed) == h)) {
    void *old = s->free;
    b[0] = (uintptr_t)old;
    b[1] = hak_free_key;
    s->free = p;
    if (hak_unlikely((--s->used == 0) | (old == NULL))) hak_slab_freed(h, s);
    return;
  }
  hak_free_remote(s, p);
}

#endif
