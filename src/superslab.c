/* SuperSlabs: the region map, the shared pool of slabs and the LRU cache of empty SuperSlabs.
 * Everything here is a slow path; each list has a mutex, taken one at a time. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "options.h"
#include "large.h"
#include "os.h"
#include "small.h"
#include "span.h"

/* ---- the region map ---------------------------------------------------------------------- */

_Atomic(uint64_t) hak_region_bits[((size_t)1 << (HAK_VA_BITS - HAK_SS_SHIFT)) / 64];

void hak_region_mark(const void *ss, bool ours)
{
  uintptr_t i = (uintptr_t)ss >> HAK_SS_SHIFT;
  if (i >> (HAK_VA_BITS - HAK_SS_SHIFT))
    hak_fatal("hakmem: the kernel mapped memory at %p, beyond the %d-bit map", (void *)ss,
              HAK_VA_BITS);
  uint64_t bit = (uint64_t)1 << (i & 63);
  if (ours) atomic_fetch_or_explicit(&hak_region_bits[i >> 6], bit, memory_order_release);
  else atomic_fetch_and_explicit(&hak_region_bits[i >> 6], ~bit, memory_order_release);
}

/* ---- the LRU cache of empty SuperSlabs --------------------------------------------------- */

/* The cache has two parts.  The list holds SuperSlabs that keep their pages (or some of them),
 * most recently cached first.  Past the count bound or the purge delay the oldest give back
 * every page, their header's too, and keep only their address space: they move to the ring,
 * which records them outside themselves, oldest first, and costs no memory but the ring's
 * entry.  They are unmapped after the TTL or past the address-space bound, many at a time, so
 * that release_list joins neighbours: a burst of frees that empties thousands of regions costs
 * one madvise each, not one munmap each (a munmap takes the address space's lock for writing
 * against every page fault of the other threads). */
typedef struct {
  hak_ss_t *ss;
  double at; /* when it was cached */
  bool aged; /* purged by the delay, not by a bound */
} hak_kept_t;

static struct {
  pthread_mutex_t lock;
  hak_ss_list_t list;     /* with their pages */
  size_t count;           /* on the list */
  hak_kept_t *ring;       /* ring[(first + i) % cap] for i < kept; mapped, grown by doubling */
  size_t cap, first, kept, ring_bytes; /* ring_bytes: its mapping, whole pages */
  size_t mapped, unmapped, live; /* regions mapped and unmapped in all, live now */
  size_t bytes_mapped, bytes_peak;
} lru = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- empty memory that keeps its pages ---------------------------------------------------
 * Bytes of the pools' dirty slabs, of the cached SuperSlabs not yet purged and of the span
 * regions' dirty pages (span.c), changed under the lock of what holds them.  Past its bound
 * (hak_empty_bound), hak_empty_enforce purges the oldest at once instead of after
 * HAKMEM_SLAB_PURGE_MS. */
static _Atomic(size_t) empty_resident, empty_peak;
_Atomic(size_t) hak_in_use_bytes;

/* HAKMEM_EMPTY_MAX_MB (plus what the learner let the BigCache hold above its own option), or
 * HAKMEM_EMPTY_MAX_PERCENT of the memory in use when that is more (off by default: it trades
 * peak RSS for time).  A heap of gigabytes then keeps the holes that replacing its blocks
 * leaves for the purge delay, as a small one does, instead of purging on almost every free and
 * faulting the pages in again at the next allocation; a heap freed whole falls back to the
 * megabytes as it empties. */
size_t hak_empty_bound(void)
{
  size_t max = ((size_t)hak_opt.EMPTY_MAX_MB << 20) + hak_bigcache_extra();
  /* Read as signed: were the count ever to go below zero, the bound would not rise with it. */
  intptr_t used = (intptr_t)atomic_load_explicit(&hak_in_use_bytes, memory_order_relaxed);
  size_t share = used > 0 ? (size_t)used / 100 * (size_t)hak_opt.EMPTY_MAX_PERCENT : 0;
  return HAK_MAX(max, share);
}

/* *v becomes x if x is more. */
static void atomic_raise(_Atomic(size_t) *v, size_t x)
{
  size_t was = atomic_load_explicit(v, memory_order_relaxed);
  while (x > was &&
         !atomic_compare_exchange_weak_explicit(v, &was, x, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

size_t hak_empty_resident(void)
{
  return atomic_load_explicit(&empty_resident, memory_order_relaxed);
}

size_t hak_empty_peak(void)
{
  return atomic_load_explicit(&empty_peak, memory_order_relaxed);
}

void hak_empty_count(size_t bytes, bool add)
{
  if (!add) {
    atomic_fetch_sub_explicit(&empty_resident, bytes, memory_order_relaxed);
    return;
  }
  atomic_raise(&empty_peak,
               atomic_fetch_add_explicit(&empty_resident, bytes, memory_order_relaxed) + bytes);
}

/* ---- the purge delay ------------------------------------------------------------------- */
static _Atomic(unsigned) purge_ms_learned;
static _Atomic(uint64_t) purged_aged, purged_retaken;
static _Atomic(size_t) retaken_gap; /* the longest free-to-retake time since the last look, ms */

double hak_purge_delay(void)
{
  unsigned ms = atomic_load_explicit(&purge_ms_learned, memory_order_relaxed);
  return (ms ? ms : (unsigned)hak_opt.SLAB_PURGE_MS) / 1000.0;
}

void hak_purge_delay_set(unsigned ms)
{
  atomic_store_explicit(&purge_ms_learned, ms, memory_order_relaxed);
}

void hak_purge_aged(size_t bytes)
{
  if (hak_opt.LEARN && bytes) atomic_fetch_add_explicit(&purged_aged, bytes, memory_order_relaxed);
}

void hak_purge_retaken(size_t bytes, double freed_at)
{
  if (!hak_opt.LEARN) return;
  double gap = hak_os_now() - freed_at;
  if (gap > hak_opt.LEARN_PURGE_MAX_MS / 1000.0) return; /* no delay it may set kept it */
  atomic_fetch_add_explicit(&purged_retaken, bytes, memory_order_relaxed);
  atomic_raise(&retaken_gap, (size_t)(gap * 1000) + 1);
}

void hak_purge_totals(uint64_t *aged, uint64_t *retaken, unsigned *gap_ms)
{
  *aged = atomic_load_explicit(&purged_aged, memory_order_relaxed);
  *retaken = atomic_load_explicit(&purged_retaken, memory_order_relaxed);
  *gap_ms = (unsigned)atomic_exchange_explicit(&retaken_gap, 0, memory_order_relaxed);
}

static bool lru_purge_one(hak_ss_t *ss, hak_ss_t **purge);
static size_t lru_settle(hak_ss_t *purge, hak_ss_t *old, double now, bool all);

static size_t ss_purgeable(void)
{
  size_t keep = hak_align_up(HAK_SS_HDR, hak_os_page);
  return keep < HAK_SS_SIZE ? HAK_SS_SIZE - keep : 0;
}

/* ss joins the LRU cache's list at its head, as cached now, with its resident bytes counted;
 * under lru.lock. */
static void lru_link_locked(hak_ss_t *ss, double now)
{
  ss->cached_at = now;
  ss->listed = 1;
  ss->aged = 0;
  hak_ss_list_push(&lru.list, ss);
  lru.count++;
  hak_empty_count(ss->resident, true);
}

static void lru_unlink(hak_ss_t *ss)
{
  hak_ss_list_unlink(&lru.list, ss);
  ss->listed = 0;
  lru.count--;
  hak_empty_count(ss->resident, false);
}

void hak_ss_account(long bytes, int regions)
{
  pthread_mutex_lock(&lru.lock);
  if (regions < 0) lru.unmapped += (size_t)-regions;
  lru.live += (size_t)(long)regions;
  lru.bytes_mapped += (size_t)bytes;
  if (lru.bytes_mapped > lru.bytes_peak) lru.bytes_peak = lru.bytes_mapped;
  pthread_mutex_unlock(&lru.lock);
}

static bool reserve_keep_refused(char *at, size_t units);

/* Unmaps size bytes at ss, which hold `regions` regions side by side, each marked in the map.
 * Where the kernel refuses (past vm.max_map_count the middle of a mapping cannot be cut out),
 * their pages go back all the same, and the whole regions in them wait, unmarked and reading as
 * zero, to be the next SuperSlabs mapped (ss_reserve_take): a process at the map count's limit
 * can map nothing new either.  Failing that (the purge refused too, or no room to note them)
 * they stay mapped and marked, empty (no pointer into them passes free's checks), and counted:
 * lost address space, not a wrong count.  Returns the bytes unmapped. */
static size_t ss_release_os(hak_ss_t *ss, size_t size, unsigned regions)
{
  for (unsigned i = 0; i < regions; i++) hak_region_mark((char *)ss + i * HAK_SS_SIZE, false);
  if (!hak_os_unmap(ss, size)) {
    size_t units = size >> HAK_SS_SHIFT; /* a large mapping's tail past them stays, counted */
    if (units && hak_os_purge(ss, size) && reserve_keep_refused((char *)ss, units)) {
      hak_ss_account(-(long)(units << HAK_SS_SHIFT), -(int)regions);
      return 0;
    }
    for (unsigned i = 0; i < regions; i++) hak_region_mark((char *)ss + i * HAK_SS_SIZE, true);
    return 0;
  }
  hak_ss_account(-(long)size, -(int)regions);
  return size;
}

/* Unmaps n regions given by address (sorted here), neighbours in one call; nothing is written
 * in them, so that one whose pages are gone stays without.  Returns the bytes unmapped. */
static size_t release_array(hak_ss_t **v, size_t n)
{
  for (size_t i = 1; i < n; i++) /* insertion sort: n is at most a few hundred */
    for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      hak_ss_t *t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  size_t bytes = 0;
  for (size_t i = 0; i < n;) {
    unsigned run = 1;
    while (i + run < n && (char *)v[i + run] == (char *)v[i] + run * HAK_SS_SIZE) run++;
    bytes += ss_release_os(v[i], run * HAK_SS_SIZE, run);
    i += run;
  }
  return bytes;
}

/* ---- the ring of SuperSlabs that keep only their address space ---- */

/* Records ss, which gave back all its pages, as the newest in the ring; false if the ring is
 * full and cannot grow. */
static bool ring_push(hak_ss_t *ss, double at, bool aged)
{
  if (lru.kept == lru.cap) {
    size_t bytes = lru.ring_bytes ? 2 * lru.ring_bytes : hak_os_page; /* whole pages */
    hak_kept_t *ring = hak_os_map_aligned(bytes, hak_os_page);
    if (!ring) return false;
    for (size_t i = 0; i < lru.kept; i++) ring[i] = lru.ring[(lru.first + i) % lru.cap];
    if (lru.ring) hak_os_unmap(lru.ring, lru.ring_bytes);
    lru.ring = ring;
    lru.ring_bytes = bytes;
    lru.cap = bytes / sizeof *ring;
    lru.first = 0;
  }
  lru.ring[(lru.first + lru.kept++) % lru.cap] = (hak_kept_t){ss, at, aged};
  return true;
}

static hak_kept_t *ring_oldest(void)
{
  return lru.kept ? &lru.ring[lru.first] : NULL;
}

static hak_ss_t *ring_pop_oldest(void)
{
  hak_ss_t *ss = lru.ring[lru.first].ss;
  lru.first = (lru.first + 1) % lru.cap;
  lru.kept--;
  return ss;
}

static hak_kept_t ring_pop_newest(void)
{
  return lru.ring[(lru.first + --lru.kept) % lru.cap];
}

#define LRU_BYTES ((lru.count + lru.kept) * HAK_SS_SIZE)

/* ss leaves the list for *out, a list to unmap (linked through next); under lru.lock. */
static void lru_take(hak_ss_t *ss, hak_ss_t **out)
{
  lru_unlink(ss);
  ss->next = *out;
  *out = ss;
}

/* Past the count bound the oldest SuperSlabs on the list are taken off it, to give back their
 * pages and join the ring (*purge), or, where the address-space bound leaves no room for one
 * (0: none kept), to be unmapped; cached for longer than the TTL, or past the address-space
 * bound with the ring empty, the oldest are taken out to be unmapped; with all, every one is.
 * Returns the list to unmap; both lists are linked through next, for lru_settle once the
 * caller drops the lock (which also applies the bounds to the ring). */
static hak_ss_t *lru_expire_locked(double now, bool all, hak_ss_t **purge)
{
  size_t max_count = (size_t)hak_opt.SUPERSLAB_MAX_CACHED;
  size_t max_bytes = (size_t)hak_opt.SUPERSLAB_MAX_MEMORY_MB << 20;
  double ttl = hak_opt.SUPERSLAB_TTL_SEC;
  hak_ss_t *out = NULL;
  hak_ss_t *ss, *prev;
  for (ss = lru.list.tail; !all && ss && lru.count > max_count; ss = prev) {
    prev = ss->prev;
    if (max_bytes >= HAK_SS_SIZE) lru_purge_one(ss, purge);
    else if (!hak_heap_freeing(ss)) lru_take(ss, &out);
  }
  while ((ss = lru.list.tail) != NULL &&
         (all || now - ss->cached_at > ttl || (!lru.kept && LRU_BYTES > max_bytes)))
    lru_take(ss, &out);
  return out;
}

/* Unmaps the ring's oldest entries while the cache is past the address-space bound (down to
 * half of it at once, so that what leaves goes in few calls), or older than the TTL; with all,
 * every one.  Their addresses are gathered apart: a store into one would fault a page back in
 * (a huge page, where transparent huge pages are always on).  Returns the bytes unmapped. */
static size_t ring_expire(double now, bool all)
{
  size_t max_bytes = (size_t)hak_opt.SUPERSLAB_MAX_MEMORY_MB << 20, bytes = 0;
  double ttl = hak_opt.SUPERSLAB_TTL_SEC;
  pthread_mutex_lock(&lru.lock);
  if (LRU_BYTES > max_bytes) max_bytes /= 2;
  for (;;) {
    hak_ss_t *v[256];
    size_t n = 0;
    for (hak_kept_t *k; n < 256 && (k = ring_oldest()) != NULL &&
                        (all || LRU_BYTES > max_bytes || now - k->at > ttl);)
      v[n++] = ring_pop_oldest();
    pthread_mutex_unlock(&lru.lock);
    if (!n) return bytes;
    bytes += release_array(v, n);
    pthread_mutex_lock(&lru.lock);
  }
}

/* Unmaps a list of cached SuperSlabs (linked through next), 256 at a time by release_array. */
static size_t release_list(hak_ss_t *list)
{
  size_t n = 0, k = 0;
  /* A region that another thread is still freeing into (its push done, its last look at the
   * slab's header not yet) stays mapped: back to the cache, as if just given, for a later
   * pass to take out, and not handed out while the name stays (lru_get): a new format could
   * make what the freer reads next look like a slab it should give back. */
  hak_ss_t *busy = NULL, *v[256], *next;
  for (hak_ss_t *ss = list; ss; ss = next) {
    next = ss->next; /* read before a release_array unmaps ss */
    if (hak_heap_freeing(ss)) {
      ss->next = busy;
      busy = ss;
      continue;
    }
    v[k++] = ss;
    if (k == sizeof v / sizeof v[0]) {
      n += release_array(v, k);
      k = 0;
    }
  }
  n += release_array(v, k);
  if (busy) {
    double now = hak_os_now();
    pthread_mutex_lock(&lru.lock);
    for (hak_ss_t *ss = busy, *next; ss; ss = next) {
      next = ss->next;
      ss->named = 1;
      lru_link_locked(ss, now);
    }
    pthread_mutex_unlock(&lru.lock);
  }
  return n;
}

void hak_ss_give(hak_ss_t *ss, size_t resident)
{
  double now = hak_os_now();
  pthread_mutex_lock(&lru.lock);
  ss->magic = 0; /* a pointer into a cached SuperSlab is nobody's block */
  ss->resident = HAK_MIN(resident, ss_purgeable());
  ss->purged = ss->resident == 0;
  lru_link_locked(ss, now);
  hak_ss_t *purge = NULL, *old = lru_expire_locked(now, false, &purge);
  pthread_mutex_unlock(&lru.lock);
  lru_settle(purge, old, now, false);
  hak_empty_enforce();
}

static hak_ss_t *lru_get(bool *clean)
{
  pthread_mutex_lock(&lru.lock);
  hak_ss_t *ss = lru.list.head; /* one with its pages first: no faults to take them */
  while (ss && ss->named && hak_heap_freeing(ss)) ss = ss->next;
  *clean = ss == NULL && lru.kept; /* from the ring: it reads as zero, header and all */
  if (*clean) {
    hak_kept_t k = ring_pop_newest();
    ss = k.ss;
    if (k.aged) hak_purge_retaken(HAK_SS_SIZE, k.at);
  } else if (ss) {
    ss->named = 0;
    lru_unlink(ss);
  }
  double now = hak_os_now();
  hak_ss_t *purge = NULL, *old = lru_expire_locked(now, false, &purge);
  pthread_mutex_unlock(&lru.lock);
  lru_settle(purge, old, now, false);
  return ss;
}

hak_ss_t *hak_ss_take(bool *clean)
{
  hak_ss_t *ss = lru_get(clean);
  if (ss) return ss;
  *clean = true;
  return hak_ss_map(HAK_SS_SIZE);
}

/* Address space for single SuperSlabs is mapped HAK_SS_RESERVE at a time and handed out one
 * region at a time: one mmap per 16 regions instead of one each, and regions that lie side by
 * side, which the kernel keeps as one mapping.  The untouched rest costs no memory (and no
 * commit charge: MAP_NORESERVE).  Under reserve.lock. */
#define HAK_SS_RESERVE (16 * HAK_SS_SIZE)
#define HAK_REFUSED_MAX 64
static struct {
  pthread_mutex_t lock;
  char *next;
  size_t left;
  /* Runs of regions whose munmap the kernel refused, purged (ss_release_os): taken first. */
  struct {
    char *at;
    size_t units;
  } refused[HAK_REFUSED_MAX];
  unsigned nrefused;
  size_t refused_maps, refused_regions; /* ever, for HAKMEM_STATS */
} reserve = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool reserve_keep_refused(char *at, size_t units)
{
  pthread_mutex_lock(&reserve.lock);
  bool room = reserve.nrefused < HAK_REFUSED_MAX;
  if (room) {
    reserve.refused[reserve.nrefused].at = at;
    reserve.refused[reserve.nrefused++].units = units;
    reserve.refused_maps++;
    reserve.refused_regions += units;
  }
  pthread_mutex_unlock(&reserve.lock);
  return room;
}

static hak_ss_t *ss_reserve_take(void)
{
  pthread_mutex_lock(&reserve.lock);
  if (reserve.nrefused) {
    hak_ss_t *ss = (hak_ss_t *)(void *)reserve.refused[reserve.nrefused - 1].at;
    reserve.refused[reserve.nrefused - 1].at += HAK_SS_SIZE;
    if (--reserve.refused[reserve.nrefused - 1].units == 0) reserve.nrefused--;
    pthread_mutex_unlock(&reserve.lock);
    return ss;
  }
  if (!reserve.left) {
    /* Where address space is short (RLIMIT_AS), a single region may still be had. */
    char *p = hak_os_map_aligned(HAK_SS_RESERVE, HAK_SS_SIZE);
    reserve.next = p ? p : hak_os_map_aligned(HAK_SS_SIZE, HAK_SS_SIZE);
    reserve.left = !reserve.next ? 0 : p ? HAK_SS_RESERVE : HAK_SS_SIZE;
  }
  hak_ss_t *ss = NULL;
  if (reserve.left) {
    ss = (hak_ss_t *)(void *)reserve.next;
    reserve.next += HAK_SS_SIZE;
    reserve.left -= HAK_SS_SIZE;
  }
  pthread_mutex_unlock(&reserve.lock);
  return ss;
}

/* For when a mapping of size bytes fails, maybe for want of address space (RLIMIT_AS) or of
 * commit charge (strict overcommit): the ring's address space, which holds no page, is given
 * up and the caller tries again; true if there was any.  A request larger than any address
 * space (2^46 bytes) does not empty it, nor are the SuperSlabs that keep their pages unmapped. */
static bool ring_release_for(size_t size)
{
  return size < ((size_t)1 << 46) && ring_expire(0, true) > 0;
}

static hak_ss_t *ss_map_once(size_t size)
{
  return size == HAK_SS_SIZE ? ss_reserve_take() : hak_os_map_aligned(size, HAK_SS_SIZE);
}

hak_ss_t *hak_ss_map(size_t size)
{
  hak_ss_t *ss = ss_map_once(size);
  if (!ss && ring_release_for(size)) ss = ss_map_once(size);
  if (!ss) return NULL;
  if (hak_opt.SS_PREFAULT && size == HAK_SS_SIZE) hak_os_populate(ss, size);
  pthread_mutex_lock(&lru.lock);
  lru.mapped++;
  pthread_mutex_unlock(&lru.lock);
  hak_ss_account((long)size, 1);
  hak_region_mark(ss, true);
  return ss;
}

void hak_ss_unmap(hak_ss_t *ss, size_t size)
{
  ss->magic = 0;
  ss_release_os(ss, size, 1);
}

/* ---- the shared pool --------------------------------------------------------------------- */

typedef struct {
  pthread_mutex_t lock;
  hak_slab_t *dirty;       /* EMPTY slabs whose pages are still there, newest first */
  hak_slab_t *dirty_tail;
  hak_slab_t *clean;       /* EMPTY slabs whose pages went back to the OS */
  hak_ss_list_t with_unused; /* SuperSlabs with UNUSED slabs left */
  size_t active;           /* ACTIVE slabs of this kind */
} hak_pool_t;

static hak_pool_t pools[HAK_SS_NKINDS] = {
    {.lock = PTHREAD_MUTEX_INITIALIZER}, {.lock = PTHREAD_MUTEX_INITIALIZER}};

static void empty_unlink(hak_pool_t *pool, hak_slab_t *s)
{
  if (s->list == HAK_LIST_DIRTY) {
    hak_empty_count(hak_slab_bytes(s), false);
    if (pool->dirty_tail == s) __atomic_store_n(&pool->dirty_tail, s->prev, __ATOMIC_RELAXED);
    hak_slab_list_unlink(&pool->dirty, s);
  } else {
    hak_slab_list_unlink(&pool->clean, s);
  }
}

/* Gives the pages of an EMPTY slab back to the OS, keeping the SuperSlab header and the slabs'
 * maps (the other slabs may be in use). */
static void slab_purge(hak_slab_t *s)
{
  hak_ss_t *ss = hak_ss_of_slab(s);
  uintptr_t base = (uintptr_t)ss + ((size_t)s->index << ss->slab_shift);
  uintptr_t end = base + ((size_t)1 << ss->slab_shift);
  uintptr_t from = hak_align_up(HAK_MAX(base, (uintptr_t)ss + HAK_SS_BLOCKS), hak_os_page);
  if (from < end) hak_os_purge((void *)from, end - from);
}

/* s, a dirty slab of pool, gives its pages back and becomes clean. */
static void pool_purge_slab_locked(hak_pool_t *pool, hak_slab_t *s, bool aged)
{
  empty_unlink(pool, s);
  slab_purge(s);
  s->aged = aged;
  hak_slab_list_push(&pool->clean, s, HAK_LIST_CLEAN);
}

/* Purges the dirty slabs that have been empty longer than the delay (all of them if all). */
static void pool_purge_locked(hak_pool_t *pool, double now, bool all)
{
  double delay = hak_purge_delay();
  hak_slab_t *s;
  size_t aged = 0;
  while ((s = pool->dirty_tail) != NULL && (all || now - s->empty_since > delay)) {
    aged += hak_slab_bytes(s);
    pool_purge_slab_locked(pool, s, !all);
  }
  if (!all) hak_purge_aged(aged);
}

static void unused_push(hak_pool_t *pool, hak_ss_t *ss)
{
  hak_ss_list_push(&pool->with_unused, ss);
  ss->listed = 1;
}

static void unused_unlink(hak_pool_t *pool, hak_ss_t *ss)
{
  hak_ss_list_unlink(&pool->with_unused, ss);
  ss->listed = 0;
}

static void ss_format(hak_ss_t *ss, unsigned kind)
{
  ss->kind = (uint8_t)kind;
  ss->slab_shift = (uint8_t)hak_kind_slab_shift[kind];
  ss->nslabs = (uint8_t)(HAK_SS_SIZE >> ss->slab_shift);
  ss->next_unused = 0;
  ss->in_use = 0;
  for (unsigned i = 0; i < ss->nslabs; i++) ss->slabs[i].index = (uint8_t)i;
  ss->magic = HAK_SS_MAGIC;
}

static void slab_format(hak_slab_t *s, unsigned cls, hak_heap_t *heap)
{
  hak_ss_t *ss = hak_ss_of_slab(s);
  size_t slab_size = (size_t)1 << ss->slab_shift;
  char *base = (char *)ss + ((size_t)s->index << ss->slab_shift);
  s->start = s->index == 0 ? (char *)ss + HAK_SS_BLOCKS : base;
  s->bsize = hak_class_size[cls];
  s->capacity = (uint32_t)((size_t)(base + slab_size - s->start) / s->bsize);
  s->cls = (uint8_t)cls;
  s->magic = hak_class_magic[cls];
  s->map = (uint64_t *)(void *)((char *)ss + HAK_SS_HDR) + (size_t)s->index * HAK_MAP_LINE;
  for (uint32_t w = 0, words = (s->capacity + 63) / 64; w < words; w += HAK_MAP_LINE)
    memset(hak_map_word(s->map, w), 0, HAK_MIN(HAK_MAP_LINE, words - w) * sizeof(uint64_t));
  s->used = 0;
  s->carved = 0;
  __atomic_store_n(&s->limit, 0, __ATOMIC_RELAXED);
  s->next = s->prev = NULL;
  hak_slab_set_list(s, HAK_LIST_NONE);
  __atomic_store_n(&s->orphan, 0, __ATOMIC_RELAXED);
  atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
  atomic_store_explicit(&s->owner, heap, memory_order_relaxed);
  s->state = HAK_SLAB_ACTIVE;
}

bool hak_pool_would_grow(unsigned kind)
{
  hak_pool_t *pool = &pools[kind];
  pthread_mutex_lock(&pool->lock);
  bool grow = !pool->dirty && !pool->clean && !pool->with_unused.head;
  pthread_mutex_unlock(&pool->lock);
  return grow;
}

hak_slab_t *hak_pool_take(unsigned kind, unsigned cls, hak_heap_t *heap)
{
  hak_pool_t *pool = &pools[kind];
  hak_ss_t *fresh = NULL;
  hak_slab_t *s;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    if ((s = pool->dirty) != NULL || (s = pool->clean) != NULL) {
      if (s->list != HAK_LIST_DIRTY && s->aged)
        hak_purge_retaken(hak_slab_bytes(s), s->empty_since); /* its pages fault in again */
      empty_unlink(pool, s);
      break;
    }
    hak_ss_t *ss = pool->with_unused.head;
    if (!ss && fresh) {
      unused_push(pool, fresh);
      ss = fresh;
      fresh = NULL;
    }
    if (ss) {
      s = &ss->slabs[ss->next_unused++];
      if (ss->next_unused == ss->nslabs) unused_unlink(pool, ss);
      break;
    }
    pthread_mutex_unlock(&pool->lock);
    bool clean;
    if ((fresh = lru_get(&clean)) == NULL) fresh = hak_ss_map(HAK_SS_SIZE);
    else if (!clean) memset(fresh, 0, offsetof(hak_ss_t, slabs) + sizeof fresh->slabs);
    if (!fresh) {
      errno = ENOMEM;
      return NULL;
    }
    ss_format(fresh, kind);
    pthread_mutex_lock(&pool->lock);
  }
  hak_ss_of_slab(s)->in_use++;
  pool->active++;
  hak_in_use_count(hak_slab_bytes(s), true);
  pthread_mutex_unlock(&pool->lock);
  /* Another thread refilled the pool while this one mapped: the spare SuperSlab waits in the
   * LRU cache, within its bounds, rather than in the pool, where no bound or trim would see it
   * (a SuperSlab leaves the pool only when its last slab in use comes back). */
  if (fresh) hak_ss_give(fresh, ss_purgeable());
  slab_format(s, cls, heap);
  return s;
}

/* Past the bound (hak_empty_bound), the oldest empty memory gives its pages back now,
 * keeping its address space: first cached SuperSlabs (whole regions, one call each), then
 * cached large mappings (one call each, megabytes at a time), then the span regions' free
 * pages, then the pools' dirty slabs, oldest first in each, so that what is purged stays the
 * older part of each list.  The span regions come before the pools' slabs because their count
 * takes every page a freed block leaves, touched or not: pages never touched cost their purge
 * nothing, and a pool's slab is what the next refill takes.  Called where memory becomes
 * empty: a slab going back to the pool, a SuperSlab or a large mapping into its cache, a span
 * freed. */
void hak_empty_enforce(void)
{
  size_t empty = atomic_load_explicit(&empty_resident, memory_order_relaxed), max;
  if (empty <= (size_t)hak_opt.EMPTY_MAX_MB << 20 || empty <= (max = hak_empty_bound())) return;
  max /= 2; /* down to half: purges come in batches, and what is freed meanwhile is reused */
  hak_ss_t *purge = NULL;
  pthread_mutex_lock(&lru.lock);
  for (hak_ss_t *ss = lru.list.tail, *prev;
       ss && atomic_load_explicit(&empty_resident, memory_order_relaxed) > max; ss = prev) {
    prev = ss->prev;
    lru_purge_one(ss, &purge);
  }
  pthread_mutex_unlock(&lru.lock);
  lru_settle(purge, NULL, hak_os_now(), false);
  hak_bigcache_purge_over(max);
  hak_span_purge_over(max);
  for (unsigned k = 0; k < HAK_SS_NKINDS; k++) {
    hak_pool_t *pool = &pools[k];
    hak_slab_t *s;
    pthread_mutex_lock(&pool->lock);
    while (atomic_load_explicit(&empty_resident, memory_order_relaxed) > max &&
           (s = pool->dirty_tail) != NULL)
      pool_purge_slab_locked(pool, s, false);
    pthread_mutex_unlock(&pool->lock);
  }
}

void hak_pool_give(hak_slab_t *s)
{
  hak_ss_t *ss = hak_ss_of_slab(s);
  hak_pool_t *pool = &pools[ss->kind];
  atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
  s->carved = 0;
  /* no pointer into an EMPTY slab passes free's checks */
  __atomic_store_n(&s->limit, 0, __ATOMIC_RELAXED);
  double now = hak_os_now();
  pthread_mutex_lock(&pool->lock);
  s->state = HAK_SLAB_EMPTY;
  pool->active--;
  hak_in_use_count(hak_slab_bytes(s), false);
  if (--ss->in_use > 0) {
    s->empty_since = now;
    hak_slab_list_push(&pool->dirty, s, HAK_LIST_DIRTY);
    hak_empty_count(hak_slab_bytes(s), true);
    if (!pool->dirty_tail) __atomic_store_n(&pool->dirty_tail, s, __ATOMIC_RELAXED);
    pool_purge_locked(pool, now, false);
    pthread_mutex_unlock(&pool->lock);
    hak_empty_enforce();
    return;
  }
  /* The last slab in use: the whole SuperSlab leaves the pool for the LRU cache. */
  for (unsigned i = 0; i < ss->next_unused; i++)
    if (ss->slabs[i].list == HAK_LIST_DIRTY || ss->slabs[i].list == HAK_LIST_CLEAN)
      empty_unlink(pool, &ss->slabs[i]);
  if (ss->listed) unused_unlink(pool, ss);
  pthread_mutex_unlock(&pool->lock);
  hak_ss_give(ss, ss_purgeable());
}

/* A cached SuperSlab leaves the list, under lru.lock, to give back every page and join the
 * ring (lru_settle, after the lock is dropped: the purge is a system call).  One that a remote
 * free still reads (release_list) stays as it is, for a later pass: false. */
static bool lru_purge_one(hak_ss_t *ss, hak_ss_t **purge)
{
  if (hak_heap_freeing(ss)) return false;
  lru_take(ss, purge);
  return true;
}

/* After lru.lock is dropped: purges whole the SuperSlabs lru_purge_one took out (their headers
 * too: the ring records them) and puts them in the ring, oldest first; unmaps one the kernel
 * would not purge (it would not read as zero) or the ring has no room for; unmaps the list old;
 * and applies the ring's bounds (ring_expire).  Returns the bytes unmapped. */
static size_t lru_settle(hak_ss_t *purge, hak_ss_t *old, double now, bool all)
{
  hak_ss_t *oldest_first = NULL; /* lru_purge_one took them newest first */
  while (purge) {
    hak_ss_t *next = purge->next;
    purge->next = oldest_first;
    oldest_first = purge;
    purge = next;
  }
  size_t bytes = 0;
  while (oldest_first) {
    hak_range_t r[64];
    double at[64];
    bool aged[64];
    hak_ss_t *unkept[64];
    size_t n = 0, nu = 0;
    for (; oldest_first && n < 64; oldest_first = oldest_first->next, n++) {
      r[n] = (hak_range_t){oldest_first, HAK_SS_SIZE}; /* read before the header goes */
      at[n] = oldest_first->cached_at;
      aged[n] = oldest_first->aged;
    }
    bool zero = hak_os_purge_many(r, n);
    pthread_mutex_lock(&lru.lock);
    for (size_t i = 0; i < n; i++)
      if (!zero || !ring_push(r[i].addr, at[i], aged[i])) unkept[nu++] = r[i].addr;
    pthread_mutex_unlock(&lru.lock);
    bytes += release_array(unkept, nu);
  }
  return bytes + release_list(old) + ring_expire(now, all);
}

/* Empty SuperSlabs cached for longer than the purge delay keep their address space (a reuse
 * costs page faults, not mmap) but give their pages back, oldest first. */
static void lru_purge_locked(double now, hak_ss_t **purge)
{
  double delay = hak_purge_delay();
  size_t aged = 0;
  for (hak_ss_t *ss = lru.list.tail, *prev; ss && now - ss->cached_at > delay; ss = prev) {
    prev = ss->prev;
    if (!lru_purge_one(ss, purge)) continue; /* a remote free still reads it: it stays */
    ss->aged = 1;
    aged += ss->resident;
  }
  hak_purge_aged(aged);
}

void hak_pool_maintain(double now)
{
  hak_partial_drain();
  for (unsigned k = 0; k < HAK_SS_NKINDS; k++) {
    if (!__atomic_load_n(&pools[k].dirty_tail, __ATOMIC_RELAXED)) continue;
    pthread_mutex_lock(&pools[k].lock);
    pool_purge_locked(&pools[k], now, false);
    pthread_mutex_unlock(&pools[k].lock);
  }
  pthread_mutex_lock(&lru.lock);
  hak_ss_t *purge = NULL, *old = lru_expire_locked(now, false, &purge);
  lru_purge_locked(now, &purge);
  pthread_mutex_unlock(&lru.lock);
  lru_settle(purge, old, now, false);
}

size_t hak_pool_trim(void)
{
  hak_partial_drain();
  size_t purged = 0;
  for (unsigned k = 0; k < HAK_SS_NKINDS; k++) {
    pthread_mutex_lock(&pools[k].lock);
    for (hak_slab_t *s = pools[k].dirty; s; s = s->next) purged += (size_t)1 << hak_kind_slab_shift[k];
    pool_purge_locked(&pools[k], 0, true);
    pthread_mutex_unlock(&pools[k].lock);
  }
  pthread_mutex_lock(&lru.lock);
  double now = hak_os_now();
  hak_ss_t *all = lru_expire_locked(now, true, NULL);
  pthread_mutex_unlock(&lru.lock);
  return purged + lru_settle(NULL, all, now, true);
}

void hak_pool_lock_all(void)
{
  pthread_mutex_lock(&reserve.lock);
  for (unsigned k = 0; k < HAK_SS_NKINDS; k++) pthread_mutex_lock(&pools[k].lock);
  pthread_mutex_lock(&lru.lock);
}

void hak_pool_unlock_all(bool child)
{
  if (child) { /* the child's copy of a lock may name a thread that does not exist there */
    pthread_mutex_init(&lru.lock, NULL);
    for (unsigned k = 0; k < HAK_SS_NKINDS; k++) pthread_mutex_init(&pools[k].lock, NULL);
    pthread_mutex_init(&reserve.lock, NULL);
    return;
  }
  pthread_mutex_unlock(&lru.lock);
  for (unsigned k = HAK_SS_NKINDS; k-- > 0;) pthread_mutex_unlock(&pools[k].lock);
  pthread_mutex_unlock(&reserve.lock);
}

void hak_pool_counts(hak_pool_counts_t *out)
{
  pthread_mutex_lock(&lru.lock);
  out->ss_cached = lru.count;
  out->ss_purged = lru.kept;
  out->ss_live = lru.live;
  out->ss_mapped_total = lru.mapped;
  out->ss_unmapped_total = lru.unmapped;
  out->bytes_mapped = lru.bytes_mapped;
  out->bytes_peak = lru.bytes_peak;
  pthread_mutex_unlock(&lru.lock);
  for (unsigned k = 0; k < HAK_SS_NKINDS; k++) {
    pthread_mutex_lock(&pools[k].lock);
    out->slabs_active[k] = pools[k].active;
    pthread_mutex_unlock(&pools[k].lock);
  }
  pthread_mutex_lock(&reserve.lock);
  out->unmaps_refused = reserve.refused_maps;
  out->regions_refused = reserve.refused_regions;
  out->regions_refused_left = 0;
  for (unsigned i = 0; i < reserve.nrefused; i++)
    out->regions_refused_left += reserve.refused[i].units;
  pthread_mutex_unlock(&reserve.lock);
}
