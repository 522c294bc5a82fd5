/* SuperSlabs, slabs and the shared pool.
 *
 * A SuperSlab is a 2 MiB region aligned to 2 MiB.  Its header (the first HAK_SS_HDR bytes)
 * holds one hak_slab_t per slab; a pointer finds its SuperSlab by masking and its slab by a
 * shift, so blocks carry no header.  Classes up to 8 KiB live in 64 KiB slabs (kind TINY), the
 * larger mid classes (up to 64 KiB) in 512 KiB slabs (kind MID); a SuperSlab holds slabs of
 * one size.  A large block has a SuperSlab-aligned mapping of its own whose header says so
 * (kind HAK_SS_LARGE).
 *
 * A process-wide bitmap, one bit per 2 MiB of address space, says which regions are ours, so
 * that a foreign or wild pointer is reported and never followed. */
#ifndef HAK_SUPERSLAB_H
#define HAK_SUPERSLAB_H

#include "internal.h"
#include "options.h"

#define HAK_SS_SHIFT 21
#define HAK_SS_SIZE ((size_t)1 << HAK_SS_SHIFT)
#define HAK_SS_MASK (HAK_SS_SIZE - 1)
#define HAK_SS_HDR ((size_t)8192) /* header bytes: the SuperSlab and its slab records */
/* After the header, each slab's map of its free blocks (HAK_SLAB_MAP_WORDS words a slab, a
 * bit a block: 4096 blocks of 16 bytes fill a 64 KiB slab); slab 0's blocks start after the
 * maps, at 24 KiB, a multiple of 8 KiB as the alignment of small blocks needs (override.c).
 * The maps lie in lines of HAK_MAP_LINE words, every slab's first line side by side, then every
 * slab's second line, and so on (hak_map_word): a SuperSlab whose classes need one line a slab
 * (512 blocks or fewer, 128 bytes and up) touches one page of maps rather than four. */
#define HAK_SLAB_MAP_WORDS 64
#define HAK_MAP_LINE 8
#define HAK_SS_MAPS ((size_t)HAK_SS_MAX_SLABS * HAK_SLAB_MAP_WORDS * sizeof(uint64_t))
#define HAK_SS_BLOCKS (HAK_SS_HDR + HAK_SS_MAPS) /* where slab 0's blocks start */
#define HAK_SS_MAX_SLABS 32
#define HAK_SS_MAGIC 0x68616b53u

enum hak_ss_kind {
  HAK_SS_TINY = 0, HAK_SS_MID = 1, HAK_SS_NKINDS = 2, /* kinds of slabs */
  HAK_SS_LARGE = 3, /* one large block */
  HAK_SS_SPAN = 4   /* runs of pages (span.h) */
};
static const unsigned hak_kind_slab_shift[HAK_SS_NKINDS] = {16, 19};

enum hak_slab_state { HAK_SLAB_UNUSED = 0, HAK_SLAB_ACTIVE, HAK_SLAB_EMPTY };

typedef struct hak_heap hak_heap_t;

/* A slab.  The first cache line is the owner's; the remote-free head, which other threads
 * write, has the second to itself so that their pushes do not slow the owner's pops.
 *
 * remote is a list of blocks freed by other threads, or, when its low bit is set, the mark of
 * a full slab that no list holds (see slab_mark_full in small.c).  A list carries its length in
 * the top 16 bits (HAK_REMOTE_COUNT), above the 48 bits of any address of ours (the region map
 * and the heap arena refuse higher ones), so that taking a list needs no walk to count it. */

typedef struct hak_slab {
  /* first line: what malloc's and free's fast paths read */
  char *start;               /* first block */
  _Atomic(hak_heap_t *) owner;
  uint64_t magic;            /* the divisibility constant of bsize (small.h) */
  uint32_t limit;            /* carved * (bsize * magic): see hak_slab_holds (small.h) */
  uint32_t used;             /* carved blocks not on the slab (its map has the rest) */
  uint32_t carved;           /* blocks carved so far; only grows while ACTIVE */
  uint32_t capacity;
  uint32_t bsize;
  uint8_t cls;
  uint8_t state;
  uint8_t index;             /* slab index in its SuperSlab */
  uint8_t list;              /* which list holds it: HAK_LIST_* */
  uint8_t orphan;            /* on the partial list, left there by a thread that exited */
  /* Wholly free on its owner's list, its bytes counted as empty memory (owned_emptied in
   * small.c); under the owner's list lock. */
  uint8_t counted;
  /* CLEAN, its pages given back by the purge delay rather than by a bound (under the pool
   * lock): taking it soon after tells the learner the delay was short (hak_purge_retaken). */
  uint8_t aged;
  /* While on a list whose holder does not watch it (its owner's warm or full list, a shared
   * partial list): its used (blocks out, the remote ones among them), published by the holder;
   * 0 when on none.  A remote free whose push brings the remote count up to it has made the
   * slab wholly free, and gives it back (hak_free_remote).  In the first line, which the owner
   * writes anyway and a remote free has read already. */
  _Atomic(uint32_t) listed_used;
  /* When it last became EMPTY (under the pool lock), or wholly free and counted on its owner's
   * full list (under the owner's list lock: small.c). */
  double empty_since;
  /* second line: other threads' pushes, and slow-path bookkeeping */
  _Alignas(64) _Atomic(uintptr_t) remote;
  struct hak_slab *next, *prev; /* the list that holds it */
  /* The list that holds it, a heap (its warm or full list) or a shared partial list (small.c),
   * written under that list's lock; NULL while on none of those.  A thread that holds the lock
   * of a list and reads that list here knows s is on it and stays there. */
  _Atomic(void *) holder;
  /* Its map of the blocks on it (owner only): bit i is set while block i is neither live nor
   * in a magazine, so carved - used bits are set.  Blocks come back (mag_flush, the remote
   * list taken) and go out (mag_fill) without a look at them: a refill hands out its blocks in
   * order of address and touches none, where a list would lead it through blocks freed in any
   * order, a cache miss each.  It lies after the SuperSlab's header (HAK_SS_MAPS), not in a
   * block, where no write into a free block can reach it. */
  uint64_t *map;
} hak_slab_t;

/* EMPTY slabs are DIRTY (their pages still hold memory) until they have stayed empty for
 * HAKMEM_SLAB_PURGE_MS, then CLEAN (pages given back with MADV_DONTNEED). */
enum {
  HAK_LIST_NONE = 0, HAK_LIST_WARM, HAK_LIST_FULL, HAK_LIST_PARTIAL, HAK_LIST_DIRTY, HAK_LIST_CLEAN,
  HAK_LIST_CUR
};
#define HAK_REMOTE_DETACHED ((uintptr_t)1)
#define HAK_REMOTE_COUNT_SHIFT 48
#define HAK_REMOTE_COUNT ((uintptr_t)1 << HAK_REMOTE_COUNT_SHIFT)
#define HAK_REMOTE_HEAD(r) ((void *)((r) & (HAK_REMOTE_COUNT - 1)))
/* owner == heap|HAK_OWNER_ADOPTED: heap took the slab over by freeing into it (an orphan); its
 * frees go straight back on the slab, not into its magazine, until it allocates from it. */
#define HAK_OWNER_ADOPTED ((uintptr_t)2)

typedef struct hak_ss {
  uint32_t magic;
  uint8_t kind;
  uint8_t slab_shift;
  uint8_t nslabs;
  uint8_t next_unused;       /* slabs at or past this index have never been used */
  uint32_t in_use;           /* slabs ACTIVE: under the pool lock */
  uint8_t listed;            /* on the pool's with-unused list, or in the LRU cache */
  uint8_t purged;            /* in the LRU cache with its pages given back; a large block in
                                the BigCache: 1 given back by a bound, 2 by the purge delay */
  uint8_t named;             /* in the LRU cache, put back by a release that a remote free's
                                name stopped (release_list): not handed out while named */
  uint8_t aged;              /* leaving the LRU cache by the purge delay, not by a bound */
  struct hak_ss *next, *prev;
  double cached_at;          /* when it entered the LRU cache */
  size_t map_size;           /* large: bytes mapped */
  size_t block_off;          /* large: offset of the block */
  union {
    size_t req_size;         /* large: bytes the block may hold */
    size_t resident;         /* in the LRU cache: bytes past the header that may hold memory */
  };
  _Alignas(64) hak_slab_t slabs[HAK_SS_MAX_SLABS];
} hak_ss_t;

_Static_assert(sizeof(hak_slab_t) == 128, "slab metadata is two cache lines");
_Static_assert(sizeof(hak_ss_t) <= HAK_SS_HDR, "SuperSlab header fits before slab 0's blocks");

/* Word w of the map whose first word is at map (a slab's map field). */
HAK_INLINE uint64_t *hak_map_word(uint64_t *map, uint32_t w)
{
  return map + (size_t)(w / HAK_MAP_LINE) * (HAK_SS_MAX_SLABS * HAK_MAP_LINE) + w % HAK_MAP_LINE;
}

HAK_INLINE hak_ss_t *hak_ss_of(const void *p)
{
  return (hak_ss_t *)((uintptr_t)p & ~(uintptr_t)HAK_SS_MASK);
}
HAK_INLINE hak_slab_t *hak_slab_of(hak_ss_t *ss, const void *p)
{
  return &ss->slabs[((uintptr_t)p - (uintptr_t)ss) >> ss->slab_shift];
}
HAK_INLINE hak_ss_t *hak_ss_of_slab(hak_slab_t *s)
{
  return (hak_ss_t *)((uintptr_t)s & ~(uintptr_t)HAK_SS_MASK);
}
/* The bytes a slab spans, as empty memory counts them (slab 0's header included). */
HAK_INLINE size_t hak_slab_bytes(hak_slab_t *s)
{
  return (size_t)1 << hak_ss_of_slab(s)->slab_shift;
}

/* A doubly linked list of SuperSlabs, newest at the head: the LRU cache, the BigCache buckets
 * and the pool's SuperSlabs with unused slabs.  The caller holds the list's lock. */
typedef struct {
  hak_ss_t *head, *tail;
} hak_ss_list_t;

static inline void hak_ss_list_push(hak_ss_list_t *l, hak_ss_t *ss)
{
  ss->prev = NULL;
  ss->next = l->head;
  if (l->head) l->head->prev = ss;
  else l->tail = ss;
  l->head = ss;
}

static inline void hak_ss_list_unlink(hak_ss_list_t *l, hak_ss_t *ss)
{
  if (ss->prev) ss->prev->next = ss->next;
  else l->head = ss->next;
  if (ss->next) ss->next->prev = ss->prev;
  else l->tail = ss->prev;
  ss->next = ss->prev = NULL;
}

/* A doubly linked list of slabs through next/prev (the pool's empty slabs, the shared partial
 * lists); the caller holds the list's lock.  head may be read without the lock as a hint, and
 * list by any thread that frees into the slab (hak_free_remote), so both are stored atomically. */
static inline void hak_slab_set_list(hak_slab_t *s, uint8_t list)
{
  __atomic_store_n(&s->list, list, __ATOMIC_RELAXED);
}

static inline void hak_slab_list_push(hak_slab_t **head, hak_slab_t *s, uint8_t list)
{
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  __atomic_store_n(head, s, __ATOMIC_RELAXED);
  hak_slab_set_list(s, list);
}

static inline void hak_slab_list_unlink(hak_slab_t **head, hak_slab_t *s)
{
  if (s->prev) s->prev->next = s->next;
  else __atomic_store_n(head, s->next, __ATOMIC_RELAXED);
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  hak_slab_set_list(s, HAK_LIST_NONE);
}

/* ---- the region map ---------------------------------------------------------------------- */
#define HAK_VA_BITS 48
_Static_assert(HAK_REMOTE_COUNT_SHIFT >= HAK_VA_BITS, "a remote list's count overlaps addresses");
/* In .bss: 16 MiB of address space, of which only the pages covering regions in use are ever
 * written (the rest are never touched, or read as the zero page), so it costs no memory. */
extern _Atomic(uint64_t) hak_region_bits[((size_t)1 << (HAK_VA_BITS - HAK_SS_SHIFT)) / 64];
void hak_region_mark(const void *ss, bool ours);
/* True if p lies in a region that starts a live SuperSlab or large mapping of ours. */
HAK_INLINE bool hak_region_ours(const void *ss)
{
  uintptr_t w = (uintptr_t)ss >> (HAK_SS_SHIFT + 6); /* the word of its bit */
  if (hak_unlikely(w >= sizeof hak_region_bits / sizeof hak_region_bits[0])) return false;
  return (atomic_load_explicit(&hak_region_bits[w], memory_order_relaxed) >>
          (((uintptr_t)ss >> HAK_SS_SHIFT) & 63)) & 1;
}

/* ---- the shared pool --------------------------------------------------------------------- */
/* A slab of the given kind: an EMPTY one, else an UNUSED one of a SuperSlab in use, else one of
 * a new SuperSlab (from the LRU cache, else the OS).  NULL (errno ENOMEM) when out of memory.
 * The slab comes back ACTIVE, its geometry set for class cls, owned by heap. */
hak_slab_t *hak_pool_take(unsigned kind, unsigned cls, hak_heap_t *heap);
/* True if the pool of kind has no EMPTY slab and no SuperSlab with UNUSED slabs, so that its
 * next take maps a SuperSlab or takes one from the LRU cache (a hint: it may change at once). */
bool hak_pool_would_grow(unsigned kind);
/* Takes back a slab whose last block was freed: it becomes EMPTY at once, and its SuperSlab
 * goes to the LRU cache when it was the last slab in use. */
void hak_pool_give(hak_slab_t *s);

/* A region for a tier that formats it itself: from the LRU cache (*clean false: its pages may
 * hold old data, unless purged says they went back), else fresh from the OS (*clean true).
 * NULL (errno ENOMEM) when out of memory.  hak_ss_give puts one back in the cache, saying how
 * many bytes past the header (HAK_SS_HDR) may still hold memory; 0: they all read as zero. */
hak_ss_t *hak_ss_take(bool *clean);
void hak_ss_give(hak_ss_t *ss, size_t resident);

/* Empty memory that keeps its pages, in bytes (HAKMEM_EMPTY_MAX_MB): what each tier adds and
 * takes away, and the purge of the oldest past the bound, called where memory becomes empty. */
void hak_empty_count(size_t bytes, bool add);
size_t hak_empty_resident(void);
size_t hak_empty_peak(void); /* the most it has been */
void hak_empty_enforce(void);
/* The bound on it, and the bytes in use it is a share of (HAKMEM_EMPTY_MAX_PERCENT): slabs
 * while they are in use, and L2.5 blocks.  Not the large blocks: a mapping of its own says
 * little about its pages (a table from calloc is mostly untouched), and a free of one leaves no
 * hole among blocks in use.  Counted only for the share: a producer's L2.5 blocks that a
 * consumer frees would otherwise move the count's line between their cores at every block. */
size_t hak_empty_bound(void);
extern _Atomic(size_t) hak_in_use_bytes;
HAK_INLINE void hak_in_use_count(size_t bytes, bool add)
{
  if (!hak_opt.EMPTY_MAX_PERCENT) return;
  if (add) atomic_fetch_add_explicit(&hak_in_use_bytes, bytes, memory_order_relaxed);
  else atomic_fetch_sub_explicit(&hak_in_use_bytes, bytes, memory_order_relaxed);
}
/* The purge delay, in seconds: HAKMEM_SLAB_PURGE_MS until the learner sets one (learn.c, in
 * milliseconds). */
double hak_purge_delay(void);
void hak_purge_delay_set(unsigned ms);
/* What the learner reads of the purge delay, added by the slow paths (nothing without
 * HAKMEM_LEARN): bytes that purges by age gave back, and bytes of memory purged by age, last
 * freed at freed_at, taken into use again soon enough that a longer delay, up to
 * HAKMEM_LEARN_PURGE_MAX_MS, would have kept it.  hak_purge_totals gives both totals and the
 * longest such free-to-retake time since its last call (0 if none), in milliseconds. */
void hak_purge_aged(size_t bytes);
void hak_purge_retaken(size_t bytes, double freed_at);
void hak_purge_totals(uint64_t *aged, uint64_t *retaken, unsigned *gap_ms);

/* A fresh (zeroed) SuperSlab-aligned region of size bytes (a multiple of the page), marked as
 * ours; and its release to the OS. */
hak_ss_t *hak_ss_map(size_t size);
void hak_ss_unmap(hak_ss_t *ss, size_t size);
/* Adjusts the mapped-bytes and live-region counts for a change made outside hak_ss_map/unmap
 * (a large block shrunk in place or moved with mremap). */
void hak_ss_account(long bytes, int regions);

/* Applies the time bounds now: purges slabs empty for longer than HAKMEM_SLAB_PURGE_MS and
 * unmaps cached SuperSlabs older than HAKMEM_SUPERSLAB_TTL_SEC. */
void hak_pool_maintain(double now);

/* Releases every empty SuperSlab held in the cache, and drains the shared partial lists;
 * returns the bytes given back (malloc_trim). */
size_t hak_pool_trim(void);

/* fork: every lock of the shared pool, taken before and released after. */
void hak_pool_lock_all(void);
void hak_pool_unlock_all(bool child);

/* Counts for statistics and tests. */
typedef struct {
  size_t ss_live, ss_mapped_total, ss_unmapped_total, bytes_mapped, bytes_peak;
  size_t ss_cached, ss_purged; /* in the LRU cache with their pages, and without */
  size_t slabs_active[HAK_SS_NKINDS];
  /* unmaps the kernel refused whose regions were kept to map again, those regions, and how
   * many of them are still waiting (ss_release_os) */
  size_t unmaps_refused, regions_refused, regions_refused_left;
} hak_pool_counts_t;
void hak_pool_counts(hak_pool_counts_t *out);

#endif
