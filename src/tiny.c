/* The thread front: heaps, refill of a class from slabs, remote frees, thread exit. */
#include <errno.h>
#include <pthread.h>

#include "large.h"
#include "options.h"
#include "os.h"
#include "stats.h"
#include "tiny.h"

const uint32_t hak_class_size[HAK_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192,
    224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144,
    7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
    40960, 49152, 57344, 65536,
};

const uint8_t hak_tiny_class_tbl[HAK_TINY_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 12, 12, 13,
    13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17,
    17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
};

const uint8_t hak_mid_class_tbl[HAK_SMALL_MAX / 256 + 1] = {
    20, 20, 20, 20, 20, 20, 21, 22, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 28, 28, 29,
    29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31, 32, 32, 32, 32, 32, 32, 32, 32, 33, 33, 33,
    33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 34, 34, 35, 35, 35, 35, 35, 35, 35, 35, 36,
    36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 37, 37, 37, 37, 37, 37, 37,
    37, 37, 37, 37, 37, 37, 37, 37, 37, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 40, 40, 40,
    40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40,
    40, 40, 40, 40, 40, 40, 40, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41,
    41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 42, 42, 42, 42, 42,
    42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42,
    42, 42, 42, 42, 42, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43,
    43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43,
};

const uint64_t hak_class_magic[HAK_NCLASSES] = {
    UINT64_C(1152921504606846976), UINT64_C(576460752303423488), UINT64_C(384307168202282326),
    UINT64_C(288230376151711744), UINT64_C(230584300921369396), UINT64_C(192153584101141163),
    UINT64_C(164703072086692426), UINT64_C(144115188075855872), UINT64_C(115292150460684698),
    UINT64_C(96076792050570582), UINT64_C(82351536043346213), UINT64_C(72057594037927936),
    UINT64_C(57646075230342349), UINT64_C(48038396025285291), UINT64_C(41175768021673107),
    UINT64_C(36028797018963968), UINT64_C(28823037615171175), UINT64_C(24019198012642646),
    UINT64_C(20587884010836554), UINT64_C(18014398509481984), UINT64_C(14411518807585588),
    UINT64_C(12009599006321323), UINT64_C(10293942005418277), UINT64_C(9007199254740992),
    UINT64_C(7205759403792794), UINT64_C(6004799503160662), UINT64_C(5146971002709139),
    UINT64_C(4503599627370496), UINT64_C(3602879701896397), UINT64_C(3002399751580331),
    UINT64_C(2573485501354570), UINT64_C(2251799813685248), UINT64_C(1801439850948199),
    UINT64_C(1501199875790166), UINT64_C(1286742750677285), UINT64_C(1125899906842624),
    UINT64_C(900719925474100), UINT64_C(750599937895083), UINT64_C(643371375338643),
    UINT64_C(562949953421312), UINT64_C(450359962737050), UINT64_C(375299968947542),
    UINT64_C(321685687669322), UINT64_C(281474976710656),
};

hak_slab_t hak_slab_none;
#define HAK_NONE_X4 &hak_slab_none, &hak_slab_none, &hak_slab_none, &hak_slab_none
#define HAK_NONE_ALL                                                                             \
  {HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4,                 \
   HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4}
hak_heap_t hak_heap_empty = {.cur = HAK_NONE_ALL, .slab = HAK_NONE_ALL};
_Static_assert(HAK_NCLASSES == 44, "hak_heap_empty lists one none per class");
__thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec"))) = &hak_heap_empty;
uintptr_t hak_free_key;

/* ---- heaps: one per thread, recycled when threads exit, never unmapped ------------------ */

static struct {
  pthread_mutex_t lock;
  hak_heap_t *all, *free;
  char *arena;
  size_t arena_left;
  hak_class_stats_t exited[HAK_NCLASSES]; /* counts of heaps whose threads have exited */
} heaps = {.lock = PTHREAD_MUTEX_INITIALIZER};

static hak_heap_t *heap_new(void)
{
  pthread_mutex_lock(&heaps.lock);
  hak_heap_t *h = heaps.free;
  if (h) {
    heaps.free = h->next_free;
  } else {
    size_t size = hak_align_up(sizeof(hak_heap_t), HAK_CACHE_LINE);
    if (heaps.arena_left < size) {
      size_t chunk = hak_align_up(HAK_MAX(size * 64, (size_t)65536), hak_os_page);
      heaps.arena = hak_os_map_aligned(chunk, hak_os_page);
      heaps.arena_left = heaps.arena ? chunk : 0;
    }
    if (heaps.arena) {
      h = (hak_heap_t *)heaps.arena;
      heaps.arena += size;
      heaps.arena_left -= size;
      h->next_all = heaps.all;
      heaps.all = h;
    }
  }
  pthread_mutex_unlock(&heaps.lock);
  if (!h) return NULL;
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    h->cur[c] = h->slab[c] = &hak_slab_none;
    h->warm[c] = NULL;
    h->nwarm[c] = 0;
  }
  memset(h->stats, 0, sizeof h->stats);
  h->next_free = NULL;
  h->live = true;
  return h;
}

static void stats_add(hak_class_stats_t *to, const hak_class_stats_t *from)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    to[c].requests += from[c].requests;
    to[c].hits += from[c].hits;
    to[c].refills += from[c].refills;
    to[c].remote_frees += from[c].remote_frees;
  }
}

void hak_heap_stats(hak_class_stats_t out[HAK_NCLASSES])
{
  pthread_mutex_lock(&heaps.lock);
  memcpy(out, heaps.exited, sizeof heaps.exited);
  for (hak_heap_t *h = heaps.all; h; h = h->next_all)
    if (h->live) stats_add(out, h->stats);
  pthread_mutex_unlock(&heaps.lock);
}

static void heap_free(hak_heap_t *h)
{
  pthread_mutex_lock(&heaps.lock);
  stats_add(heaps.exited, h->stats);
  h->live = false;
  h->next_free = heaps.free;
  heaps.free = h;
  pthread_mutex_unlock(&heaps.lock);
}

void hak_heap_lock_all(void)
{
  pthread_mutex_lock(&heaps.lock);
}

void hak_heap_unlock_all(bool child)
{
  if (child) pthread_mutex_init(&heaps.lock, NULL);
  else pthread_mutex_unlock(&heaps.lock);
}

/* Makes s the current slab of class c; the fast path sees it unless statistics are on. */
static void set_cur(hak_heap_t *h, unsigned c, hak_slab_t *s)
{
  h->slab[c] = s;
  h->cur[c] = hak_stats_on ? &hak_slab_none : s;
}

/* ---- slabs as a thread sees them --------------------------------------------------------- */

static void warm_push(hak_heap_t *h, hak_slab_t *s)
{
  unsigned c = s->cls;
  s->prev = NULL;
  s->next = h->warm[c];
  if (s->next) s->next->prev = s;
  h->warm[c] = s;
  h->nwarm[c]++;
  s->list = HAK_LIST_WARM;
}

static void warm_unlink(hak_heap_t *h, hak_slab_t *s)
{
  unsigned c = s->cls;
  if (s->prev) s->prev->next = s->next;
  else h->warm[c] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  h->nwarm[c]--;
  s->list = HAK_LIST_NONE;
}

/* Moves the blocks other threads freed onto the local list: one atomic exchange, then a walk
 * of the taken list (those blocks are about to be handed out, so the walk is a prefetch). */
static bool slab_collect(hak_slab_t *s)
{
  if (!atomic_load_explicit(&s->remote, memory_order_relaxed)) return false;
  uint64_t t0 = hak_prof_begin();
  uintptr_t r = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
  if (!r) return false;
  void **tail = (void **)r;
  uint32_t n = 1;
  while (tail[0]) {
    tail = tail[0];
    n++;
  }
  tail[0] = s->free;
  s->free = (void *)r;
  s->used -= n;
  hak_prof_end(HAK_PROF_DRAIN, t0);
  return true;
}

/* Carves up to a batch of fresh blocks onto the (empty) local list.  carved is raised before
 * the list is published, so a block on a list is always inside the carved part. */
static void slab_carve(hak_slab_t *s)
{
  uint32_t batch = (uint32_t)hak_opt.TINY_BATCH;
  uint32_t by_bytes = 16384 / s->bsize;
  if (batch > by_bytes) batch = by_bytes ? by_bytes : 1;
  uint32_t n = HAK_MIN(batch, s->capacity - s->carved);
  char *first = s->start + (size_t)s->carved * s->bsize;
  s->carved += n;
  char *b = first;
  for (uint32_t i = 1; i < n; i++, b += s->bsize) {
    ((void **)b)[0] = b + s->bsize;
    ((uintptr_t *)b)[1] = hak_free_key;
  }
  ((void **)b)[0] = NULL;
  ((uintptr_t *)b)[1] = hak_free_key;
  s->free = first;
}

/* Gives up a full slab: no thread owns it and no list holds it until a block comes back, and
 * the thread that frees that block takes charge of it (hak_slab_reclaim).  Fails if blocks
 * came back already. */
static bool slab_detach(hak_heap_t *h, hak_slab_t *s, hak_heap_t *last)
{
  uintptr_t expect = 0;
  s->list = HAK_LIST_NONE;
  atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
  if (atomic_compare_exchange_strong_explicit(&s->remote, &expect,
                                              (uintptr_t)last | HAK_REMOTE_DETACHED,
                                              memory_order_release, memory_order_relaxed))
    return true;
  atomic_store_explicit(&s->owner, h, memory_order_relaxed);
  return false;
}

/* A detached slab got its first block back, freed by this thread: the thread that last owned
 * it keeps it in its warm pool while there is room; otherwise it goes to the shared pool. */
static void slab_reclaim(hak_slab_t *s, hak_heap_t *last)
{
  hak_heap_t *h = hak_tls_heap;
  if (last == h && h != &hak_heap_empty && h->nwarm[s->cls] < (unsigned)hak_opt.WARM_POOL_SIZE) {
    atomic_store_explicit(&s->owner, h, memory_order_relaxed);
    warm_push(h, s);
    return;
  }
  hak_partial_push(s);
}

void hak_free_remote(hak_slab_t *s, void *p)
{
  uintptr_t *b = p;
  uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed);
  do {
    b[0] = (old & HAK_REMOTE_DETACHED) ? 0 : old;
    b[1] = hak_free_key;
  } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, (uintptr_t)p,
                                                  memory_order_release, memory_order_relaxed));
  if (old & HAK_REMOTE_DETACHED) slab_reclaim(s, (hak_heap_t *)(old & ~HAK_REMOTE_DETACHED));
  if (hak_unlikely(hak_stats_on)) {
    hak_heap_t *h = hak_tls_heap;
    if (h != &hak_heap_empty) h->stats[s->cls].remote_frees++;
    else hak_stats_remote_free_unowned(s->cls);
  }
}

/* The last block of a slab this thread owns came back.  The current slab is kept (a program
 * that frees and allocates one block at a time must not bounce a slab through the pool);
 * any other goes back to the shared pool at once. */
void hak_slab_emptied(hak_heap_t *h, hak_slab_t *s)
{
  if (s->list == HAK_LIST_CUR) return;
  if (s->list == HAK_LIST_WARM) warm_unlink(h, s);
  hak_pool_give(s);
}

/* Makes h->cur[c] a slab with a free block: the current slab's own list, its remote frees,
 * fresh blocks; then the warm pool, the shared partial slabs, and the pool. */
static hak_slab_t *refill(hak_heap_t *h, unsigned c)
{
  hak_slab_t *s = h->slab[c];
  for (;;) {
    if (s != &hak_slab_none) {
      if (s->free || slab_collect(s)) return s;
      if (s->carved < s->capacity) {
        slab_carve(s);
        return s;
      }
      set_cur(h, c, &hak_slab_none);
      if (!slab_detach(h, s, h)) {
        set_cur(h, c, s);
        s->list = HAK_LIST_CUR;
        continue;
      }
    }
    if (h->warm[c]) {
      s = h->warm[c];
      warm_unlink(h, s);
    } else if (!(s = hak_partial_pop(c, h)) && !(s = hak_pool_take(hak_class_kind(c), c, h))) {
      return NULL;
    }
    s->list = HAK_LIST_CUR;
    set_cur(h, c, s);
  }
}

static void thread_heap_done(void *arg)
{
  hak_thread_done(arg);
}

void *hak_small_alloc_slow(unsigned c)
{
  hak_heap_t *h = hak_tls_heap;
  if (hak_unlikely(h == &hak_heap_empty)) {
    hak_ensure_init();
    h = heap_new();
    if (!h) {
      errno = ENOMEM;
      return NULL;
    }
    hak_tls_heap = h;
    hak_os_thread_exit_hook(thread_heap_done, h);
  }
  hak_slab_t *s = h->slab[c];
  if (hak_unlikely(hak_stats_on)) {
    h->stats[c].requests++;
    if (s->free) h->stats[c].hits++;
    else h->stats[c].refills++;
  }
  if (!s->free) {
    uint64_t t0 = hak_prof_begin();
    s = refill(h, c);
    hak_prof_end(HAK_PROF_REFILL, t0);
    if (!s) return NULL;
  }
  void **b = s->free;
  s->free = b[0];
  s->used++;
  b[1] = NULL;
  return b;
}

/* malloc_trim: the calling thread gives back its slabs that are wholly free, current ones too. */
void hak_heap_trim(void)
{
  hak_heap_t *h = hak_tls_heap;
  if (h == &hak_heap_empty) return;
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_slab_t *s = h->slab[c], *next;
    if (s != &hak_slab_none) {
      slab_collect(s);
      if (s->used == 0) {
        set_cur(h, c, &hak_slab_none);
        s->list = HAK_LIST_NONE;
        hak_pool_give(s);
      }
    }
    for (s = h->warm[c]; s; s = next) {
      next = s->next;
      slab_collect(s);
      if (s->used == 0) {
        warm_unlink(h, s);
        hak_pool_give(s);
      }
    }
  }
}

/* ---- thread exit ------------------------------------------------------------------------- */

/* Hands a slab this thread owned to whoever needs it: the pool if it is wholly free, the
 * shared partial list if it has free blocks, else detached until a block comes back. */
static void slab_abandon(hak_heap_t *h, hak_slab_t *s)
{
  s->list = HAK_LIST_NONE;
  for (;;) {
    slab_collect(s);
    if (s->used == 0) {
      hak_pool_give(s);
      return;
    }
    if (s->free || s->carved < s->capacity) {
      hak_partial_push(s);
      return;
    }
    /* Nobody to give it back to: whoever frees into it first passes it to the shared pool. */
    if (slab_detach(h, s, NULL)) return;
  }
}

void hak_heap_abandon(hak_heap_t *h)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_slab_t *s = h->slab[c];
    set_cur(h, c, &hak_slab_none);
    if (s != &hak_slab_none) slab_abandon(h, s);
    while ((s = h->warm[c]) != NULL) {
      warm_unlink(h, s);
      slab_abandon(h, s);
    }
  }
}

void hak_thread_done(void *heap)
{
  hak_heap_t *h = heap;
  if (h == &hak_heap_empty || !h->live) return;
  hak_tls_heap = &hak_heap_empty; /* later frees of this thread take the remote path */
  hak_heap_abandon(h);
  heap_free(h);
}

/* ---- what the fast path of free passes on ------------------------------------------------ */

_Noreturn static void report(const char *what, const void *p)
{
  hak_fatal("hakmem: free(): %s %p", what, p);
}

void hak_small_free_slow(void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (!hak_region_ours(ss)) {
    if (!hak_huge_free(p)) report("invalid pointer", p);
    return;
  }
  if (ss->magic == HAK_SS_MAGIC && ss->kind == HAK_SS_LARGE) {
    if (!hak_large_free(ss, p)) report("invalid pointer", p);
    return;
  }
  if (ss->magic != HAK_SS_MAGIC) report("invalid pointer", p);
  hak_slab_t *s = hak_slab_of(ss, p);
  uint64_t off = (uint64_t)((char *)p - s->start);
  uint64_t magic = hak_class_magic[s->cls];
  if (s->state != HAK_SLAB_ACTIVE || off >= (uint64_t)s->carved * s->bsize || off * magic > magic - 1)
    report("invalid pointer", p);
  report("double free detected for", p);
}
