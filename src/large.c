/* Large and huge-aligned blocks. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "large.h"
#include "options.h"
#include "os.h"
#include "span.h"
#include "stats.h"

/* The block starts this far into its mapping by default: past the header and slab 0's record
 * (which free's fast path reads and finds empty), on a 256-byte boundary. */
#define HAK_LARGE_OFF ((size_t)256)
#define HAK_GROWN_SPAN_MAX ((size_t)128 << 10)
_Static_assert(offsetof(hak_ss_t, slabs) + sizeof(hak_slab_t) <= HAK_LARGE_OFF,
               "a large block does not overlap the header free reads");

/* ---- huge-aligned blocks -----------------------------------------------------------------
 * Alignments beyond half a SuperSlab: the block starts its own mapping, so no header can say
 * what it is.  A hash table of them (open addressing, keyed by the block's address) answers
 * free and malloc_usable_size without a walk; it lives in mappings of its own and doubles when
 * half full. */

typedef struct {
  void *block; /* NULL: empty; HUGE_GONE: a freed entry that lookups pass over */
  size_t size;
} hak_huge_t;
#define HUGE_GONE ((void *)1)

static struct {
  pthread_mutex_t lock;
  hak_huge_t *slot;
  size_t cap, used; /* used: live entries and gone ones, which both lengthen probes */
  _Atomic(size_t) count;
} huge = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t huge_hash(const void *p, size_t cap)
{
  /* The blocks are aligned to 2 MiB or more: the bits above that tell them apart. */
  return (size_t)(((uintptr_t)p >> 21) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

/* The slot of p, or the empty one where it would go. */
static hak_huge_t *huge_slot(const void *p)
{
  size_t i = huge_hash(p, huge.cap);
  while (huge.slot[i].block != NULL && huge.slot[i].block != p) i = (i + 1) & (huge.cap - 1);
  return &huge.slot[i];
}

/* Room for one more entry: the table doubles (dropping gone entries) when it is half used. */
static bool huge_reserve(void)
{
  if (huge.slot && (huge.used + 1) * 2 <= huge.cap) return true;
  size_t cap = huge.cap ? huge.cap * 2 : hak_os_page / sizeof(hak_huge_t);
  if (huge.slot && atomic_load_explicit(&huge.count, memory_order_relaxed) * 4 < huge.cap)
    cap = huge.cap; /* mostly gone entries: rebuild at the same size */
  hak_huge_t *old = huge.slot, *fresh = hak_os_map_aligned(cap * sizeof *fresh, hak_os_page);
  if (!fresh) return false;
  size_t old_cap = huge.cap;
  huge.slot = fresh;
  huge.cap = cap;
  huge.used = 0;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].block != NULL && old[i].block != HUGE_GONE) {
      *huge_slot(old[i].block) = old[i];
      huge.used++;
    }
  if (old) hak_os_unmap(old, old_cap * sizeof *old);
  return true;
}

static void *huge_alloc(size_t size, size_t align)
{
  if (size > SIZE_MAX - align - hak_os_page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t map = hak_align_up(size ? size : 1, hak_os_page);
  void *p = hak_os_map_aligned(map, align);
  if (!p) return NULL;
  pthread_mutex_lock(&huge.lock);
  bool ok = huge_reserve();
  if (ok) {
    *huge_slot(p) = (hak_huge_t){p, map};
    huge.used++;
    atomic_fetch_add(&huge.count, 1);
  }
  pthread_mutex_unlock(&huge.lock);
  if (!ok) {
    hak_os_unmap(p, map);
    errno = ENOMEM;
    return NULL;
  }
  return p;
}

/* ---- the BigCache ------------------------------------------------------------------------
 * Freed large mappings wait here, one LIFO list per size bucket (four per doubling from 64 KiB
 * to 64 MiB), for the next large request that fits, so that a loop over large buffers does not
 * pay mmap, munmap and page faults each time.  Their address space is bounded in bytes
 * (HAKMEM_BIGCACHE_MAX_MB) and in age (HAKMEM_BIGCACHE_TTL_MS); their pages go back after
 * HAKMEM_SLAB_PURGE_MS, and count until then against HAKMEM_EMPTY_MAX_MB with every other
 * tier's empty memory: past that bound the oldest cached mappings are purged, not unmapped, so
 * that a loop over buffers larger than the bound still reuses their mappings and pays only the
 * page faults.  Mappings are made at the bucket size, so any cached one serves any request of
 * its bucket; a smaller one is grown (mremap) for a request of 8 MiB or more, and for any
 * request while the cache is past half its bound. */

#define BC_MIN_SHIFT 16
#define BC_MAX_SHIFT 26
#define BC_BUCKETS ((BC_MAX_SHIFT - BC_MIN_SHIFT) * 4 + 1)

static struct {
  pthread_mutex_t lock;
  hak_ss_list_t bucket[BC_BUCKETS]; /* newest first */
  size_t bytes;
  size_t hits, misses, evictions;
  /* Bytes of cached pages the bounds threw away, for the learner: the resident pages of a
   * mapping unmapped past the address bound, and the pages of one purged past the bound on
   * empty memory and then taken again (each costs a page fault per page at its next use). */
  uint64_t lost;
} bc = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The address bound in MiB that the learner set, or 0 for HAKMEM_BIGCACHE_MAX_MB's. */
static _Atomic(unsigned) bc_learned_mb;

unsigned hak_bigcache_bound_mb(void)
{
  unsigned mb = atomic_load_explicit(&bc_learned_mb, memory_order_relaxed);
  return mb ? mb : (unsigned)hak_opt.BIGCACHE_MAX_MB;
}

void hak_bigcache_set_bound_mb(unsigned mb)
{
  atomic_store_explicit(&bc_learned_mb, mb == (unsigned)hak_opt.BIGCACHE_MAX_MB ? 0 : mb,
                        memory_order_relaxed);
}

size_t hak_bigcache_extra(void)
{
  size_t mb = hak_bigcache_bound_mb(), def = (size_t)hak_opt.BIGCACHE_MAX_MB;
  return mb > def ? (mb - def) << 20 : 0;
}

/* The bucket of a mapping of at least n bytes, or -1 past the largest. */
static int bc_bucket(size_t n)
{
  if (n <= ((size_t)1 << BC_MIN_SHIFT)) return 0;
  if (n > ((size_t)1 << BC_MAX_SHIFT)) return -1;
  unsigned lg = 63 - (unsigned)__builtin_clzll((unsigned long long)(n - 1)); /* 2^lg < n <= 2^(lg+1) */
  size_t quarter = (size_t)1 << (lg - 2);
  unsigned q = (unsigned)((n - ((size_t)1 << lg) + quarter - 1) / quarter); /* 1..4 */
  return (int)((lg - BC_MIN_SHIFT) * 4 + q);
}

/* The mapping size of bucket b, in whole pages: with 64 KiB pages the quarter steps below
 * 256 KiB round up to the next bucket's size (and those buckets stay unused). */
static size_t bc_size(int b)
{
  if (b == 0) return hak_align_up((size_t)1 << BC_MIN_SHIFT, hak_os_page);
  unsigned lg = BC_MIN_SHIFT + (unsigned)(b - 1) / 4, q = (unsigned)(b - 1) % 4 + 1;
  return hak_align_up(((size_t)1 << lg) + q * ((size_t)1 << (lg - 2)), hak_os_page);
}

/* The bytes of a cached mapping that count as empty memory while it is not purged: all but
 * its first page, which holds the header. */
static size_t bc_resident(const hak_ss_t *ss)
{
  return ss->purged ? 0 : ss->map_size - hak_os_page;
}

static void bc_unlink(int b, hak_ss_t *ss)
{
  hak_ss_list_unlink(&bc.bucket[b], ss);
  bc.bytes -= ss->map_size;
  if (bc_resident(ss)) hak_empty_count(bc_resident(ss), false);
}

/* A cached mapping gives its pages back and keeps its address space: a later hit costs page
 * faults, not a mapping. */
static void bc_purge_one(hak_ss_t *ss)
{
  hak_os_purge((char *)ss + hak_os_page, ss->map_size - hak_os_page);
  hak_empty_count(bc_resident(ss), false);
  ss->purged = 1;
}

/* Purges the mappings cached for longer than HAKMEM_SLAB_PURGE_MS; in each bucket the oldest
 * are at the tail, and the purged ones older still. */
static void bc_purge_locked(double now)
{
  double delay = hak_purge_delay();
  size_t aged = 0;
  for (int b = 0; b < BC_BUCKETS; b++)
    for (hak_ss_t *ss = bc.bucket[b].tail; ss && now - ss->cached_at > delay; ss = ss->prev)
      if (!ss->purged) {
        aged += bc_resident(ss);
        bc_purge_one(ss);
        ss->purged = 2; /* by the delay: a hit soon after tells the learner */
      }
  hak_purge_aged(aged);
}

/* Takes out, while the cache is past its bounds, the oldest mappings; returns them linked
 * through next for the caller to unmap after dropping the lock. */
static hak_ss_t *bc_expire_locked(double now, bool all)
{
  size_t max_bytes = (size_t)hak_bigcache_bound_mb() << 20;
  double ttl = hak_opt.BIGCACHE_TTL_MS / 1000.0;
  hak_ss_t *out = NULL;
  for (;;) {
    int oldest = -1;
    for (int b = 0; b < BC_BUCKETS; b++)
      if (bc.bucket[b].tail &&
          (oldest < 0 || bc.bucket[b].tail->cached_at < bc.bucket[oldest].tail->cached_at))
        oldest = b;
    if (oldest < 0) break;
    hak_ss_t *ss = bc.bucket[oldest].tail;
    if (!all && bc.bytes <= max_bytes && now - ss->cached_at <= ttl) break;
    if (!all && bc.bytes > max_bytes) bc.lost += bc_resident(ss);
    bc_unlink(oldest, ss);
    bc.evictions++;
    ss->next = out;
    out = ss;
  }
  return out;
}

static size_t bc_release(hak_ss_t *list)
{
  size_t n = 0;
  while (list) {
    hak_ss_t *next = list->next;
    n += list->map_size;
    hak_ss_unmap(list, list->map_size);
    list = next;
  }
  return n;
}

/* Makes the mapping of ss map bytes long: in place if the address space after it is free (one
 * call, nothing moves), else by moving its pages to a new aligned place (no copy).  Returns
 * where it is now, or NULL with ss unchanged. */
static hak_ss_t *large_grow(hak_ss_t *ss, size_t map)
{
  size_t old_map = ss->map_size;
  if (hak_os_grow_in_place(ss, old_map, map)) {
    hak_ss_account((long)(map - old_map), 0);
    ss->map_size = map;
    return ss;
  }
  hak_ss_t *to = hak_ss_map(map);
  if (!to) return NULL;
  hak_region_mark(ss, false);
  if (!hak_os_remap(ss, old_map, to, map)) {
    hak_region_mark(ss, true);
    hak_ss_unmap(to, map);
    return NULL;
  }
  hak_ss_account(-(long)old_map, -1);
  to->map_size = map;
  return to;
}

/* How many buckets up a request may look: 8 buckets are two doublings.  A mapping up to
 * BC_KEEP_UP buckets larger (at most one doubling) is used whole; one larger still gives its
 * tail back (one munmap) and serves as one of the request's bucket.  Either is cheaper than a
 * fresh mapping and its page faults.  A block that realloc is growing looks through every
 * larger bucket and keeps what it finds whole: it will most likely grow into it, in place. */
#define BC_LOOK_UP 8
#define BC_KEEP_UP 4
#define BC_LOOK_DOWN 4
#define BC_GROW_MIN ((size_t)8 << 20)

static hak_ss_t *bc_take(int b, bool growing)
{
  if (b < 0) return NULL;
  double now = hak_os_now();
  pthread_mutex_lock(&bc.lock);
  hak_ss_t *ss = NULL;
  int k, last = growing ? BC_BUCKETS - 1 : b + BC_LOOK_UP;
  for (k = b; k < BC_BUCKETS && k <= last; k++) {
    if ((ss = bc.bucket[k].head) != NULL) {
      bc_unlink(k, ss);
      break;
    }
  }
  /* None large enough, for a request of BC_GROW_MIN or more: one up to a doubling smaller is
   * grown to size (large_grow), which faults in only the pages it did not have.  Smaller
   * requests leave it for a request it fits (bench_large 256 KiB..8 MiB: 0.039 s so, 0.067 s
   * with any size grown; a loop over 5..25 MiB buffers: 0.43 s with none grown, 0.21 s). */
  for (int d = b - 1; !ss && bc_size(b) >= BC_GROW_MIN && d >= 0 && d >= b - BC_LOOK_DOWN; d--) {
    if ((ss = bc.bucket[d].head) != NULL) bc_unlink(d, ss);
  }
  /* Still none, with the cache past half its bound: a miss would map afresh and, when the
   * program's live bytes fall again, push the cache over its bound, which then throws the
   * oldest mapping's pages away.  The largest smaller one that has its pages is grown to size
   * instead (large_grow): only the difference faults in, and the cache holds fewer bytes
   * (bench_large 10000 32 1048577 8388608: 406.6k page faults and 244.7 MiB peak, against
   * 424.0k and 252.6 MiB with such requests always mapped afresh). */
  bool full = bc.bytes > (size_t)hak_bigcache_bound_mb() << 19;
  for (int d = b - 1; !ss && full && d >= 0; d--) {
    hak_ss_t *h = bc.bucket[d].head;
    if (h && !h->purged) bc_unlink(d, ss = h);
  }
  if (ss) bc.hits++;
  else bc.misses++;
  if (ss && ss->purged == 1) bc.lost += ss->map_size - hak_os_page; /* purged by the bound */
  hak_ss_t *old = bc_expire_locked(now, false);
  pthread_mutex_unlock(&bc.lock);
  bc_release(old);
  size_t want = bc_size(b);
  if (ss && ss->map_size < want) {
    hak_ss_t *grown = large_grow(ss, want);
    if (!grown) hak_ss_unmap(ss, ss->map_size); /* out of address space: a fresh one fails too */
    return grown;
  }
  /* Cutting off a mapping's tail takes no new map entry, but a refused munmap leaves the
   * mapping, its size and the count as they are. */
  if (ss && k > b + BC_KEEP_UP && !growing &&
      hak_os_unmap((char *)ss + want, ss->map_size - want)) {
    hak_ss_account(-(long)(ss->map_size - want), 0);
    ss->map_size = want;
  }
  return ss;
}

/* Keeps a freed mapping for reuse, or gives it back when it has no bucket or the cache is off. */
static void bc_put(hak_ss_t *ss)
{
  int b = bc_bucket(ss->map_size);
  if (b < 0 || bc_size(b) != ss->map_size || hak_opt.BIGCACHE_MAX_MB == 0) {
    hak_ss_unmap(ss, ss->map_size);
    return;
  }
  double now = hak_os_now();
  pthread_mutex_lock(&bc.lock);
  ss->cached_at = now;
  ss->purged = 0;
  hak_ss_list_push(&bc.bucket[b], ss);
  bc.bytes += ss->map_size;
  hak_empty_count(bc_resident(ss), true);
  hak_ss_t *old = bc_expire_locked(now, false);
  pthread_mutex_unlock(&bc.lock);
  bc_release(old);
  hak_empty_enforce();
}

void hak_bigcache_purge_over(size_t max)
{
  pthread_mutex_lock(&bc.lock);
  while (hak_empty_resident() > max) {
    /* The oldest mapping not purged yet: in each bucket the purged ones are the oldest. */
    hak_ss_t *oldest = NULL;
    for (int b = 0; b < BC_BUCKETS; b++) {
      hak_ss_t *ss = bc.bucket[b].tail;
      while (ss && ss->purged) ss = ss->prev;
      if (ss && (!oldest || ss->cached_at < oldest->cached_at)) oldest = ss;
    }
    if (!oldest) break;
    bc_purge_one(oldest);
  }
  pthread_mutex_unlock(&bc.lock);
}

void hak_bigcache_maintain(double now)
{
  pthread_mutex_lock(&bc.lock);
  hak_ss_t *old = bc_expire_locked(now, false);
  bc_purge_locked(now);
  pthread_mutex_unlock(&bc.lock);
  bc_release(old);
}

size_t hak_bigcache_trim(void)
{
  pthread_mutex_lock(&bc.lock);
  hak_ss_t *all = bc_expire_locked(0, true);
  pthread_mutex_unlock(&bc.lock);
  return bc_release(all);
}

void hak_bigcache_counts(size_t *bytes, size_t *hits, size_t *misses)
{
  pthread_mutex_lock(&bc.lock);
  *bytes = bc.bytes;
  *hits = bc.hits;
  *misses = bc.misses;
  pthread_mutex_unlock(&bc.lock);
}

void hak_bigcache_learn_counts(uint64_t *lost, uint64_t *requests)
{
  pthread_mutex_lock(&bc.lock);
  *lost = bc.lost;
  *requests = bc.hits + bc.misses;
  pthread_mutex_unlock(&bc.lock);
}

/* The size to map for a block needing n bytes from its mapping's start: its bucket's size, so
 * that it can be cached and reused, or whole pages past the largest bucket. */
static size_t large_map_size(size_t n)
{
  int b = bc_bucket(n);
  return b >= 0 ? bc_size(b) : hak_align_up(n, hak_os_page);
}

void *hak_large_alloc(size_t size, size_t align, bool growing, bool *zeroed)
{
  hak_ensure_init();
  hak_maintain();
  /* A block realloc makes or grows, below HAK_GROWN_SPAN_MAX, gets room in the L2.5 tier for
   * half as much again, so that its next steps stay where it is; a larger one is a large block,
   * which grows by moving pages, not bytes, and leaves no copy behind (bench_realloc's peak RSS
   * 92.6 MiB with the L2.5 tier up to two thirds of its largest block, 73.5 with this). */
  if (hak_span_fits(size, align) &&
      (!growing || (size < HAK_GROWN_SPAN_MAX && hak_span_fits(size + size / 2, align))))
    return hak_span_alloc(growing ? size + size / 2 : size, align, zeroed);
  if (align > HAK_SS_SIZE / 2) {
    /* Huge alignment: the block starts its mapping, so it has no header; see hak_huge_free. */
    *zeroed = true;
    return huge_alloc(size, align);
  }
  size_t off = HAK_MAX(align, HAK_LARGE_OFF);
  if (size > SIZE_MAX - off - HAK_SS_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  /* At least one usable byte: a usable size of 0 reads as no large block (hak_block_find). */
  size_t map = large_map_size(off + (size ? size : 1));
  hak_ss_t *ss = bc_take(bc_bucket(map), growing);
  /* A purged cached mapping reads as zero past its first page. */
  *zeroed = ss == NULL || (ss->purged && hak_os_purge_zeroes());
  if (ss && ss->purged) {
    if (ss->purged == 2) hak_purge_retaken(ss->map_size - hak_os_page, ss->cached_at);
    if (off < hak_os_page) memset((char *)ss + off, 0, hak_os_page - off);
    ss->purged = 0;
  }
  if (hak_unlikely(hak_stats_on)) hak_stats_large_alloc(size, ss != NULL);
  if (!ss) {
    ss = hak_ss_map(map);
    if (!ss) return NULL;
    ss->kind = HAK_SS_LARGE;
    ss->slab_shift = HAK_SS_SHIFT; /* every pointer of the first region reads slabs[0]: empty */
    ss->map_size = map;
  }
  map = ss->map_size; /* a cached mapping may be larger than asked */
  ss->block_off = off;
  ss->req_size = map - off;
  ss->magic = HAK_SS_MAGIC;
  return (char *)ss + off;
}

bool hak_large_free(hak_ss_t *ss, void *p)
{
  if ((char *)p != (char *)ss + ss->block_off) return false;
  ss->magic = 0; /* a cached mapping holds no block: any free into it is reported */
  bc_put(ss);
  return true;
}

/* Finds p among the huge-aligned blocks; forgets it when unlink is set.  Returns its size. */
static size_t huge_find(const void *p, bool unlink)
{
  if (!atomic_load_explicit(&huge.count, memory_order_relaxed) || p == NULL || p == HUGE_GONE)
    return 0;
  size_t size = 0;
  pthread_mutex_lock(&huge.lock);
  hak_huge_t *e = huge_slot(p);
  if (e->block == p) {
    size = e->size;
    if (unlink) {
      e->block = HUGE_GONE;
      atomic_fetch_sub(&huge.count, 1);
    }
  }
  pthread_mutex_unlock(&huge.lock);
  return size;
}

bool hak_huge_free(void *p)
{
  size_t size = huge_find(p, true);
  if (!size) return false;
  hak_os_unmap(p, size);
  return true;
}

size_t hak_large_usable(const hak_ss_t *ss, const void *p)
{
  return (const char *)p == (const char *)ss + ss->block_off ? ss->req_size : 0;
}

size_t hak_huge_usable(const void *p)
{
  return huge_find(p, false);
}

void *hak_large_resize(hak_ss_t *ss, void *p, size_t size)
{
  size_t off = ss->block_off;
  if (size > SIZE_MAX - off - HAK_SS_SIZE) return NULL;
  size_t map = large_map_size(off + size), old_map = ss->map_size;
  if (off + size <= old_map) {
    /* shrink in place when that gives back half or more (and the kernel lets it) */
    if (map * 2 <= old_map && hak_os_unmap((char *)ss + map, old_map - map)) {
      hak_ss_account(-(long)(old_map - map), 0);
      ss->map_size = map;
      ss->req_size = map - off;
    }
    return p;
  }
  /* Grow by at least half, so that a block grown in small steps is resized a logarithmic
   * number of times (the pages past the request are only address space until written). */
  size_t at_least = large_map_size(old_map + old_map / 2);
  if (map < at_least && off + size <= at_least) map = at_least;
  hak_ss_t *to = large_grow(ss, map); /* or fail and let realloc copy */
  if (!to) return NULL;
  to->req_size = map - off;
  return (char *)to + off;
}

void hak_large_lock_all(void)
{
  pthread_mutex_lock(&huge.lock);
  pthread_mutex_lock(&bc.lock);
}

void hak_large_unlock_all(bool child)
{
  if (child) {
    pthread_mutex_init(&bc.lock, NULL);
    pthread_mutex_init(&huge.lock, NULL);
    return;
  }
  pthread_mutex_unlock(&bc.lock);
  pthread_mutex_unlock(&huge.lock);
}
