/* Small blocks, the tiny and mid classes (up to 64 KiB): size classes, per-thread heaps and
 * the two fast paths.
 *
 * Classes: 16..1024 bytes in steps of 16, 32, 64 and 128 (tiny, 20 classes) and 1280..65536
 * bytes, four per doubling (mid, 24 classes): at most 25% waste, 12% on average.  A table
 * maps a size to its class in one load.
 *
 * Each thread's heap holds, per class, a magazine: a short stack of pointers to free blocks of
 * slabs it owns.  malloc pops it; free of a block whose slab this thread owns pushes it; no
 * link inside a block is read or written on either fast path.  Behind the magazine are the
 * slab it refills from (slab) and lists of the other slabs it owns: warm ones with free blocks,
 * and a bounded number of full ones.  A free into a slab owned by another thread is one
 * compare-and-swap onto the slab's remote list.  A block in a magazine counts as in use for its
 * slab (used), so a slab never empties under a magazine. */
#ifndef HAK_SMALL_H
#define HAK_SMALL_H

#include <pthread.h>
#include <string.h>

#include "free.h"
#include "superslab.h"

#define HAK_SMALL_MAX 65536
#define HAK_TINY_CLASSES 20
#define HAK_NCLASSES 44
enum { HAK_SLOW_MAG, HAK_SLOW_SHARED, HAK_SLOW_KINDS };

extern const uint8_t hak_class_tbl[HAK_SMALL_MAX / 16 + 1];
extern const uint32_t hak_class_size[HAK_NCLASSES];
/* floor(2^64 / size) + 1 for class c's size.  For an n below 2^32, n * hak_class_magic[c]
 * (mod 2^64) is k * e when n is k times the size, e being size * hak_class_magic[c] (mod 2^64),
 * between 1 and the size; and at least 2^64 / size when it is not a multiple (Lemire, Kaser and
 * Kurz, "Faster remainder by direct computation", 2019; the + 1, rather than rounding up, keeps
 * e above 0 for the powers of two).  So one compare with carved * e tells whether n is the
 * offset of one of the first carved blocks (hak_slab_holds). */
extern const uint64_t hak_class_magic[HAK_NCLASSES];

HAK_INLINE unsigned hak_class_of(size_t n)
{
  return hak_class_tbl[(n + 15) >> 4];
}
/* Which slabs a class lives in: up to 8 KiB (the tiny classes and the first twelve mid ones),
 * 64 KiB slabs of at least 7 blocks; above, 512 KiB slabs.  A thread that uses a class holds a
 * slab of it, so the smaller slab bounds what a class used now and then costs each thread
 * (mstress, 2 threads: 15 MiB peak RSS against 20 with 512 KiB slabs from 1280 bytes). */
#define HAK_SMALL_SLAB_CLASSES 32
_Static_assert(HAK_SMALL_SLAB_CLASSES >= HAK_TINY_CLASSES, "tiny classes live in small slabs");
HAK_INLINE unsigned hak_class_kind(unsigned c)
{
  return c < HAK_SMALL_SLAB_CLASSES ? HAK_SS_TINY : HAK_SS_MID;
}

typedef struct {
  uint64_t requests, hits, refills, remote_frees;
} hak_class_stats_t;

/* Magazines: class c's slots lie between a NULL (the bottom, read as "empty") and lim[c]; top[c]
 * is the next slot to fill, so top[c][-1] is the newest block.  lim[c] - bottom - 1 is the
 * class's capacity (0 with HAKMEM_STATS: every call takes the slow path, which counts). */
struct hak_heap {
  void **top[HAK_NCLASSES];
  void **lim[HAK_NCLASSES];
  /* hak_keys' tag keys, copied: free's fast path reads them from the heap it loads anyway */
  uintptr_t tag_mul, tag_xor;
  hak_slab_t *slab[HAK_NCLASSES]; /* the current slab; never NULL: &hak_slab_none if none */
  /* Owned slabs besides the current one, per class: [0] warm (with free blocks), [1] full. */
  hak_slab_t *head[2][HAK_NCLASSES], *tail[2][HAK_NCLASSES];
  uint32_t count[2][HAK_NCLASSES];
  hak_class_stats_t stats[HAK_NCLASSES]; /* HAKMEM_STATS only */
  uint32_t refills;               /* slow-path refills, to pace hak_maintain (stored atomically) */
  uint32_t takes;                 /* slabs taken from the pool, to pace heap_give_empty */
  /* The region of the remote free this thread is making, from before its push until its last
   * look at the slab (hak_free_remote); NULL outside one.  A region is not unmapped while
   * another thread names it here (hak_heap_freeing). */
  _Atomic(const void *) freeing;
  /* Guards the warm and full lists (head, tail, count): the owner changes them under it, and so
   * does another thread whose free made a slab on them wholly free (owned_emptied, small.c). */
  pthread_mutex_t list_lock;
  /* Held by the owner while it changes its current slabs (refill, trim, exit), and by the
   * background thread while it looks at them (hak_heap_release_idle, small.c). */
  pthread_mutex_t trim_lock;
  /* The background thread's view, under trim_lock: the refill count it last saw, since when,
   * and each current slab's remote count when it last purged that list. */
  uint32_t bg_refills;
  double bg_since;
  uint32_t bg_remote[HAK_NCLASSES];
  uint32_t slow[HAK_SLOW_KINDS][HAK_NCLASSES]; /* for the learner (stored atomically) */
  hak_ss_t *span;                 /* the span region it allocates L2.5 blocks from (span.h) */
  hak_heap_t *next_all;           /* every heap ever made */
  hak_heap_t *next_free;          /* heaps whose thread has exited (parked or not), for reuse */
  bool live;
  /* Its thread has exited and left it with its current slabs still its own, for the next
   * thread to take whole (heap_new), or for hak_heap_unpark to give back; since parked_at. */
  bool parked;
  double parked_at;
  _Alignas(64) void *slots[];     /* the magazines, class after class */
};

/* The current slab of a class that has none: it has no free block and nothing to carve. */
extern hak_slab_t hak_slab_none;
/* The heap of a thread that has not allocated yet, or has exited: its magazines are empty and
 * have no room, so both fast paths go slow. */
extern hak_heap_t hak_heap_empty;
extern __thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec")));
/* ---- links inside free blocks (DESIGN invariant 8) ----------------------------------------
 * A free block holds a tag that says "free" in its second word, and, while it waits on a slab's
 * remote list, its link to the next block of that list in its first.  Neither is ever trusted.
 * The link is stored encoded with a per-process secret and its own address, so that an
 * overflow or a use-after-free write cannot name a block of the attacker's choice, and every
 * link is checked when it is followed: it must decode to NULL or to a block boundary inside the
 * carved part of the same slab, else hak_list_corrupt reports it.  A block back on its slab
 * holds no link: the slab's map (hak_slab_t.map) says which of its blocks are there, so what a
 * program writes into such a block reaches nothing of the allocator's.  The tag, checked by
 * free to catch a double free at once, is a keyed product of the block's address: it differs
 * from block to block, and one leaked free block (its address and both words) does not give
 * away either secret; a double free that a write after free has hidden from it is caught by
 * the map when the block comes back to its slab a second time.  Cost: two xors and the boundary
 * test per link, in the slow paths only; a multiply and an xor per tag, on free's fast path. */
typedef struct {
  uintptr_t link;          /* xored into every link */
  uintptr_t tag_mul, tag_xor; /* tag(b) = b * tag_mul ^ tag_xor; tag_mul is odd */
} hak_keys_t;
extern hak_keys_t hak_keys;
void hak_keys_init(void);

/* The link of the block at `at` to next.  It is its own inverse: applied to a stored link, it
 * gives the block that link names (hak_link_dec). */
HAK_INLINE uintptr_t hak_link_enc(const void *at, const void *next)
{
  return (uintptr_t)next ^ (uintptr_t)at ^ hak_keys.link;
}
HAK_INLINE void *hak_link_dec(const void *at, uintptr_t v)
{
  return (void *)hak_link_enc(at, (const void *)v);
}
/* The tag of b under the keys mul and xor: hak_keys', or a heap's copy of them. */
HAK_INLINE uintptr_t hak_tag_keyed(const void *b, uintptr_t mul, uintptr_t xor_key)
{
  return (uintptr_t)b * mul ^ xor_key;
}
HAK_INLINE uintptr_t hak_free_tag(const void *b)
{
  return hak_tag_keyed(b, hak_keys.tag_mul, hak_keys.tag_xor);
}
/* Makes b a free block whose link names next. */
HAK_INLINE void hak_block_link(void *b, const void *next)
{
  uintptr_t *w = (uintptr_t *)b;
  w[0] = hak_link_enc(b, next);
  w[1] = hak_free_tag(b);
}
_Noreturn void hak_list_corrupt(const void *at);

/* The slow path of malloc for class cls; n is the request (0 when only the class matters). */
void *hak_small_alloc_slow(size_t n, unsigned cls);
void hak_free_remote(hak_slab_t *s, void *p);
/* The same for free's fast path, which passes no slab: it finds it again (hak_small_slab has
 * checked p), which keeps the address of the slab out of the fast path's registers. */
void hak_free_remote_slow(void *p);
/* A free by the owner that found its magazine full (or of no capacity). */
void hak_mag_overflow(void *p, hak_heap_t *h);
/* Puts the blocks other threads freed into s back on it (its map); false if there were none.
 * The caller has charge of s (owns it, or took it off a shared list). */
bool hak_slab_collect(hak_slab_t *s);
void hak_slab_freed(hak_heap_t *h, hak_slab_t *s);
/* Partly free slabs that no thread owns, per class: pushed by exiting threads (orphans) and
 * by the thread that frees into a marked full slab first; popped (and so adopted) by threads
 * that need blocks. */
void hak_partial_push(hak_slab_t *s, bool orphan);
hak_slab_t *hak_partial_pop(unsigned cls, hak_heap_t *heap);
/* Takes s off the shared partial list for heap, if it is still there and an orphan. */
bool hak_partial_take_orphan(hak_slab_t *s, hak_heap_t *heap);
/* Gives back the slabs on the shared partial lists that their remote frees made wholly free. */
void hak_partial_drain(void);
void hak_partial_init(void);
/* The calling thread's heap, made at its first call; NULL (errno ENOMEM) if none can be. */
hak_heap_t *hak_heap_get(void);
/* Gives back everything a heap owns; the heap must not be used again by its thread. */
void hak_heap_abandon(hak_heap_t *h);
/* malloc_trim: gives back the calling thread's wholly free slabs. */
void hak_heap_trim(void);
/* Heaps that exited threads parked for longer than max_age seconds before now (every one for a
 * negative max_age) give their slabs to the shared lists and the pool, as a thread's exit did
 * before heaps were parked (hak_heap_abandon).  At most `most` of them, the oldest first;
 * returns how many. */
unsigned hak_heap_unpark(double now, double max_age, unsigned most);
/* The learner's view of the magazines: class c's batch now, its default and the most it may
 * be set to (all 0 before the first heap); setting keeps it within those. */
unsigned hak_mag_batch(unsigned c, unsigned *def, unsigned *most);
void hak_mag_set_batch(unsigned c, unsigned batch);
/* The same for the bound on full slabs a heap keeps listed per class (HAKMEM_KEPT_FULL_SLABS,
 * up to HAKMEM_LEARN_KEPT_MAX). */
unsigned hak_kept_full(unsigned c, unsigned *def, unsigned *most);
void hak_kept_set(unsigned c, unsigned kept);
/* Slow paths per class of every heap, live or exited, by kind: [HAK_SLOW_MAG] the magazine
 * empty on malloc or full on free, [HAK_SLOW_SHARED] a slab taken from the shared list. */
void hak_heap_slow_counts(uint64_t out[HAK_SLOW_KINDS][HAK_NCLASSES]);
/* For the background thread: the wholly free slabs that heaps' lists have kept for their
 * owners for longer than HAKMEM_SLAB_PURGE_MS go to the pool, and the blocks other threads
 * freed into the current slabs of heaps idle that long give their inner pages back.  Adds to
 * *slabs and *lists how many of each. */
void hak_heap_release_idle(double now, uint64_t *slabs, uint64_t *lists);
/* True if a thread other than the caller is inside a remote free into the region at ss: past
 * its push, after which any thread may have taken the block and emptied the slab, and before
 * its last look at the slab's header.  The region must then stay mapped (release_list). */
bool hak_heap_freeing(const void *ss);
/* Adds up the class counts of every heap, live or exited, into out. */
void hak_heap_stats(hak_class_stats_t out[HAK_NCLASSES]);
void hak_heap_lock_all(void);
void hak_heap_unlock_all(bool child);

/* True if p, a pointer in the slab's own region, is a block the slab has handed out: inside
 * the carved part, on a block boundary.  One multiply and one compare (see hak_class_magic):
 * the offset fits in 32 bits, and one below start reads as 2^32 less under 2 MiB, past any
 * carved block.  Every slab record that such a p can reach starts in its region or has a limit
 * of 0 (slab_format sets both; a region's records are zeroed before it is first formatted,
 * and when it comes back from the LRU cache with its pages). */
HAK_INLINE bool hak_slab_holds(const hak_slab_t *s, const void *p)
{
  uint32_t off = (uint32_t)(uintptr_t)p - (uint32_t)(uintptr_t)s->start;
  return (uint64_t)off * s->magic < __atomic_load_n(&s->limit, __ATOMIC_RELAXED);
}

/* The limit of a slab that has carved blocks (hak_slab_holds): carved * e, e being
 * bsize * magic (mod 2^64), which fits in 32 bits as the product does (at most the slab's size). */
HAK_INLINE uint32_t hak_slab_limit(const hak_slab_t *s, uint32_t carved)
{
  return carved * (uint32_t)(s->bsize * s->magic);
}

/* The same for any p, such as a link read from a free block: it must lie within a region's
 * length of start first (the unsigned offset also catches p below start). */
HAK_INLINE bool hak_slab_block_ok(const hak_slab_t *s, const void *p)
{
  uint64_t off = (uint64_t)((const char *)p - s->start);
  return off < HAK_SS_SIZE && hak_slab_holds(s, p);
}

/* The link of free block b of slab s, checked: NULL or a block of s. */
HAK_INLINE void *hak_link_next(const hak_slab_t *s, const void *b)
{
  void *next = hak_link_dec(b, *(const uintptr_t *)b);
  if (hak_unlikely(!hak_slab_block_ok(s, next)) && next != NULL) hak_list_corrupt(b);
  return next;
}

/* The newest block of class c's magazine, or NULL if it is empty.  The block is no longer
 * free, so its tag is cleared. */
HAK_INLINE void *hak_mag_pop(hak_heap_t *h, unsigned c)
{
  void **t = h->top[c];
  uintptr_t *b = (uintptr_t *)t[-1];
  if (hak_likely(b != NULL)) {
    h->top[c] = t - 1;
    b[1] = 0;
  }
  return b;
}

/* The fast path of malloc for a class: a pop from the thread's magazine. */
HAK_INLINE void *hak_small_alloc(unsigned c, size_t n)
{
  void *b = hak_mag_pop(hak_tls_heap, c);
  if (hak_likely(b != NULL)) return b;
  return hak_small_alloc_slow(n, c);
}

/* The slab of p if p lies in a region of ours on a block boundary in the carved part of a slab
 * (as no large or span block does: slab 0 of their regions is never ACTIVE); NULL otherwise.
 * The first test of free's fast path and of hak_small_usable. */
HAK_INLINE hak_slab_t *hak_small_slab(const void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (hak_unlikely(!hak_region_ours(ss))) return NULL;
  hak_slab_t *s = hak_slab_of(ss, p);
  return hak_likely(hak_slab_holds(s, p)) ? s : NULL;
}

/* Bytes usable at p if free's fast path would take p as a live small block of an ACTIVE slab;
 * 0 if that test does not settle it (a block of another kind, a free one, or not ours), which
 * hak_block_find then does.  malloc_usable_size and realloc ask this first: an interpreter that
 * paces its collector by malloc'd bytes asks it at every malloc and free. */
HAK_INLINE size_t hak_small_usable(const void *p)
{
  hak_slab_t *s = hak_small_slab(p);
  if (hak_unlikely(!s || s->state != HAK_SLAB_ACTIVE ||
                   ((const uintptr_t *)p)[1] == hak_free_tag(p)))
    return 0;
  return s->bsize;
}

/* The fast path of free: a push onto the thread's magazine when this thread owns the slab.
 * Checks on the way that p is a block this slab handed out (in the carved part, on a block
 * boundary) and is not already free; anything else goes to the slow path, which reports it. */
HAK_INLINE void hak_small_free(void *p)
{
  hak_slab_t *s = hak_small_slab(p);
  hak_heap_t *h = hak_tls_heap;
  uintptr_t *b = (uintptr_t *)p, tag = hak_tag_keyed(p, h->tag_mul, h->tag_xor);
  if (hak_unlikely(!s || b[1] == tag)) {
    hak_free_slow(p);
    return;
  }
  if (hak_likely(atomic_load_explicit(&s->owner, memory_order_relaxed) == h)) {
    unsigned c = s->cls;
    void **t = h->top[c];
    b[1] = tag;
    if (hak_likely(t < h->lim[c])) { /* < not !=: a magazine over a lowered limit goes slow */
      *t = p;
      h->top[c] = t + 1;
      return;
    }
    hak_mag_overflow(p, h);
    return;
  }
  hak_free_remote_slow(p);
}

#endif
