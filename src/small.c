/* Small blocks, the tiny and mid classes: heaps, refill of a class from slabs, remote frees,
 * thread exit. */
#include <errno.h>
#include <pthread.h>

#include "background.h"
#include "large.h"
#include "options.h"
#include "os.h"
#include "stats.h"
#include "small.h"
#include "span.h"

_Static_assert((1u << 16) / 16 <= HAK_SLAB_MAP_WORDS * 64, "a 64 KiB slab's map has a bit a block");
const uint32_t hak_class_size[HAK_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192,
    224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144,
    7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
    40960, 49152, 57344, 65536,
};

/* The class of every size up to HAK_SMALL_MAX, by (n + 15) / 16: one load on malloc's fast
 * path, no test of which tier.  The tiny classes step by 16 to 128 bytes and then by quarters
 * of a power of two; the mid classes, by quarters too, span 16..512 entries each. */
#define R4(c) c, c, c, c
#define R16(c) R4(c), R4(c), R4(c), R4(c)
#define R32(c) R16(c), R16(c)
#define R64(c) R32(c), R32(c)
#define R128(c) R64(c), R64(c)
#define R256(c) R128(c), R128(c)
#define R512(c) R256(c), R256(c)
#define QUARTERS(r, c) r(c), r(c + 1), r(c + 2), r(c + 3)
const uint8_t hak_class_tbl[HAK_SMALL_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 12, 12, 13,
    13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17,
    17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
    QUARTERS(R16, 20), QUARTERS(R32, 24), QUARTERS(R64, 28), QUARTERS(R128, 32),
    QUARTERS(R256, 36), QUARTERS(R512, 40),
};
#undef QUARTERS
#undef R512
#undef R256
#undef R128
#undef R64
#undef R32
#undef R16
#undef R4

const uint64_t hak_class_magic[HAK_NCLASSES] = {
    UINT64_C(1152921504606846977), UINT64_C(576460752303423489), UINT64_C(384307168202282326),
    UINT64_C(288230376151711745), UINT64_C(230584300921369396), UINT64_C(192153584101141163),
    UINT64_C(164703072086692426), UINT64_C(144115188075855873), UINT64_C(115292150460684698),
    UINT64_C(96076792050570582), UINT64_C(82351536043346213), UINT64_C(72057594037927937),
    UINT64_C(57646075230342349), UINT64_C(48038396025285291), UINT64_C(41175768021673107),
    UINT64_C(36028797018963969), UINT64_C(28823037615171175), UINT64_C(24019198012642646),
    UINT64_C(20587884010836554), UINT64_C(18014398509481985), UINT64_C(14411518807585588),
    UINT64_C(12009599006321323), UINT64_C(10293942005418277), UINT64_C(9007199254740993),
    UINT64_C(7205759403792794), UINT64_C(6004799503160662), UINT64_C(5146971002709139),
    UINT64_C(4503599627370497), UINT64_C(3602879701896397), UINT64_C(3002399751580331),
    UINT64_C(2573485501354570), UINT64_C(2251799813685249), UINT64_C(1801439850948199),
    UINT64_C(1501199875790166), UINT64_C(1286742750677285), UINT64_C(1125899906842625),
    UINT64_C(900719925474100), UINT64_C(750599937895083), UINT64_C(643371375338643),
    UINT64_C(562949953421313), UINT64_C(450359962737050), UINT64_C(375299968947542),
    UINT64_C(321685687669322), UINT64_C(281474976710657),
};

hak_slab_t hak_slab_none;
#define HAK_NONE_X4 &hak_slab_none, &hak_slab_none, &hak_slab_none, &hak_slab_none
#define HAK_NONE_ALL                                                                             \
  {HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4,                 \
   HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4, HAK_NONE_X4}
static void *mag_none[1]; /* the bottom of every magazine of hak_heap_empty */
#define HAK_MAG_NONE_X4 &mag_none[1], &mag_none[1], &mag_none[1], &mag_none[1]
#define HAK_MAG_NONE_ALL                                                                         \
  {HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4,          \
   HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4, HAK_MAG_NONE_X4,          \
   HAK_MAG_NONE_X4}
hak_heap_t hak_heap_empty = {.top = HAK_MAG_NONE_ALL, .lim = HAK_MAG_NONE_ALL, .slab = HAK_NONE_ALL,
                             .list_lock = PTHREAD_MUTEX_INITIALIZER,
                             .trim_lock = PTHREAD_MUTEX_INITIALIZER};
_Static_assert(HAK_NCLASSES == 44, "hak_heap_empty lists one none per class");
__thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec"))) = &hak_heap_empty;
hak_keys_t hak_keys;

/* h gets its copy of the tag keys, which free's fast path reads there. */
static void heap_take_keys(hak_heap_t *h)
{
  h->tag_mul = hak_keys.tag_mul;
  h->tag_xor = hak_keys.tag_xor;
}

void hak_keys_init(void)
{
  unsigned long r[3];
  hak_os_random(r, 3);
  hak_keys.link = r[0];
  hak_keys.tag_mul = r[1] | 1;
  hak_keys.tag_xor = r[2];
  heap_take_keys(&hak_heap_empty); /* every heap has a copy (heap_new) */
}

_Noreturn void hak_list_corrupt(const void *at)
{
  hak_fatal("hakmem: free list corrupted at %p", at);
}

/* ---- heaps: one per thread, recycled when threads exit, never unmapped ------------------ */

static struct {
  pthread_mutex_t lock;
  hak_heap_t *all, *free;
  unsigned parked; /* heaps on free that are parked (stored atomically: a hint without the lock) */
  char *arena;
  size_t arena_left;
  hak_class_stats_t exited[HAK_NCLASSES]; /* counts of heaps whose threads have exited */
  uint64_t exited_slow[HAK_SLOW_KINDS][HAK_NCLASSES];
  /* Held by the background thread through its pass over the heaps (hak_heap_release_idle),
   * which takes their trim and list locks without the heaps' lock; fork takes it first. */
  pthread_mutex_t pass_lock;
} heaps = {.lock = PTHREAD_MUTEX_INITIALIZER, .pass_lock = PTHREAD_MUTEX_INITIALIZER};

#define HEAPS_PARKED_MAX 8 /* heaps parked at once (hak_thread_done) */

/* The regions of remote frees in progress by threads without a heap (hak_heap_freeing), one
 * slot each: a thread claims one at its first remote free (the one its address hashes to, or
 * the next free one), holds it until it exits (hak_thread_done), and names a region in it for
 * the length of each free, HEAPLESS_IDLE between them, so that a free costs two stores and no
 * atomic read-modify-write (a consumer that never allocates frees every block so:
 * xmalloc-test at 2 threads ran 13% slower with a slot claimed per free).  heapless_at is the
 * slot this thread holds, -1 for none.  With every slot held, a thread counts itself in
 * heapless_over for each free instead, which stops every release while it is not 0. */
#define HEAPLESS_SLOTS 64
#define HEAPLESS_IDLE ((const void *)1)
static struct {
  _Alignas(HAK_CACHE_LINE) _Atomic(const void *) ss;
} heapless[HEAPLESS_SLOTS];
static _Atomic(unsigned long) heapless_over;
static __thread int heapless_at __attribute__((tls_model("initial-exec"))) = -1;

void hak_heap_slow_counts(uint64_t out[HAK_SLOW_KINDS][HAK_NCLASSES])
{
  pthread_mutex_lock(&heaps.lock);
  memcpy(out, heaps.exited_slow, sizeof heaps.exited_slow);
  for (hak_heap_t *h = heaps.all; h; h = h->next_all)
    for (unsigned k = 0; h->live && k < HAK_SLOW_KINDS; k++)
      for (unsigned c = 0; c < HAK_NCLASSES; c++)
        out[k][c] += __atomic_load_n(&h->slow[k][c], __ATOMIC_RELAXED);
  pthread_mutex_unlock(&heaps.lock);
}

/* One more slow path of class c, of a kind, for the learner (stored atomically: it reads
 * them). */
static void count_slow(hak_heap_t *h, unsigned kind, unsigned c)
{
  __atomic_store_n(&h->slow[kind][c], h->slow[kind][c] + 1, __ATOMIC_RELAXED);
}

/* The shared partial lists, one per class: partly free slabs that no thread owns. */
typedef struct {
  pthread_mutex_t lock;
  hak_slab_t *head;
} __attribute__((aligned(64))) hak_partial_t;
static hak_partial_t partial[HAK_NCLASSES];

void hak_partial_init(void)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) pthread_mutex_init(&partial[c].lock, NULL);
}

/* ---- magazine geometry: the same for every heap, fixed at the first heap ------------------
 * A class refills its magazine with a batch (HAKMEM_TINY_BATCH blocks of a small class, but
 * no more than 16 KiB of them; HAKMEM_POOL_REFILL_BATCH of a mid class) and holds up to two
 * batches, so that a thread that frees and allocates in turn never bounces at either end; past
 * that, the older half goes back to the slabs.  With HAKMEM_STATS the capacity is 0 (one slot
 * remains, for the block a refill hands out).
 *
 * With HAKMEM_LEARN the learner may raise a class's batch (hak_mag_set_batch), up to
 * HAKMEM_LEARN_BATCH_MAX and so that two batches stay within HAKMEM_LEARN_CLASS_KB: every heap
 * has room for that many, and an owner takes a new capacity on at its next slow path of the
 * class (mag_sync), giving back what no longer fits. */
#define HAK_MAG_MAX 128
static struct {
  uint16_t base[HAK_NCLASSES]; /* index of the class's bottom (NULL) slot */
  uint16_t cap[HAK_NCLASSES];  /* the default capacity and batch */
  uint16_t batch[HAK_NCLASSES];
  uint16_t most[HAK_NCLASSES]; /* the largest batch the learner may set */
  unsigned slots;
} mag;
static _Atomic(uint16_t) mag_learned[HAK_NCLASSES]; /* the learner's batch; 0: the default */

static void mag_geometry(void)
{
  unsigned at = 0;
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    unsigned batch = c < HAK_TINY_CLASSES ? HAK_MIN((unsigned)hak_opt.TINY_BATCH, 16384 / hak_class_size[c])
                                          : (unsigned)hak_opt.POOL_REFILL_BATCH;
    unsigned cap = HAK_MIN(2 * HAK_MAX(batch, 1u), (unsigned)HAK_MAG_MAX);
    batch = HAK_MIN(batch, cap);
    unsigned most = batch;
    if (hak_opt.LEARN && !hak_stats_on) {
      unsigned by_bytes = (unsigned)(((size_t)hak_opt.LEARN_CLASS_KB << 10) / (2 * hak_class_size[c]));
      most = HAK_MAX(batch, HAK_MIN(HAK_MIN((unsigned)hak_opt.LEARN_BATCH_MAX, by_bytes),
                                    (unsigned)HAK_MAG_MAX / 2));
    }
    mag.cap[c] = (uint16_t)(hak_stats_on ? 0 : cap);
    mag.batch[c] = (uint16_t)(hak_stats_on ? 1 : batch);
    mag.most[c] = (uint16_t)(hak_stats_on ? 1 : most);
    mag.base[c] = (uint16_t)at;
    at += 1 + HAK_MAX(HAK_MAX(mag.cap[c], 2u * mag.most[c]), 1u);
  }
  __atomic_store_n(&mag.slots, at, __ATOMIC_RELEASE); /* the learner reads the rest after it */
}

/* The batch and the capacity of class c now. */
static unsigned mag_batch_now(unsigned c)
{
  unsigned b = __atomic_load_n(&mag_learned[c], __ATOMIC_RELAXED);
  return b ? b : mag.batch[c];
}

static unsigned mag_cap_now(unsigned c)
{
  unsigned b = __atomic_load_n(&mag_learned[c], __ATOMIC_RELAXED);
  return b && mag.cap[c] ? HAK_MIN(2 * b, (unsigned)HAK_MAG_MAX) : mag.cap[c];
}

unsigned hak_mag_batch(unsigned c, unsigned *def, unsigned *most)
{
  if (!__atomic_load_n(&mag.slots, __ATOMIC_ACQUIRE)) { /* no heap yet: nothing learned either */
    *def = *most = 0;
    return 0;
  }
  *def = mag.batch[c];
  *most = mag.most[c];
  return mag_batch_now(c);
}

void hak_mag_set_batch(unsigned c, unsigned batch)
{
  if (!__atomic_load_n(&mag.slots, __ATOMIC_ACQUIRE)) return;
  batch = HAK_MAX(HAK_MIN(batch, (unsigned)mag.most[c]), (unsigned)mag.batch[c]);
  __atomic_store_n(&mag_learned[c], (uint16_t)(batch == mag.batch[c] ? 0 : batch), __ATOMIC_RELAXED);
}

/* The learner's bound on the full slabs a heap keeps listed per class (retire_locked), from
 * HAKMEM_KEPT_FULL_SLABS up to HAKMEM_LEARN_KEPT_MAX; 0: the option's. */
static _Atomic(uint16_t) kept_learned[HAK_NCLASSES];

static unsigned kept_now(unsigned c)
{
  unsigned k = __atomic_load_n(&kept_learned[c], __ATOMIC_RELAXED);
  return k ? k : (unsigned)hak_opt.KEPT_FULL_SLABS;
}

unsigned hak_kept_full(unsigned c, unsigned *def, unsigned *most)
{
  *def = (unsigned)hak_opt.KEPT_FULL_SLABS;
  *most = HAK_MAX(*def, (unsigned)hak_opt.LEARN_KEPT_MAX);
  return kept_now(c);
}

void hak_kept_set(unsigned c, unsigned kept)
{
  unsigned def = (unsigned)hak_opt.KEPT_FULL_SLABS;
  kept = HAK_MAX(HAK_MIN(kept, (unsigned)hak_opt.LEARN_KEPT_MAX), def);
  __atomic_store_n(&kept_learned[c], (uint16_t)(kept == def ? 0 : kept), __ATOMIC_RELAXED);
}

static void **mag_bottom(hak_heap_t *h, unsigned c)
{
  return &h->slots[mag.base[c]];
}

static hak_heap_t *heap_new(void)
{
  pthread_mutex_lock(&heaps.lock);
  if (!__atomic_load_n(&mag.slots, __ATOMIC_RELAXED)) mag_geometry(); /* under heaps.lock */
  hak_heap_t *h = heaps.free;
  bool whole = false; /* a parked heap: the new thread takes its slabs too */
  if (h) {
    heaps.free = h->next_free;
    whole = h->parked;
    if (whole) __atomic_store_n(&heaps.parked, heaps.parked - 1, __ATOMIC_RELAXED);
  } else {
    size_t size = hak_align_up(sizeof(hak_heap_t) + mag.slots * sizeof(void *), HAK_CACHE_LINE);
    if (heaps.arena_left < size) {
      size_t chunk = hak_align_up(HAK_MAX(size * 64, (size_t)65536), hak_os_page);
      heaps.arena = hak_os_map_aligned(chunk, hak_os_page);
      if ((uintptr_t)heaps.arena >> HAK_REMOTE_COUNT_SHIFT) /* a keeper's mark must fit */
        hak_fatal("hakmem: the kernel mapped memory at %p, beyond %d bits", (void *)heaps.arena,
                  HAK_REMOTE_COUNT_SHIFT);
      heaps.arena_left = heaps.arena ? chunk : 0;
    }
    if (heaps.arena) {
      h = (hak_heap_t *)heaps.arena;
      /* a recycled heap's locks are left unlocked */
      pthread_mutex_init(&h->list_lock, NULL);
      pthread_mutex_init(&h->trim_lock, NULL);
      heaps.arena += size;
      heaps.arena_left -= size;
      h->next_all = heaps.all;
      __atomic_store_n(&heaps.all, h, __ATOMIC_RELEASE); /* hak_heap_freeing reads it unlocked */
    }
  }
  if (h) {
    heap_take_keys(h);
    /* A recycled heap is on heaps.all, where the background thread may be looking at it: under
     * its trim and list locks too. */
    pthread_mutex_lock(&h->trim_lock);
    pthread_mutex_lock(&h->list_lock);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
      void **bottom = mag_bottom(h, c);
      bottom[0] = NULL;
      h->top[c] = bottom + 1;
      h->lim[c] = bottom + 1 + mag.cap[c];
      for (unsigned k = 0; k < HAK_SLOW_KINDS; k++) h->slow[k][c] = 0;
      if (whole) continue;
      h->slab[c] = &hak_slab_none;
      h->bg_remote[c] = 0;
      for (unsigned l = 0; l < 2; l++) {
        h->head[l][c] = h->tail[l][c] = NULL;
        h->count[l][c] = 0;
      }
    }
    h->parked = false;
    memset(h->stats, 0, sizeof h->stats);
    h->refills = h->bg_refills = 0;
    h->bg_since = 0;
    h->span = NULL;
    h->next_free = NULL;
    h->live = true;
    pthread_mutex_unlock(&h->list_lock);
    pthread_mutex_unlock(&h->trim_lock);
  }
  pthread_mutex_unlock(&heaps.lock);
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

/* Where on the free list a heap that is not parked goes: behind the parked ones (heaps.lock). */
static hak_heap_t **free_after_parked(void)
{
  hak_heap_t **at = &heaps.free;
  while (*at && (*at)->parked) at = &(*at)->next_free;
  return at;
}

/* h, whose thread has exited, goes on the free list; parked, with its slabs, since now.  The
 * parked heaps come first on the list, so that heap_new takes one if there is one, and
 * hak_heap_unpark finds them all in the list's first few. */
static void heap_free(hak_heap_t *h, bool parked, double now)
{
  pthread_mutex_lock(&heaps.lock);
  stats_add(heaps.exited, h->stats);
  for (unsigned k = 0; k < HAK_SLOW_KINDS; k++)
    for (unsigned c = 0; c < HAK_NCLASSES; c++) heaps.exited_slow[k][c] += h->slow[k][c];
  h->live = false;
  h->parked = parked;
  h->parked_at = now;
  if (parked) __atomic_store_n(&heaps.parked, heaps.parked + 1, __ATOMIC_RELAXED);
  hak_heap_t **at = parked ? &heaps.free : free_after_parked();
  h->next_free = *at;
  *at = h;
  pthread_mutex_unlock(&heaps.lock);
}

/* fork: the heaps' lock, every heap's list lock, then every partial list's; the pool's locks
 * come after these.  Those are the orders every thread keeps: an owner takes its trim lock,
 * then its list lock, and other locks only with neither held; the background thread tries a
 * trim lock or takes a list lock under the heaps' lock.
 *
 * The trim locks are left out, on purpose: in the child, the heap of a thread that was
 * refilling keeps its trim lock held by a thread that is not there, and the background thread,
 * which only ever tries that lock, leaves the heap (half changed, and nobody's) alone; no one
 * waits on it, as such a heap is never recycled.  (Taking them too would also pass the 64 locks
 * ThreadSanitizer can follow in one thread.) */
void hak_heap_lock_all(void)
{
  pthread_mutex_lock(&heaps.pass_lock); /* no trim lock held by the background thread */
  pthread_mutex_lock(&heaps.lock);
  for (hak_heap_t *h = heaps.all; h; h = h->next_all) pthread_mutex_lock(&h->list_lock);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) pthread_mutex_lock(&partial[c].lock);
}

void hak_heap_unlock_all(bool child)
{
  if (child) { /* the child's copy of a lock may name a thread that does not exist there */
    hak_partial_init();
    for (hak_heap_t *h = heaps.all; h; h = h->next_all) { /* and none is freeing here */
      pthread_mutex_init(&h->list_lock, NULL);
      atomic_store_explicit(&h->freeing, NULL, memory_order_relaxed);
    }
    for (int i = 0; i < HEAPLESS_SLOTS; i++) /* only this thread's is still held */
      atomic_store_explicit(&heapless[i].ss, i == heapless_at ? HEAPLESS_IDLE : NULL,
                            memory_order_relaxed);
    atomic_store_explicit(&heapless_over, 0, memory_order_relaxed);
    pthread_mutex_init(&heaps.lock, NULL);
    pthread_mutex_init(&heaps.pass_lock, NULL);
    return;
  }
  for (unsigned c = HAK_NCLASSES; c-- > 0;) pthread_mutex_unlock(&partial[c].lock);
  for (hak_heap_t *h = heaps.all; h; h = h->next_all) pthread_mutex_unlock(&h->list_lock);
  pthread_mutex_unlock(&heaps.lock);
  pthread_mutex_unlock(&heaps.pass_lock);
}

/* ---- slab ownership: the protocol ----------------------------------------------------------
 *
 * Four fields of an ACTIVE slab say who may touch the rest of it (free, used, carved, next,
 * prev): owner, remote, list and orphan.  Exactly one party has charge of a slab at a time —
 * a heap, a lock, or nobody until the first free into it — and only that party writes the
 * rest.  Other threads only ever read owner, list, orphan and holder (relaxed, as hints they
 * recheck; holder, the list that holds the slab, is what they recheck under that list's lock)
 * and push onto remote, except that the one whose push empties a slab on its owner's warm or
 * full list takes it off that list under the heap's list_lock.  h is a heap;
 * K = HAKMEM_KEPT_FULL_SLABS.
 *
 *   state               owner        remote       list        orphan  in charge
 *   current             h            blocks|0     CUR         0       h
 *   warm, full          h            blocks|0     WARM, FULL  0       h
 *   adopted             h|ADOPTED    blocks|0     WARM, FULL  0       h
 *   marked, keeper h    h|1          h|1          NONE        0       the first free into it
 *   marked, no keeper   NULL         1            NONE        0       the first free into it
 *   shared              NULL         blocks|0     PARTIAL     0       partial[cls].lock
 *   shared orphan       NULL         blocks|0     PARTIAL     1       partial[cls].lock
 *   draining            NULL         blocks|0     NONE        0       hak_partial_drain's caller
 *   EMPTY (the pool's)  NULL         0            DIRTY/CLEAN 0       the pool's lock
 *
 *   from        to                  by                 how
 *   pool        current             refill             hak_pool_take formats it for h
 *   current     warm or full        slab_retire        fewer than K full slabs kept
 *   current     marked, keeper h    slab_mark_full     owner := h|1, then CAS remote 0 -> h|1
 *                                                       (release); fails, and stays owned, if a
 *                                                       block came back first
 *   marked      warm                slab_win_back      h's free: CAS remote h|1 -> 0 (acquire)
 *   marked      shared, or adopted  hak_free_remote    another thread's push replaces the mark
 *                                                       (acq_rel); it pushes the slab (keeper)
 *                                                       or adopts it (no keeper)
 *   warm, full  current             refill             owner := h (ends adopted)
 *   warm, full  EMPTY               owned_emptied      a free brought the remote count up to
 *                                                       listed_used (a full one past half of
 *                                                       HAKMEM_EMPTY_MAX_MB; within, counted
 *                                                       as empty and left to its owner);
 *                                                       rechecked under list_lock
 *   full,       EMPTY               hak_heap_release_  the background thread: counted for
 *   counted                         idle               longer than HAKMEM_SLAB_PURGE_MS;
 *                                                       under list_lock
 *   owned       EMPTY               hak_slab_freed,    used reaches 0: hak_pool_give
 *                                   hak_heap_trim,     (heap_give_empty: before every eighth
 *                                   heap_give_empty    pool take, its slabs others emptied)
 *   owned       shared orphan,      slab_abandon       the thread exits (its lists' slabs, and
 *               marked no keeper,                      current ones with nothing out), or its
 *               or EMPTY                               parked heap is given back
 *                                                      (hak_heap_unpark): free blocks, none,
 *                                                      or nothing live
 *   owned       owned by the next   heap_new           a parked heap's current slabs, taken
 *               thread                                 whole with it
 *   shared      current             hak_partial_pop    under the lock; owner := h
 *   orphan      adopted             hak_free_remote    hak_partial_take_orphan rechecks under
 *                                                       the lock, then slab_adopt
 *   shared      draining -> shared  hak_partial_drain  taken off whole under the lock, remote
 *               or EMPTY                               collected, the live ones put back
 *   shared      EMPTY               partial_emptied    a push brought the remote count up to
 *                                                       listed_used; rechecked under the lock
 *
 * A push onto remote (hak_free_remote) publishes the block's link with release; the exchange
 * that takes the list (hak_slab_collect) acquires.  A thread that replaces a mark acquires
 * what the marking thread wrote before its release.  Everything that changes hands through a
 * shared list does so under that list's lock.  Frees by h into its own slabs go to its
 * magazine (owner == h, the fast path); into an adopted slab, back on the slab
 * (slab_put_local); every other free is a remote push. */

/* ---- slabs as a thread sees them --------------------------------------------------------- */
static void heap_give_empty(hak_heap_t *h);

/* The slabs a thread owns besides the current ones sit on two lists per class: warm (with
 * free blocks) and full (exhausted; frees by this thread move them back to warm).  Both are
 * queues: a slab joins at the tail and refill takes the head, so a warm slab has gathered
 * frees for as long as possible before it is used again (fewer refills than a stack).
 *
 * A listed slab's used is published (listed_used), so that the remote free whose push brings
 * the remote count up to it, which has made the slab wholly free, gives it to the pool
 * (owned_emptied) instead of leaving it to an owner that may not allocate again for long (a
 * full one only once empty memory is past half its bound; until then it is counted and left to
 * its owner, which is most likely a producer about to take it back).  So
 * both lists are changed, by the owner and by such a thread, under the heap's list_lock, and
 * count is stored atomically for unlocked looks.  The owner changes a listed slab's used
 * outside the lock only while it holds one of its blocks (in its magazine, or being freed), and
 * then the remote count cannot reach what is published: a slab whose count matches is in
 * nobody's hands.  Linking a slab, the owner publishes, then reads the count; a remote free
 * pushes, then reads what is published; all four sequentially consistent, so that of two that
 * meet at least one sees the other.  (A later publish by the owner's own free is a release
 * store only: one that a remote free misses leaves the slab for refill or heap_give_empty.) */
static void list_link(hak_heap_t *h, hak_slab_t *s, uint8_t list)
{
  unsigned c = s->cls, l = list == HAK_LIST_FULL;
  s->next = NULL;
  s->prev = h->tail[l][c];
  if (s->prev) s->prev->next = s;
  else h->head[l][c] = s;
  h->tail[l][c] = s;
  hak_slab_set_list(s, list);
  atomic_store_explicit(&s->holder, h, memory_order_relaxed);
  __atomic_store_n(&h->count[l][c], h->count[l][c] + 1, __ATOMIC_RELAXED);
  atomic_store_explicit(&s->listed_used, s->used, memory_order_seq_cst);
}

static void list_unlink(hak_heap_t *h, hak_slab_t *s)
{
  if (s->counted) {
    s->counted = 0;
    hak_empty_count(hak_slab_bytes(s), false);
  }
  unsigned c = s->cls, l = s->list == HAK_LIST_FULL;
  if (s->prev) s->prev->next = s->next;
  else h->head[l][c] = s->next;
  if (s->next) s->next->prev = s->prev;
  else h->tail[l][c] = s->prev;
  __atomic_store_n(&h->count[l][c], h->count[l][c] - 1, __ATOMIC_RELAXED);
  s->next = s->prev = NULL;
  hak_slab_set_list(s, HAK_LIST_NONE);
  atomic_store_explicit(&s->holder, NULL, memory_order_relaxed);
  atomic_store_explicit(&s->listed_used, 0, memory_order_relaxed);
}

/* How many blocks the remote list of s holds (0 for a mark). */
static uint32_t remote_count(hak_slab_t *s)
{
  uintptr_t r = atomic_load_explicit(&s->remote, memory_order_seq_cst);
  return r & HAK_REMOTE_DETACHED ? 0 : (uint32_t)(r >> HAK_REMOTE_COUNT_SHIFT);
}

/* s, off every list and in this thread's charge, has every block back on its remote list:
 * they come home and it goes to the pool. */
static void give_back(hak_slab_t *s)
{
  hak_slab_collect(s);
  if (s->used != 0) hak_fatal("hakmem: block counts of the slab at %p corrupted", (void *)s->start);
  hak_pool_give(s);
}

/* give_back for each slab of a list linked through next. */
static void give_back_chain(hak_slab_t *list)
{
  for (hak_slab_t *s = list, *next; s; s = next) {
    next = s->next;
    give_back(s);
  }
}

/* Links s onto h's list (the caller holds list_lock); true if every block of it had already
 * come back, and then it is unlinked again, for the caller to give back once unlocked. */
static bool link_locked(hak_heap_t *h, hak_slab_t *s, uint8_t list)
{
  list_link(h, s, list);
  if (remote_count(s) != s->used) return false;
  list_unlink(h, s);
  return true;
}

static void own_push(hak_heap_t *h, hak_slab_t *s, uint8_t list)
{
  pthread_mutex_lock(&h->list_lock);
  bool emptied = link_locked(h, s, list);
  pthread_mutex_unlock(&h->list_lock);
  if (emptied) give_back(s);
}

static void own_unlink(hak_heap_t *h, hak_slab_t *s)
{
  pthread_mutex_lock(&h->list_lock);
  list_unlink(h, s);
  pthread_mutex_unlock(&h->list_lock);
}

/* A free made the remote count of s equal what its list published: if s is still on its
 * owner's warm or full list, every block of it is back, and this thread takes it off and
 * gives it to the pool.  A full slab, while empty memory is within half of
 * HAKMEM_EMPTY_MAX_MB, stays instead: its owner reuses it without a trip through the pool (a
 * producer whose consumer frees its blocks: xmalloc-test runs 20% slower when such slabs go
 * to the pool), and its bytes count as empty.  Past that, it goes, and the pool's purges keep
 * the bound (an owner that has stopped allocating).  The owner is read as a hint; under its
 * lock, s is on its lists only if it is s's holder (it, or another thread that got here too,
 * may have taken s first, and s may even have come back to it as its current slab; heaps are
 * never unmapped).  Taking s off a list ends its count (list_unlink). */
static void owned_emptied(hak_slab_t *s)
{
  uintptr_t o = (uintptr_t)atomic_load_explicit(&s->owner, memory_order_relaxed) & ~(uintptr_t)3;
  hak_heap_t *h = (hak_heap_t *)o;
  if (!h) return;
  pthread_mutex_lock(&h->list_lock);
  bool mine = atomic_load_explicit(&s->holder, memory_order_relaxed) == h;
  uint8_t l = __atomic_load_n(&s->list, __ATOMIC_RELAXED);
  if (mine) {
    uint32_t listed = atomic_load_explicit(&s->listed_used, memory_order_seq_cst);
    mine = listed != 0 && remote_count(s) == listed && !s->counted;
  }
  if (mine) {
    size_t bytes = hak_slab_bytes(s), half_bound = ((size_t)hak_opt.EMPTY_MAX_MB << 20) / 2;
    if (l == HAK_LIST_FULL && hak_empty_resident() + bytes <= half_bound) {
      s->counted = 1;
      s->empty_since = hak_os_now(); /* its age, for hak_heap_release_idle */
      hak_empty_count(bytes, true);
      mine = false;
    } else {
      list_unlink(h, s);
    }
  }
  pthread_mutex_unlock(&h->list_lock);
  if (!mine) return;
  if (hak_unlikely(hak_stats_on)) hak_stats_owned_emptied();
  give_back(s);
}

/* True if a block is on s (its map has carved - used bits set). */
static bool slab_listed(const hak_slab_t *s)
{
  return s->carved != s->used;
}

/* What setting a slab's bits needs, loaded once for a run of blocks: the stores into the map
 * and the blocks might alias the slab's fields, so the compiler would load them again for
 * every block of the run. */
typedef struct {
  char *start;
  uint64_t magic;
  uint64_t *map;
} map_ref_t;

static inline map_ref_t map_ref(const hak_slab_t *s)
{
  return (map_ref_t){s->start, s->magic, s->map};
}

_Noreturn __attribute__((noinline, cold)) static void map_twice(const void *p)
{
  hak_fatal("hakmem: free(): double free detected for %p (the block is on its slab already)", p);
}

/* Block p, checked to be one of the slab's, is back on it: its bit is set.  p's index is the
 * high half of its offset times the class constant (hak_class_magic: floor(2^64 / size) + 1
 * divides exactly below 2^32).  Its bit already set is a block freed twice that free's tag
 * test did not catch (a write after free had cleared the tag). */
static inline __attribute__((always_inline)) void map_put(map_ref_t m, void *p)
{
  uint64_t off = (uint64_t)((const char *)p - m.start);
  uint32_t i = (uint32_t)(((unsigned __int128)off * m.magic) >> 64);
  uint64_t bit = (uint64_t)1 << (i % 64), *w = hak_map_word(m.map, i / 64);
  if (hak_unlikely(*w & bit)) map_twice(p);
  *w |= bit;
}

/* Puts the blocks other threads freed back on s: one atomic exchange takes their list and its
 * count, and the list is walked, each link checked, and must hold as many blocks as it said. */
bool hak_slab_collect(hak_slab_t *s)
{
  if (!atomic_load_explicit(&s->remote, memory_order_relaxed)) return false;
  uint64_t t0 = hak_prof_begin();
  uintptr_t r = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
  if (!r) return false;
  void *head = HAK_REMOTE_HEAD(r), *b = head, *last = head;
  uint32_t n = (uint32_t)(r >> HAK_REMOTE_COUNT_SHIFT);
  if (n == 0 || n > s->used) hak_list_corrupt(head); /* more blocks back than were out */
  map_ref_t m = map_ref(s);
  for (uint32_t k = 0; k < n; k++) {
    if (!b) hak_list_corrupt(last); /* shorter than its count */
    void *next = hak_link_next(s, b);
    map_put(m, b);
    last = b;
    b = next;
  }
  if (b) hak_list_corrupt(last); /* longer than its count: a cycle */
  s->used -= n;
  hak_prof_end(HAK_PROF_DRAIN, t0);
  return true;
}

/* The keys of the free tag, loaded once for a run of blocks: the compiler cannot keep them in
 * registers across the stores into the blocks, which might alias them. */
typedef struct {
  uintptr_t mul, xor_key;
} tag_keys_t;

static tag_keys_t tag_keys(void)
{
  return (tag_keys_t){hak_keys.tag_mul, hak_keys.tag_xor};
}

/* Puts p back on its slab (m), which the caller has charge of, and writes its free tag again:
 * a write after free may have hit it. */
static inline __attribute__((always_inline)) void slab_link(map_ref_t m, void *p, tag_keys_t k)
{
  map_put(m, p);
  ((uintptr_t *)p)[1] = hak_tag_keyed(p, k.mul, k.xor_key);
}

static void slab_push(hak_slab_t *s, void *p)
{
  slab_link(map_ref(s), p, tag_keys());
}

/* Blocks have come back to s, a slab this thread owns, from its magazine: used is the new
 * count, and had_none says none was on it before (used was carved).  On the warm list, the
 * new used is published. */
static void slab_put_done(hak_heap_t *h, hak_slab_t *s, uint32_t used, bool had_none)
{
  s->used = used;
  if (used == 0 || had_none) {
    hak_slab_freed(h, s);
  } else if (__atomic_load_n(&s->list, __ATOMIC_RELAXED) == HAK_LIST_WARM) {
    /* A plain release store and no look at the remote count, which has a cache line of its
     * own: when this free, not a remote one, returns the last block out, or a remote one
     * meets this store and misses it, refill or heap_give_empty finds s. */
    atomic_store_explicit(&s->listed_used, used, memory_order_release);
  }
}

static void slab_put_local(hak_heap_t *h, hak_slab_t *s, void *p)
{
  uint32_t used = s->used;
  bool had_none = used == s->carved;
  slab_push(s, p);
  slab_put_done(h, s, used - 1, had_none);
}

/* A full slab leaves the thread's lists.  With a keeper (the owning heap) it stays owned, but
 * marked: owner and the remote head both read keeper|1.  The keeper's next free into it fails
 * the fast path's owner test and wins the slab back by swapping the mark for an empty remote
 * list; another thread's free that replaces the mark first passes the slab to the shared
 * partial list instead.  Either way exactly one thread takes charge of it, so a full slab is
 * never lost and never listed twice.  Without a keeper (a thread's exit, or the end of its
 * parked heap) only the second can happen.  Fails if blocks came back already. */
static bool slab_mark_full(hak_heap_t *h, hak_slab_t *s, hak_heap_t *keeper)
{
  uintptr_t expect = 0, mark = (uintptr_t)keeper | HAK_REMOTE_DETACHED;
  hak_slab_set_list(s, HAK_LIST_NONE);
  atomic_store_explicit(&s->owner, keeper ? (hak_heap_t *)mark : NULL, memory_order_relaxed);
  if (atomic_compare_exchange_strong_explicit(&s->remote, &expect, mark, memory_order_release,
                                              memory_order_relaxed))
    return true;
  atomic_store_explicit(&s->owner, h, memory_order_relaxed);
  return false;
}

/* The keeper of a marked full slab frees into it: it owns the slab again, on its warm list,
 * if no other thread freed into it first (or gives it to the pool if this was its only block). */
static bool slab_win_back(hak_heap_t *h, hak_slab_t *s, void *p)
{
  uintptr_t expect = (uintptr_t)h | HAK_REMOTE_DETACHED;
  if ((uintptr_t)atomic_load_explicit(&s->owner, memory_order_relaxed) != expect ||
      !atomic_compare_exchange_strong_explicit(&s->remote, &expect, 0, memory_order_acquire,
                                               memory_order_relaxed))
    return false;
  atomic_store_explicit(&s->owner, h, memory_order_relaxed);
  slab_push(s, p);
  if (--s->used == 0) hak_pool_give(s);
  else own_push(h, s, HAK_LIST_WARM);
  return true;
}

/* This thread has taken s, a slab left by a thread that exited: its blocks, p among them,
 * come home, and it joins this thread's queues (or the pool, if nothing in it is live). */
static void slab_adopt(hak_heap_t *h, hak_slab_t *s, void *p)
{
  atomic_store_explicit(&s->owner, (hak_heap_t *)((uintptr_t)h | HAK_OWNER_ADOPTED),
                        memory_order_relaxed);
  hak_slab_collect(s);
  if (p) {
    slab_push(s, p);
    s->used--;
  }
  if (s->used == 0) hak_pool_give(s);
  else own_push(h, s, slab_listed(s) || s->carved < s->capacity ? HAK_LIST_WARM : HAK_LIST_FULL);
}

/* A free into a slab this thread does not own.  The keeper of a marked full slab takes it back
 * (slab_win_back).  A slab left by a thread that exited (an orphan on the shared partial list,
 * or marked full without a keeper) is taken over and drained at once (slab_adopt), so that the
 * memory comes back, and later frees into it stay on the fast path, without waiting for some
 * thread to allocate from its class.  Every other free is one push onto the slab's remote
 * list: a live thread's slab, even one on the shared list, is left to the threads that
 * allocate, so that a consumer freeing a producer's blocks never takes a lock per free. */
static void partial_emptied(hak_slab_t *s);

/* What freeing_end restores: the name held before (a free nested in one, from a signal
 * handler), and the heapless slot used, -1 for none, -2 for heapless_over. */
typedef struct {
  const void *prev;
  int slot;
} freeing_t;

static void thread_heap_done(void *arg);

/* The heapless slot of this thread, claimed now if it has none; -1 if every slot is held. */
static int heapless_slot(void)
{
  if (heapless_at >= 0) return heapless_at;
  unsigned i = (unsigned)(((uintptr_t)&heapless_at >> 4) * 0x9E3779B97F4A7C15u >> 58);
  for (unsigned k = 0; k < HEAPLESS_SLOTS; k++, i = (i + 1) % HEAPLESS_SLOTS) {
    const void *none = NULL;
    if (atomic_load_explicit(&heapless[i].ss, memory_order_relaxed) == NULL &&
        atomic_compare_exchange_strong_explicit(&heapless[i].ss, &none, HEAPLESS_IDLE,
                                                memory_order_relaxed, memory_order_relaxed)) {
      heapless_at = (int)i;
      hak_os_thread_exit_hook(thread_heap_done, (void *)&heapless[i]); /* given back at exit */
      return heapless_at;
    }
  }
  return -1;
}

/* The push of a remote free is the moment from which any thread may take the block, empty the
 * slab and give its region back; the freer still reads the slab's header after it (to see
 * whether its block was the last one out).  So it names the region first, and
 * release_list leaves a named region mapped: the name is stored before the push, whose release
 * any thread that takes the block acquires, and it is cleared with release once the freer is
 * done, so that a thread that reads the name on its way to unmapping sees it, or sees it gone
 * only after the last read.  A thread without a heap names it in its heapless slot. */
static freeing_t freeing_begin(hak_heap_t *h, const void *p)
{
  const void *ss = hak_ss_of(p);
  freeing_t f = {NULL, -1};
  _Atomic(const void *) *name = &h->freeing;
  if (h == &hak_heap_empty) {
    f.slot = heapless_slot();
    if (f.slot < 0) {
      f.slot = -2;
      atomic_fetch_add_explicit(&heapless_over, 1, memory_order_relaxed);
      return f;
    }
    name = &heapless[f.slot].ss;
  }
  f.prev = atomic_load_explicit(name, memory_order_relaxed);
  /* release: a thread that reads this name has also seen the end of the free before */
  atomic_store_explicit(name, ss, memory_order_release);
  return f;
}

static void freeing_end(hak_heap_t *h, freeing_t f)
{
  if (f.slot == -2)
    atomic_fetch_sub_explicit(&heapless_over, 1, memory_order_release);
  else
    atomic_store_explicit(f.slot >= 0 ? &heapless[f.slot].ss : &h->freeing, f.prev,
                          memory_order_release);
}

bool hak_heap_freeing(const void *ss)
{
  if (atomic_load_explicit(&heapless_over, memory_order_acquire)) return true;
  for (int i = 0; i < HEAPLESS_SLOTS; i++)
    if (i != heapless_at && atomic_load_explicit(&heapless[i].ss, memory_order_acquire) == ss)
      return true;
  hak_heap_t *me = hak_tls_heap;
  for (hak_heap_t *h = __atomic_load_n(&heaps.all, __ATOMIC_ACQUIRE); h; h = h->next_all)
    if (h != me && atomic_load_explicit(&h->freeing, memory_order_acquire) == ss) return true;
  return false;
}

void hak_free_remote(hak_slab_t *s, void *p)
{
  hak_heap_t *h = hak_tls_heap;
  if ((uintptr_t)atomic_load_explicit(&s->owner, memory_order_relaxed) ==
      ((uintptr_t)h | HAK_OWNER_ADOPTED)) {
    slab_put_local(h, s, p);
    return;
  }
  if (slab_win_back(h, s, p)) return;
  bool can_adopt = h != &hak_heap_empty;
  if (can_adopt && __atomic_load_n(&s->orphan, __ATOMIC_RELAXED) &&
      __atomic_load_n(&s->list, __ATOMIC_RELAXED) == HAK_LIST_PARTIAL &&
      hak_partial_take_orphan(s, h)) {
    slab_adopt(h, s, p);
    return;
  }
  unsigned cls = s->cls; /* once emptied by this free, s may hold another class */
  freeing_t named = freeing_begin(h, p);
  uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), new;
  do { /* onto the list, one more in its count; over a mark, the first of a new list */
    bool mark = old & HAK_REMOTE_DETACHED;
    hak_block_link(p, mark ? NULL : HAK_REMOTE_HEAD(old));
    new = (uintptr_t)p + (mark ? HAK_REMOTE_COUNT : (old & ~(HAK_REMOTE_COUNT - 1)) + HAK_REMOTE_COUNT);
  } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, new, memory_order_seq_cst,
                                                  memory_order_relaxed));
  uint32_t listed_used = atomic_load_explicit(&s->listed_used, memory_order_seq_cst);
  if (hak_unlikely(listed_used != 0) && new >> HAK_REMOTE_COUNT_SHIFT == listed_used) {
    if (__atomic_load_n(&s->list, __ATOMIC_RELAXED) == HAK_LIST_PARTIAL) partial_emptied(s);
    else owned_emptied(s);
  }
  if (old & HAK_REMOTE_DETACHED) { /* this free replaced a full slab's mark: it is ours to place */
    bool keeperless = old == HAK_REMOTE_DETACHED;
    if (keeperless && can_adopt) {
      atomic_store_explicit(&s->owner, h, memory_order_relaxed);
      slab_adopt(h, s, NULL);
    } else {
      hak_partial_push(s, keeperless);
    }
  }
  freeing_end(h, named);
  if (hak_unlikely(hak_stats_on)) {
    if (h != &hak_heap_empty) h->stats[cls].remote_frees++;
    else hak_stats_remote_free_unowned(cls);
  }
}

/* A free by the owner made a slab wholly free, or gave a slab with no free block one.  A wholly
 * free slab goes back to the shared pool at once, unless it is the current one (a program that
 * frees and allocates one block at a time must not bounce a slab through the pool); a full one
 * becomes warm. */
void hak_slab_freed(hak_heap_t *h, hak_slab_t *s)
{
  if (s->list == HAK_LIST_CUR) return;
  if (s->used == 0) {
    if (s->list != HAK_LIST_NONE) own_unlink(h, s);
    hak_pool_give(s);
  } else if (s->list == HAK_LIST_FULL) {
    pthread_mutex_lock(&h->list_lock);
    list_unlink(h, s);
    bool emptied = link_locked(h, s, HAK_LIST_WARM);
    pthread_mutex_unlock(&h->list_lock);
    if (emptied) give_back(s);
  }
}

/* True if s has blocks to give: on its list, freed by other threads (collected now), or never
 * carved. */
static bool slab_has_blocks(hak_slab_t *s)
{
  return slab_listed(s) || hak_slab_collect(s) || s->carved < s->capacity;
}

/* An exhausted slab leaves the current place: to the full list, where frees by this thread stay
 * on the fast path, or, past HAKMEM_KEPT_FULL_SLABS full slabs, out of every list, marked
 * (slab_mark_full), so that the thread need not watch it.  The caller of retire_locked holds
 * list_lock, and gives s back once unlocked when it returns true (every block came back). */
static bool retire_locked(hak_heap_t *h, hak_slab_t *s)
{
  if (h->count[1][s->cls] >= kept_now(s->cls) && slab_mark_full(h, s, h))
    return false;
  return link_locked(h, s, slab_listed(s) ? HAK_LIST_WARM : HAK_LIST_FULL);
}

static void slab_retire(hak_heap_t *h, hak_slab_t *s)
{
  pthread_mutex_lock(&h->list_lock);
  bool emptied = retire_locked(h, s);
  pthread_mutex_unlock(&h->list_lock);
  if (emptied) give_back(s);
}

/* Makes h->slab[c] a slab with a free block: the current slab, a warm one, a full one that
 * other threads freed into, a partly free slab from the shared pool, an empty or new one.
 * Where only a new one is left while a heap is parked, and *unpark is false, it returns NULL
 * with *unpark true instead: the caller, its trim_lock dropped, has the oldest parked heap
 * hand on its slabs (hak_heap_unpark takes the heaps' lock, which heap_new holds while it
 * takes a recycled heap's trim_lock) and calls again. */
#define FULL_LOOKS 16 /* full slabs a refill looks at */
static hak_slab_t *refill(hak_heap_t *h, unsigned c, bool *unpark)
{
  hak_slab_t *s = h->slab[c], *next = NULL, *w, *back = NULL;
  if (s != &hak_slab_none && slab_has_blocks(s)) return s;
  bool listed = __atomic_load_n(&h->count[0][c], __ATOMIC_RELAXED) |
                __atomic_load_n(&h->count[1][c], __ATOMIC_RELAXED);
  if (listed || s != &hak_slab_none) { /* one lock for the lists and the retired slab */
    pthread_mutex_lock(&h->list_lock);
    while (listed && !next && (w = h->head[0][c]) != NULL) {
      list_unlink(h, w);
      if (slab_has_blocks(w)) {
        next = w;
      } else if (link_locked(h, w, HAK_LIST_FULL)) {
        w->next = back;
        back = w;
      }
    }
    /* A full slab that other threads have freed into, among the oldest FULL_LOOKS (a bound
     * the learner raised may list many more; heap_give_empty looks at every one). */
    unsigned looks = FULL_LOOKS;
    for (w = listed ? h->head[1][c] : NULL; !next && w && looks--; w = w->next) {
      if (remote_count(w)) {
        list_unlink(h, w);
        hak_slab_collect(w);
        next = w;
      }
    }
    if (s != &hak_slab_none && retire_locked(h, s)) {
      s->next = back;
      back = s;
    }
    pthread_mutex_unlock(&h->list_lock);
    give_back_chain(back);
  }
  while (!next && (next = hak_partial_pop(c, h)) != NULL) {
    count_slow(h, HAK_SLOW_SHARED, c);
    if (hak_unlikely(hak_stats_on)) hak_stats_partial(true);
    if (!slab_has_blocks(next)) { /* defensive: a listed slab always has a block to give */
      slab_retire(h, next);
      next = NULL;
    }
  }
  if (!next) {
    /* Before it takes a slab from the pool, the thread gives back the ones it holds that other
     * threads' frees have emptied (on every eighth take, which bounds the walk's cost while a
     * thread only grows): otherwise they wait for its housekeeping or its exit, and a thread
     * that lives a few milliseconds runs neither before its neighbours map fresh memory. */
    if ((++h->takes & 7) == 0) heap_give_empty(h);
    /* Before the pool grows, a heap parked by a thread that exited hands on what it holds. */
    if (!*unpark && __atomic_load_n(&heaps.parked, __ATOMIC_RELAXED) &&
        hak_pool_would_grow(hak_class_kind(c))) {
      h->slab[c] = &hak_slab_none;
      *unpark = true;
      return NULL;
    }
    *unpark = false;
    next = hak_pool_take(hak_class_kind(c), c, h);
    if (!next) {
      h->slab[c] = &hak_slab_none;
      return NULL;
    }
  }
  hak_slab_set_list(next, HAK_LIST_CUR);
  atomic_store_explicit(&next->owner, h, memory_order_relaxed); /* adopted: now its magazine's too */
  h->slab[c] = next;
  return next;
}

static void thread_heap_done(void *arg)
{
  hak_thread_done(arg);
}

/* ---- magazines ---------------------------------------------------------------------------- */

/* Moves the lowest up to end - t blocks on s to the magazine at t, the lowest on top (handed
 * out first); returns the new top.  No block is read: the map says which are on s.  It must
 * have carved - used bits set, which the walk checks. */
static void **mag_fill_map(hak_slab_t *s, void **t, void **end)
{
  uint32_t listed = s->carved - s->used, n = HAK_MIN(listed, (uint32_t)(end - t));
  if (!n) return t;
  uint64_t *map = s->map;
  char *start = s->start;
  size_t bsize = s->bsize;
  uint32_t words = (s->carved + 63) / 64, got = 0;
  void **first = t;
  for (uint32_t w = 0; w < words && got < n; w++) {
    uint64_t *mw = hak_map_word(map, w), x = *mw;
    while (x && got < n) {
      *t++ = start + ((size_t)w * 64 + (unsigned)__builtin_ctzll(x)) * bsize;
      x &= x - 1;
      got++;
    }
    *mw = x;
  }
  if (hak_unlikely(got != n)) hak_list_corrupt(start); /* fewer than their count */
  for (void **a = first, **z = t - 1; a < z; a++, z--) { /* the lowest on top */
    void *x = *a;
    *a = *z;
    *z = x;
  }
  s->used += n;
  return t;
}

/* Fills class c's empty magazine with a batch from s: the blocks on it first, then the blocks
 * other threads freed into it, then fresh blocks, carved in address order (a producer whose
 * blocks a consumer frees reuses them rather than touching new pages: the 1..128 KiB
 * producer/consumer of bench-compare peaked at 24 MiB, mimalloc's 7.7).  The map has
 * carved - used bits set, as the fill checks; a remote list's links are checked as
 * hak_slab_collect follows them, and it must end exactly at its count (a cycle, say from two
 * threads freeing one block at once, is found there).  carved is raised before a block is
 * handed out, so a block in a magazine is always inside the carved part. */
static void mag_fill(hak_heap_t *h, unsigned c, hak_slab_t *s)
{
  void **t = h->top[c], **end = t + mag_batch_now(c);
  if (end > h->lim[c] && h->lim[c] > t) end = h->lim[c]; /* a batch raised since mag_sync */
  t = mag_fill_map(s, t, end);
  if (t < end && hak_slab_collect(s)) t = mag_fill_map(s, t, end);
  if (t < end && s->carved < s->capacity) {
    uint32_t n = HAK_MIN((uint32_t)(end - t), s->capacity - s->carved);
    s->carved += n;
    __atomic_store_n(&s->limit, hak_slab_limit(s, s->carved), __ATOMIC_RELAXED);
    s->used += n;
    char *b = s->start + (size_t)s->carved * s->bsize;
    for (uint32_t i = 0; i < n; i++) { /* the lowest address ends on top */
      b -= s->bsize;
      ((uintptr_t *)b)[1] = hak_free_tag(b);
      *t++ = b;
    }
  }
  h->top[c] = t;
}

/* The slab of a block known to be small (one from a magazine). */
static hak_slab_t *slab_at(const void *p)
{
  return hak_slab_of(hak_ss_of(p), p);
}

/* A block leaves a magazine for its slab: back on the slab if this thread still owns it,
 * else by the remote path (which also wins back a marked full slab, see hak_free_remote). */
static void slab_take_back(hak_heap_t *h, void *p)
{
  hak_slab_t *s = slab_at(p);
  if (atomic_load_explicit(&s->owner, memory_order_relaxed) != h) hak_free_remote(s, p);
  else slab_put_local(h, s, p);
}

/* Gives the oldest n blocks of class c's magazine back to their slabs.  Blocks of one slab this
 * thread owns that lie next to each other in the magazine go back on it in one step (slab
 * bookkeeping once per run, not once per block): a thread that frees a batch of neighbours, as
 * a collector's sweep does, fills its magazine in runs.  A program that frees in no order of
 * address makes runs of one block, so a run costs little more than its bits in the map. */
static void mag_flush(hak_heap_t *h, unsigned c, size_t n)
{
  void **bottom = mag_bottom(h, c), **t = h->top[c];
  size_t have = (size_t)(t - bottom - 1);
  n = HAK_MIN(n, have);
  void **b = bottom + 1, **end = b + n;
  for (hak_slab_t *s = n ? slab_at(*b) : NULL, *next = NULL; b < end; s = next) {
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != h) {
      slab_take_back(h, *b++); /* the remote path may win s back: the next block looks again */
      next = b < end ? slab_at(*b) : NULL;
      continue;
    }
    uint32_t used = s->used;
    bool had_none = used == s->carved;
    tag_keys_t k = tag_keys();
    map_ref_t m = map_ref(s);
    do {
      slab_link(m, *b++, k);
      used--;
    } while (b < end && (next = slab_at(*b)) == s);
    slab_put_done(h, s, used, had_none);
  }
  memmove(bottom + 1, end, (have - n) * sizeof(void *));
  h->top[c] = t - n;
}

static void mag_flush_all(hak_heap_t *h)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) mag_flush(h, c, SIZE_MAX); /* a learned capacity too */
}

/* The owner takes on class c's capacity now (the learner may have changed it), and gets it:
 * what its magazine holds beyond goes back to the slabs. */
static unsigned mag_sync(hak_heap_t *h, unsigned c)
{
  unsigned cap = mag_cap_now(c);
  void **bottom = mag_bottom(h, c), **lim = bottom + 1 + cap;
  if (h->lim[c] == lim) return cap;
  size_t have = (size_t)(h->top[c] - bottom - 1);
  if (have > cap) mag_flush(h, c, have - cap);
  h->lim[c] = lim;
  return cap;
}

void hak_free_remote_slow(void *p)
{
  hak_free_remote(slab_at(p), p);
}

void hak_mag_overflow(void *p, hak_heap_t *h)
{
  hak_slab_t *s = slab_at(p);
  unsigned c = s->cls;
  count_slow(h, HAK_SLOW_MAG, c);
  unsigned cap = mag_sync(h, c);
  if (cap == 0) { /* statistics: no magazine */
    slab_take_back(h, p);
    return;
  }
  if (h->top[c] >= h->lim[c]) mag_flush(h, c, HAK_MAX(cap / 2, 1));
  *h->top[c]++ = p;
}

/* The mid pool's answer to an empty class: a ready block of a larger class, when its size
 * stays within HAKMEM_W_MAX times the request, saves a refill and wastes a bounded amount.
 * Without magazines (statistics) the larger class's current slab offers its blocks instead. */
static void *mid_borrow(hak_heap_t *h, unsigned c, size_t n)
{
  double limit = hak_opt.W_MAX * (double)n;
  for (unsigned k = c + 1; k < HAK_NCLASSES && hak_class_size[k] <= limit; k++) {
    void *b = hak_mag_pop(h, k);
    hak_slab_t *s = h->slab[k];
    if (!b && slab_listed(s)) {
      mag_sync(h, k); /* the batch mag_fill takes must fit under the limit */
      mag_fill(h, k, s);
      b = hak_mag_pop(h, k);
    }
    if (b) {
      if (hak_unlikely(hak_stats_on)) h->stats[c].hits++;
      return b;
    }
  }
  return NULL;
}

hak_heap_t *hak_heap_get(void)
{
  hak_heap_t *h = hak_tls_heap;
  if (hak_likely(h != &hak_heap_empty)) return h;
  hak_ensure_init();
  h = heap_new();
  if (!h) {
    errno = ENOMEM;
    return NULL;
  }
  hak_tls_heap = h;
  hak_os_thread_exit_hook(thread_heap_done, h);
  hak_background_start(); /* a thread's first slow path, before it holds anything */
  return h;
}

void *hak_small_alloc_slow(size_t n, unsigned c)
{
  hak_heap_t *h = hak_heap_get();
  if (hak_unlikely(!h)) return NULL;
  hak_slab_t *s = h->slab[c];
  if (hak_unlikely(hak_stats_on)) {
    h->stats[c].requests++;
    if (slab_listed(s)) h->stats[c].hits++;
    else h->stats[c].refills++;
  }
  count_slow(h, HAK_SLOW_MAG, c);
  mag_sync(h, c);
  if (!slab_listed(s) && c >= HAK_TINY_CLASSES && n) {
    void *b = mid_borrow(h, c, n);
    if (b) {
      if (hak_unlikely(hak_stats_on)) h->stats[c].refills--; /* counted as a hit instead */
      return b;
    }
  }
  if (!slab_listed(s)) {
    uint32_t n_refills = h->refills + 1;
    __atomic_store_n(&h->refills, n_refills, __ATOMIC_RELAXED); /* the background thread reads it */
    if (hak_unlikely((n_refills & 63) == 0)) hak_maintain();
    uint64_t t0 = hak_prof_begin();
    bool unpark = false;
    pthread_mutex_lock(&h->trim_lock);
    s = refill(h, c, &unpark);
    pthread_mutex_unlock(&h->trim_lock);
    if (unpark) {
      hak_heap_unpark(0, -1, 1);
      pthread_mutex_lock(&h->trim_lock);
      s = refill(h, c, &unpark);
      pthread_mutex_unlock(&h->trim_lock);
    }
    hak_prof_end(HAK_PROF_REFILL, t0);
    if (!s) return NULL;
  }
  mag_fill(h, c, s);
  return hak_mag_pop(h, c);
}

/* The slabs on h's warm and full lists that other threads' frees have made wholly free go back
 * to the pool, where any thread and class can take them; a full one that got blocks back
 * becomes warm.  The slabs with remote blocks are taken off first and collected after the
 * walk, so that a slab put back is not met again. */
static void heap_give_empty(hak_heap_t *h)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    if (!(__atomic_load_n(&h->count[0][c], __ATOMIC_RELAXED) |
          __atomic_load_n(&h->count[1][c], __ATOMIC_RELAXED)))
      continue;
    hak_slab_t *s, *next, *moved = NULL, *back = NULL;
    pthread_mutex_lock(&h->list_lock);
    for (unsigned l = 0; l < 2; l++) {
      for (s = h->head[l][c]; s; s = next) {
        next = s->next;
        if (remote_count(s)) {
          list_unlink(h, s);
          s->next = moved;
          moved = s;
        }
      }
    }
    for (s = moved; s; s = next) {
      next = s->next;
      hak_slab_collect(s);
      if (s->used == 0 || link_locked(h, s, HAK_LIST_WARM)) {
        s->next = back;
        back = s;
      }
    }
    pthread_mutex_unlock(&h->list_lock);
    give_back_chain(back);
  }
}

/* The pages inside the blocks on the remote list of s, a current slab of an idle heap whose
 * trim_lock the caller holds, go back to the OS: each block keeps the page with its link and
 * tag, and the list is pushed back as it was.  While this thread holds the list, the slab has
 * those blocks out, so it stays ACTIVE and mapped, and current (the owner changes its current
 * slabs only under trim_lock); the owner's collects meanwhile (mag_fill's, outside trim_lock)
 * take only what other threads pushed since, a new list that the old one joins.
 * Returns the list's count, or 0 if there was none to take. */
static uint32_t purge_remote_insides(hak_slab_t *s)
{
  uintptr_t r = atomic_load_explicit(&s->remote, memory_order_relaxed);
  if (!r || (r & HAK_REMOTE_DETACHED) ||
      !atomic_compare_exchange_strong_explicit(&s->remote, &r, 0, memory_order_acquire,
                                               memory_order_relaxed))
    return 0;
  uint32_t n = (uint32_t)(r >> HAK_REMOTE_COUNT_SHIFT);
  char *head = HAK_REMOTE_HEAD(r), *b = head, *last = head;
  uintptr_t page = hak_os_page;
  for (uint32_t k = 0; k < n; k++) {
    if (!b) hak_list_corrupt(last); /* shorter than its count */
    uintptr_t lo = hak_align_up((uintptr_t)b + 2 * sizeof(uintptr_t), page);
    uintptr_t hi = ((uintptr_t)b + s->bsize) & ~(page - 1);
    if (hi > lo) hak_os_purge((void *)lo, hi - lo);
    last = b;
    b = hak_link_next(s, b);
  }
  if (b) hak_list_corrupt(last); /* longer than its count */
  uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), new;
  do { /* a current slab is never marked */
    *(uintptr_t *)last = hak_link_enc(last, HAK_REMOTE_HEAD(old));
    new = (uintptr_t)head + (old & ~(HAK_REMOTE_COUNT - 1)) + (uintptr_t)n * HAK_REMOTE_COUNT;
  } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, new, memory_order_release,
                                                  memory_order_relaxed));
  return (uint32_t)(new >> HAK_REMOTE_COUNT_SHIFT);
}

/* A heap that has not refilled for HAKMEM_SLAB_PURGE_MS: the blocks that other threads freed
 * into its current slabs give their inner pages back (the slabs themselves, and what its
 * magazines hold, only the owner can give back).  Once per list: again only when it grew. */
static unsigned heap_purge_idle(hak_heap_t *h, double now, double delay)
{
  unsigned lists = 0;
  uint32_t refills = __atomic_load_n(&h->refills, __ATOMIC_RELAXED);
  if (refills != h->bg_refills || h->bg_since == 0) {
    h->bg_refills = refills;
    h->bg_since = now;
    return 0;
  }
  if (now - h->bg_since <= delay) return 0;
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_slab_t *s = h->slab[c];
    if (s == &hak_slab_none || s->bsize < 2 * hak_os_page) continue;
    uint32_t n = remote_count(s);
    if (n && n != h->bg_remote[c]) {
      h->bg_remote[c] = purge_remote_insides(s);
      lists += h->bg_remote[c] != 0;
    }
  }
  return lists;
}

void hak_heap_release_idle(double now, uint64_t *slabs, uint64_t *lists)
{
  double delay = hak_purge_delay();
  hak_slab_t *back = NULL, *s, *next;
  /* The heaps' lock only for the head of the list, so that threads start and exit meanwhile:
   * heaps are never unmapped, a heap's next_all never changes once it is on the list, and a
   * heap being recycled, or one whose thread has exited (parked with its current slabs, which
   * this pass treats as an idle thread's, or with none), is initialised or emptied under the
   * trim and list locks that this pass takes. */
  pthread_mutex_lock(&heaps.pass_lock);
  pthread_mutex_lock(&heaps.lock);
  hak_heap_t *all = heaps.all;
  pthread_mutex_unlock(&heaps.lock);
  for (hak_heap_t *h = all; h; h = h->next_all) {
    if (pthread_mutex_trylock(&h->trim_lock) == 0) { /* busy: the owner is in a slow path */
      *lists += heap_purge_idle(h, now, delay);
      pthread_mutex_unlock(&h->trim_lock);
    }
    pthread_mutex_lock(&h->list_lock);
    for (unsigned c = 0; c < HAK_NCLASSES; c++)
      for (s = __atomic_load_n(&h->count[1][c], __ATOMIC_RELAXED) ? h->head[1][c] : NULL; s; s = next) {
        next = s->next;
        if (s->counted && now - s->empty_since > delay) { /* in nobody's hands: see owned_emptied */
          list_unlink(h, s);
          s->next = back;
          back = s;
          ++*slabs;
        }
      }
    pthread_mutex_unlock(&h->list_lock);
  }
  pthread_mutex_unlock(&heaps.pass_lock);
  give_back_chain(back);
}

/* malloc_trim: the calling thread gives back its slabs that are wholly free, current ones too. */
void hak_heap_trim(void)
{
  hak_heap_t *h = hak_tls_heap;
  if (h == &hak_heap_empty) return;
  mag_flush_all(h);
  pthread_mutex_lock(&h->trim_lock);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_slab_t *s = h->slab[c];
    if (s != &hak_slab_none) {
      hak_slab_collect(s);
      if (s->used == 0) {
        h->slab[c] = &hak_slab_none;
        hak_slab_set_list(s, HAK_LIST_NONE);
        hak_pool_give(s);
      }
    }
  }
  pthread_mutex_unlock(&h->trim_lock);
  heap_give_empty(h);
}

/* ---- the shared partial lists ----------------------------------------------------------- */

/* s joins the partial list p, under p's lock, with used blocks out (listed_used). */
static void partial_link_locked(hak_partial_t *p, hak_slab_t *s, uint32_t used)
{
  atomic_store_explicit(&s->listed_used, used, memory_order_seq_cst);
  hak_slab_list_push(&p->head, s, HAK_LIST_PARTIAL);
  atomic_store_explicit(&s->holder, p, memory_order_relaxed);
}

/* s leaves the partial list p, under p's lock: listed nowhere, no orphan. */
static void partial_unlink_locked(hak_partial_t *p, hak_slab_t *s)
{
  hak_slab_list_unlink(&p->head, s);
  atomic_store_explicit(&s->holder, NULL, memory_order_relaxed);
  atomic_store_explicit(&s->listed_used, 0, memory_order_relaxed);
  __atomic_store_n(&s->orphan, 0, __ATOMIC_RELAXED);
}

/* The partial list that holds s, read without its lock: a hint, to be checked under it. */
static hak_partial_t *partial_holder(hak_slab_t *s)
{
  void *h = atomic_load_explicit(&s->holder, memory_order_relaxed);
  return (uintptr_t)h - (uintptr_t)partial < sizeof partial ? (hak_partial_t *)h : NULL;
}

/* Every block out of s, a slab on a partial list, is back on its remote list: s goes to the
 * pool at once, by the thread whose free (or push) made it so, not at the next housekeeping.
 * Rechecked under the lock: s is on p only if p is its holder; a thread may have taken s
 * meanwhile (and s may even be on another class's list by now), and then it is that one's. */
static void partial_emptied(hak_slab_t *s)
{
  hak_partial_t *p = partial_holder(s);
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  bool mine = atomic_load_explicit(&s->holder, memory_order_relaxed) == p;
  bool orphan = __atomic_load_n(&s->orphan, __ATOMIC_RELAXED);
  if (mine) {
    partial_unlink_locked(p, s);
  }
  pthread_mutex_unlock(&p->lock);
  if (!mine) return;
  hak_slab_collect(s);
  if (s->used == 0) {
    if (hak_unlikely(hak_stats_on)) hak_stats_partial(false);
    hak_pool_give(s);
  } else {
    hak_partial_push(s, orphan); /* a count of an older stay on the list */
  }
}

/* Puts s, which the caller has charge of, on its class's partial list; or, if every block out
 * is back on its remote list already, into the pool. */
void hak_partial_push(hak_slab_t *s, bool orphan)
{
  hak_partial_t *p = &partial[s->cls];
  uint32_t used = s->used;
  atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
  pthread_mutex_lock(&p->lock);
  __atomic_store_n(&s->orphan, orphan, __ATOMIC_RELAXED);
  partial_link_locked(p, s, used);
  /* A free that came before listed_used was set saw nothing to compare with: if every block is
   * back already, s comes off again at once.  Under the lock, as once it is unlocked s is no
   * longer this thread's to read (a thread may pop it, empty it and give its region back). */
  bool back = remote_count(s) == used;
  if (back) partial_unlink_locked(p, s);
  pthread_mutex_unlock(&p->lock);
  if (!back) return;
  if (hak_unlikely(hak_stats_on)) hak_stats_partial(false);
  give_back(s);
}

hak_slab_t *hak_partial_pop(unsigned cls, hak_heap_t *heap)
{
  hak_partial_t *p = &partial[cls];
  if (!__atomic_load_n(&p->head, __ATOMIC_RELAXED)) return NULL; /* a hint; the lock decides */
  pthread_mutex_lock(&p->lock);
  hak_slab_t *s = p->head;
  if (s) {
    partial_unlink_locked(p, s);
    atomic_store_explicit(&s->owner, heap, memory_order_relaxed);
  }
  pthread_mutex_unlock(&p->lock);
  return s;
}

bool hak_partial_take_orphan(hak_slab_t *s, hak_heap_t *heap)
{
  hak_partial_t *p = partial_holder(s);
  bool taken = false;
  if (!p) return false;
  pthread_mutex_lock(&p->lock);
  /* s is on p only if p is its holder: it may have left and joined another class's list.
   * orphan is read atomically: the thread that adopted s first may be writing it now,
   * outside this lock (own_push), and then s is no longer ours to take. */
  if (atomic_load_explicit(&s->holder, memory_order_relaxed) == p &&
      __atomic_load_n(&s->orphan, __ATOMIC_RELAXED)) {
    partial_unlink_locked(p, s);
    atomic_store_explicit(&s->owner, heap, memory_order_relaxed);
    taken = true;
  }
  pthread_mutex_unlock(&p->lock);
  return taken;
}

/* Slabs on the shared partial lists may be wholly free once their remote lists are drained:
 * each list is taken whole, drained outside the lock, and what still has live blocks goes
 * back.  A slab off the list meanwhile reads as unowned and unlisted, so frees into it push. */
void hak_partial_drain(void)
{
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_partial_t *p = &partial[c];
    if (!__atomic_load_n(&p->head, __ATOMIC_RELAXED)) continue;
    pthread_mutex_lock(&p->lock);
    hak_slab_t *list = p->head, *keep = NULL, *s;
    __atomic_store_n(&p->head, NULL, __ATOMIC_RELAXED);
    for (s = list; s; s = s->next) {
      hak_slab_set_list(s, HAK_LIST_NONE);
      atomic_store_explicit(&s->holder, NULL, memory_order_relaxed);
      atomic_store_explicit(&s->listed_used, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->lock);
    while ((s = list) != NULL) {
      list = s->next;
      hak_slab_collect(s);
      if (s->used == 0) {
        hak_pool_give(s);
      } else {
        s->next = keep;
        keep = s;
      }
    }
    if (!keep) continue;
    pthread_mutex_lock(&p->lock);
    while ((s = keep) != NULL) {
      keep = s->next;
      partial_link_locked(p, s, s->used);
    }
    pthread_mutex_unlock(&p->lock);
  }
}

/* ---- thread exit ------------------------------------------------------------------------- */

/* Hands a slab this thread owned to whoever needs it: the pool if it is wholly free, the
 * shared partial list if it has free blocks, else detached until a block comes back. */
static void slab_abandon(hak_heap_t *h, hak_slab_t *s)
{
  hak_slab_set_list(s, HAK_LIST_NONE);
  for (;;) {
    hak_slab_collect(s);
    if (s->used == 0) {
      hak_pool_give(s);
      return;
    }
    if (slab_listed(s) || s->carved < s->capacity) {
      hak_partial_push(s, true);
      return;
    }
    /* Nobody to give it back to: whoever frees into it first passes it to the shared pool. */
    if (slab_mark_full(h, s, NULL)) return;
  }
}

/* Takes every slab off h's warm and full lists, under one lock; returns them linked through
 * next, ahead of list. */
static hak_slab_t *heap_take_lists(hak_heap_t *h, hak_slab_t *list)
{
  hak_slab_t *s;
  pthread_mutex_lock(&h->list_lock);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    for (unsigned l = 0; l < 2; l++) {
      while ((s = h->head[l][c]) != NULL) {
        list_unlink(h, s);
        s->next = list;
        list = s;
      }
    }
  }
  pthread_mutex_unlock(&h->list_lock);
  return list;
}

/* Takes h's current slabs (with empty, only those with nothing out, their remote frees
 * collected first), under its trim_lock; returns them linked through next, ahead of list, and
 * sets *kept if a current slab stays. */
static hak_slab_t *heap_take_current(hak_heap_t *h, hak_slab_t *list, bool empty, bool *kept)
{
  *kept = false;
  pthread_mutex_lock(&h->trim_lock);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    hak_slab_t *s = h->slab[c];
    if (s == &hak_slab_none) continue;
    if (empty) hak_slab_collect(s);
    if (empty && s->used != 0) {
      *kept = true;
      continue;
    }
    h->slab[c] = &hak_slab_none;
    s->next = list;
    list = s;
  }
  pthread_mutex_unlock(&h->trim_lock);
  return list;
}

/* slab_abandon for each slab of a list linked through next. */
static void abandon_chain(hak_heap_t *h, hak_slab_t *list)
{
  for (hak_slab_t *s = list, *next; s; s = next) {
    next = s->next;
    slab_abandon(h, s);
  }
}

void hak_heap_abandon(hak_heap_t *h)
{
  hak_span_release(h);
  mag_flush_all(h);
  bool kept;
  abandon_chain(h, heap_take_current(h, heap_take_lists(h, NULL), false, &kept));
}

/* A thread that exits gives the slabs of its warm and full lists to the shared lists and the
 * pool, where any thread takes them, and parks its heap with its current slabs, for the next
 * thread that starts to take whole (heap_new), as glibc hands an exited thread's arena on: a
 * program that replaces its threads all the time goes on carving the slabs it was carving, warm,
 * with no trip through the shared lists (mstress at 2 threads peaks at 14.7 MiB against 16.0
 * when the current slabs went too; the lists parked as well cost larson's chains of short
 * threads 10% more memory and gave mstress little more).  A heap that no thread takes within
 * HAKMEM_SLAB_PURGE_MS, or before the pool of a class would grow, or at malloc_trim, gives its
 * current slabs back too (hak_heap_unpark).  Meanwhile other threads' frees into them are
 * remote frees, as into any thread's current slabs. */
void hak_thread_done(void *heap)
{
  hak_heap_t *h = heap;
  if (heapless_at >= 0) { /* a thread that freed before it had a heap gives its slot back */
    atomic_store_explicit(&heapless[heapless_at].ss, NULL, memory_order_release);
    heapless_at = -1;
  }
  if ((uintptr_t)heap - (uintptr_t)heapless < sizeof heapless) return; /* no heap */
  if (h == &hak_heap_empty || !h->live) return;
  hak_tls_heap = &hak_heap_empty; /* later frees of this thread take the remote path */
  hak_span_release(h);
  mag_flush_all(h);
  bool kept; /* a current slab with nothing out goes too */
  abandon_chain(h, heap_take_current(h, heap_take_lists(h, NULL), true, &kept));
  heap_free(h, kept, hak_os_now());
  /* A few parked heaps serve the threads that replace the ones that exited; past that, what
   * they hold would only wait (a pool of a thousand threads shrinking to ten). */
  unsigned parked = __atomic_load_n(&heaps.parked, __ATOMIC_RELAXED);
  if (parked > HEAPS_PARKED_MAX) hak_heap_unpark(0, -1, parked - HEAPS_PARKED_MAX);
}

unsigned hak_heap_unpark(double now, double max_age, unsigned most)
{
  if (!__atomic_load_n(&heaps.parked, __ATOMIC_RELAXED)) return 0;
  hak_heap_t *taken = NULL, **at, *h;
  unsigned n = 0, due = 0;
  pthread_mutex_lock(&heaps.lock);
  /* The parked heaps come first on the list, newest first: the oldest `most` due are the last
   * ones due before the first heap that is not parked. */
#define HEAP_DUE(h) (max_age < 0 || now - (h)->parked_at > max_age)
  for (h = heaps.free; h && h->parked; h = h->next_free) due += HEAP_DUE(h);
  unsigned skip = due > most ? due - most : 0;
  for (at = &heaps.free; (h = *at) != NULL && h->parked;) {
    if (!HEAP_DUE(h) || (skip && skip--)) {
      at = &h->next_free;
      continue;
    }
    *at = h->next_free;
    h->parked = false;
    __atomic_store_n(&heaps.parked, heaps.parked - 1, __ATOMIC_RELAXED);
    h->next_free = taken;
    taken = h;
    n++;
  }
#undef HEAP_DUE
  pthread_mutex_unlock(&heaps.lock);
  if (!taken) return 0;
  for (h = taken; h; h = h->next_free) hak_heap_abandon(h); /* off the list: this thread's */
  pthread_mutex_lock(&heaps.lock);
  at = free_after_parked();
  while ((h = taken) != NULL) {
    taken = h->next_free;
    h->next_free = *at;
    *at = h;
  }
  pthread_mutex_unlock(&heaps.lock);
  return n;
}
