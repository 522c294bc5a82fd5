/* The L2.5 tier (span.h).
 *
 * A region is cut into 1 KiB units; a block is a run of units, so that blocks lie end to end
 * and one that is written at both ends shares a page with its neighbour (a block of whole pages
 * would touch two pages of its own).  A region's header is a SuperSlab header whose slab 0 is
 * never ACTIVE (so free's fast path, which reads slabs[0] for every pointer of a region with
 * slab_shift 21, passes its pointers to the slow path) followed, over the unused slab records,
 * by hak_span_meta_t: a bitmap of the units in blocks, one of the units that start a block,
 * and per page whether it reads as zero (clean) and whether it is wholly free and not clean
 * (dirty: what a purge gives back, and what counts against HAKMEM_EMPTY_MAX_MB).
 *
 * Locks: one list lock (span.lock) for the lists of regions, and one mutex per region for its
 * units.  A thread holds at most one region lock, and takes the list lock only when it holds
 * none, so the order is always list, then region.  A region's membership — its owner, its bin,
 * whether it is on the dirty list, its links — changes only with both held, so either lock is
 * enough to read it (the owner is also stored atomically, for remote_push, which reads it with
 * no lock).  Its units change under its own lock alone: the common alloc and free take no lock
 * but that one, and a free into a region that another live thread owns takes none (see "frees
 * by other threads" below).
 *
 * | region state          | owner  | bin        | how it leaves the state                        |
 * |-----------------------|--------|------------|------------------------------------------------|
 * | a thread's current    | heap   | none       | the thread needs a run it has not: span_switch |
 * | unowned, with room    | NULL   | by longest | a thread picks it (span_switch); last block out |
 * | unowned, no block     | NULL   | by longest | up to SPAN_KEEP_EMPTY kept (kept), the rest   |
 * |                       |        |            | given to the LRU cache (relist_locked)        |
 * A free that makes an unowned region wholly free, or its longest free run pass its bin's power
 * of two, or a page of it dirty while it is off the dirty list, relists it (span_relist) after
 * dropping its lock; it pins the region (pending) meanwhile, so that no one retires it in
 * between. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "options.h"
#include "os.h"
#include "small.h"
#include "span.h"
#include "stats.h"

#define SPAN_UNIT_SHIFT 10
#define SPAN_UNITS (HAK_SS_SIZE >> SPAN_UNIT_SHIFT) /* 2048 */
#define SPAN_WORDS (SPAN_UNITS / 64)
#define PEND_PER 63 /* units per word of the pending bitmap; its top bit says detached */
#define PEND_WORDS ((SPAN_UNITS + PEND_PER - 1) / PEND_PER)
#define PEND_DETACHED ((uint64_t)1 << 63)
#define SPAN_MAXPAGES 512 /* pages of a region at the smallest page size, 4 KiB */
/* Bin 4c + q: longest free run in the q-th quarter of [2^c, 2^(c+1)) units (c >= 2; below, one
 * bin per power of two).  A request of k units takes a region from k's bin, where a region may
 * be too short, or from the next bin that has one, where every region fits: about the shortest
 * run that fits, so that long runs stay for long blocks.  A bin is a lower bound of a region's
 * longest run: a free relists the region only when the run passes a power of two (a relist
 * takes the list lock), so a region may sit a quarter or three below where it would fit. */
#define SPAN_BINS 48
#define SPAN_TRIES 4      /* regions of the first fitting bin tried before a larger bin */
#define SPAN_LOOKS 48     /* regions a thread out of room looks into before it maps one */
/* Wholly free regions the tier keeps, binned, before it gives more to the LRU cache: a thread
 * that exits leaves one, and the thread that replaces it takes it back with its pages, rather
 * than crowding the small tiers' SuperSlabs out of the cache (mstress at 4 threads: 20,000
 * page faults with these, 270,000 without). */
#define SPAN_KEEP_EMPTY 4

typedef struct hak_span_meta {
  pthread_mutex_t lock;
  hak_heap_t *owner;       /* the thread allocating from it, or NULL (stored atomically) */
  /* Blocks other threads freed while a thread owned it (remote_push): the units they start,
   * PEND_PER to a word, each word's top bit (PEND_DETACHED) set while it is unowned. */
  _Atomic(uint64_t) pend[PEND_WORDS];
  hak_ss_t *all_next, *all_prev;
  hak_ss_t *bin_next, *bin_prev;
  hak_ss_t *dirty_next, *dirty_prev;
  double dirty_at;         /* when it joined the dirty list */
  uint8_t bin;             /* 1 + its bin while on one, else 0 */
  uint8_t on_dirty;        /* on the dirty list */
  uint16_t free_units, dirty_pages;
  uint16_t blocks;
  uint16_t pending;        /* frees that dropped its lock to relist it: it is not retired */
  uint8_t kept;            /* wholly free and kept, one of span.kept (SPAN_KEEP_EMPTY) */
  /* The longest free run in units, or while !longest_exact a bound above it (a run was taken
   * since it was last measured): a free only raises it, a look at the bitmap makes it exact. */
  uint8_t longest_exact;
  uint16_t longest;
  uint64_t used[SPAN_WORDS];  /* units in blocks, and the header's */
  uint64_t start[SPAN_WORDS]; /* units that start a block */
  uint64_t clean[SPAN_MAXPAGES / 64]; /* pages that read as zero: wholly free */
  uint64_t dirty[SPAN_MAXPAGES / 64]; /* wholly free pages that are not clean */
  /* Dirty pages freed since dirty_at, while on the dirty list, the last of them at young_at: a
   * purge by age leaves them for the next unless they are due too, so that each page keeps its
   * pages for the delay, not only the region's first. */
  uint64_t young[SPAN_MAXPAGES / 64];
  double young_at;
} hak_span_meta_t;

_Static_assert(offsetof(hak_ss_t, slabs) + sizeof(hak_slab_t) + sizeof(hak_span_meta_t) <=
                   sizeof(hak_ss_t),
               "the span header fits over the unused slab records");

static struct {
  pthread_mutex_t lock;
  hak_ss_t *all;             /* every span region */
  hak_ss_t *bin[SPAN_BINS];  /* unowned regions with room, by their longest free run */
  struct { hak_ss_t *head, *tail; } dirty; /* regions with dirty pages, oldest first */
  unsigned kept;             /* wholly free regions kept binned */
  size_t ndirty;             /* regions on the dirty list */
} span = {.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};

/* The locks spin a while before they sleep: they are held for a few hundred instructions, and
 * a thread put to sleep on one costs two system calls and a context switch. */
static void lock_init(pthread_mutex_t *l)
{
  static const pthread_mutex_t adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
  *l = adaptive;
}

size_t hak_span_max;
static unsigned page_shift, npages, first_unit;

static hak_span_meta_t *meta(hak_ss_t *ss)
{
  return (hak_span_meta_t *)(void *)&ss->slabs[1];
}

void hak_span_init(void)
{
  page_shift = (unsigned)__builtin_ctzll((unsigned long long)hak_os_page);
  npages = (unsigned)(HAK_SS_SIZE >> page_shift);
  size_t hdr = offsetof(hak_ss_t, slabs) + sizeof(hak_slab_t) + sizeof(hak_span_meta_t);
  first_unit = (unsigned)(hak_align_up(hdr, (size_t)1 << SPAN_UNIT_SHIFT) >> SPAN_UNIT_SHIFT);
  hak_span_max = (size_t)((SPAN_UNITS - first_unit) / 2) << SPAN_UNIT_SHIFT;
}

/* ---- bitmaps ------------------------------------------------------------------------------ */

static bool bit(const uint64_t *m, unsigned i)
{
  return (m[i / 64] >> (i % 64)) & 1;
}

/* The bits [b, b + take) of a word, 0 < take <= 64 - b. */
static uint64_t word_mask(unsigned b, unsigned take)
{
  return (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << b;
}

/* Sets (or clears) bits [i, i + n) of m, and of also unless it is NULL (the dirty and young
 * pages change together: one pass). */
static void bits_set2(uint64_t *m, uint64_t *also, unsigned i, unsigned n, bool on)
{
  while (n) {
    unsigned b = i % 64, take = HAK_MIN(64 - b, n);
    uint64_t mask = word_mask(b, take);
    if (on) {
      m[i / 64] |= mask;
      if (also) also[i / 64] |= mask;
    } else {
      m[i / 64] &= ~mask;
      if (also) also[i / 64] &= ~mask;
    }
    i += take;
    n -= take;
  }
}

static void bits_set(uint64_t *m, unsigned i, unsigned n, bool on)
{
  bits_set2(m, NULL, i, n, on);
}

/* How many of bits [i, i + n) are set. */
static unsigned bits_count(const uint64_t *m, unsigned i, unsigned n)
{
  unsigned c = 0;
  while (n) {
    unsigned b = i % 64, take = HAK_MIN(64 - b, n);
    c += (unsigned)__builtin_popcountll(m[i / 64] & word_mask(b, take));
    i += take;
    n -= take;
  }
  return c;
}

/* The first index at or after i, below end, whose bit is set (set) or clear (!set); end if
 * none.  end is a multiple of 64. */
static unsigned next_bit(const uint64_t *m, unsigned i, unsigned end, bool set)
{
  while (i < end) {
    uint64_t w = (set ? m[i / 64] : ~m[i / 64]) & (~(uint64_t)0 << (i % 64));
    if (w) return (i & ~63u) + (unsigned)__builtin_ctzll(w);
    i = (i & ~63u) + 64;
  }
  return end;
}

/* The first free run of k units starting at a multiple of step, or -1. */
static int find_run(const hak_span_meta_t *m, unsigned k, unsigned step)
{
  unsigned i = 0;
  for (;;) {
    unsigned z = next_bit(m->used, i, SPAN_UNITS, false);
    z = (z + step - 1) & ~(step - 1);
    if (z + k > SPAN_UNITS) return -1;
    unsigned o = next_bit(m->used, z, SPAN_UNITS, true);
    if (o >= z + k) return (int)z;
    i = o;
  }
}

/* The longest free run, in units: measured only when a run has been taken since the last
 * time (longest_exact), as a free can only raise it. */
static unsigned longest_run(hak_span_meta_t *m)
{
  if (m->longest_exact) return m->longest;
  unsigned best = 0;
  for (unsigned i = 0; (i = next_bit(m->used, i, SPAN_UNITS, false)) < SPAN_UNITS;) {
    unsigned o = next_bit(m->used, i, SPAN_UNITS, true);
    best = HAK_MAX(best, o - i);
    i = o;
  }
  m->longest = (uint16_t)best;
  m->longest_exact = 1;
  return best;
}

/* One past the last set bit below i, or 0 if none. */
static unsigned prev_bit_end(const uint64_t *m, unsigned i)
{
  while (i > 0) {
    unsigned w = (i - 1) / 64, b = (i - 1) % 64;
    uint64_t x = m[w] & (b == 63 ? ~(uint64_t)0 : (((uint64_t)2 << b) - 1));
    if (x) return w * 64 + 64 - (unsigned)__builtin_clzll(x);
    i = w * 64;
  }
  return 0;
}

/* The free run around units [i, i + n), which are free. */
static unsigned run_around(const hak_span_meta_t *m, unsigned i, unsigned n)
{
  return next_bit(m->used, i + n, SPAN_UNITS, true) - prev_bit_end(m->used, i);
}

/* The length of the block that starts at unit i: up to the next free unit or, before it, the
 * next start. */
static unsigned block_units(const hak_span_meta_t *m, unsigned i)
{
  unsigned free_at = next_bit(m->used, i, SPAN_UNITS, false);
  unsigned words_end = (unsigned)hak_align_up(free_at, 64); /* no look past the free unit's word */
  return HAK_MIN(next_bit(m->start, i + 1, words_end, true), free_at) - i;
}

static unsigned bin_of(unsigned units)
{
  if (!units) return 0;
  unsigned c = 31u - (unsigned)__builtin_clz(units);
  return HAK_MIN(4 * c + (c >= 2 ? (units >> (c - 2)) & 3 : 0), SPAN_BINS - 1u);
}

/* Pages that units [i, i + n) touch: [*p0, *p1). */
static void pages_of_units(unsigned i, unsigned n, unsigned *p0, unsigned *p1)
{
  *p0 = (unsigned)(((size_t)i << SPAN_UNIT_SHIFT) >> page_shift);
  *p1 = (unsigned)((((size_t)(i + n) << SPAN_UNIT_SHIFT) + hak_os_page - 1) >> page_shift);
}

/* True if no unit of page p is in a block.  A page has 4 to 64 units: they lie in one word. */
static bool page_free(const hak_span_meta_t *m, unsigned p)
{
  unsigned per = (unsigned)(hak_os_page >> SPAN_UNIT_SHIFT), u = p * per;
  uint64_t mask = per >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << per) - 1) << (u % 64);
  return (m->used[u / 64] & mask) == 0;
}

/* ---- the lists (under span.lock and, for membership, the region's lock) ------------------ */

#define LIST_PUSH(head, ss, next, prev)                                                          \
  do {                                                                                           \
    meta(ss)->prev = NULL;                                                                       \
    meta(ss)->next = (head);                                                                     \
    if (head) meta(head)->prev = (ss);                                                           \
    (head) = (ss);                                                                               \
  } while (0)
#define LIST_UNLINK(head, ss, next, prev)                                                        \
  do {                                                                                           \
    hak_span_meta_t *m_ = meta(ss);                                                              \
    if (m_->prev) meta(m_->prev)->next = m_->next;                                               \
    else (head) = m_->next;                                                                      \
    if (m_->next) meta(m_->next)->prev = m_->prev;                                               \
    m_->next = m_->prev = NULL;                                                                  \
  } while (0)

static void bin_put(hak_ss_t *ss, unsigned longest)
{
  unsigned b = bin_of(longest);
  LIST_PUSH(span.bin[b], ss, bin_next, bin_prev);
  meta(ss)->bin = (uint8_t)(b + 1);
}

static void bin_take(hak_ss_t *ss)
{
  hak_span_meta_t *m = meta(ss);
  if (!m->bin) return;
  LIST_UNLINK(span.bin[m->bin - 1], ss, bin_next, bin_prev);
  m->bin = 0;
}

/* Takes ss off the dirty list, if it is on it. */
static void dirty_leave(hak_ss_t *ss)
{
  hak_span_meta_t *m = meta(ss);
  if (!m->on_dirty) return;
  if (span.dirty.tail == ss) span.dirty.tail = m->dirty_prev;
  if (m->dirty_prev) meta(m->dirty_prev)->dirty_next = m->dirty_next;
  else __atomic_store_n(&span.dirty.head, m->dirty_next, __ATOMIC_RELAXED);
  if (m->dirty_next) meta(m->dirty_next)->dirty_prev = m->dirty_prev;
  m->dirty_next = m->dirty_prev = NULL;
  m->on_dirty = 0;
  __atomic_store_n(&span.ndirty, span.ndirty - 1, __ATOMIC_RELAXED); /* read without the lock */
}

/* Puts ss, not on the dirty list, at its tail: it has been dirty since now. */
static void dirty_join(hak_ss_t *ss, double now)
{
  hak_span_meta_t *m = meta(ss);
  m->dirty_at = now;
  m->dirty_next = NULL;
  m->dirty_prev = span.dirty.tail;
  if (span.dirty.tail) meta(span.dirty.tail)->dirty_next = ss;
  else __atomic_store_n(&span.dirty.head, ss, __ATOMIC_RELAXED);
  span.dirty.tail = ss;
  m->on_dirty = 1;
  __atomic_store_n(&span.ndirty, span.ndirty + 1, __ATOMIC_RELAXED);
}

/* A look without the lock: is a region on the dirty list? */
static bool any_dirty(void)
{
  return __atomic_load_n(&span.dirty.head, __ATOMIC_RELAXED) != NULL;
}

/* Purges, a batch at a time, the runs of free pages that purge_add lists: regions stay locked
 * until the ranges that lie in them are given back. */
typedef struct {
  hak_range_t r[64];
  size_t n;
} purge_batch_t;

/* Lists the dirty pages of ss, under its lock, to be given back to the OS, all of them or only
 * those older than its time on the dirty list (old_only: not young); they are clean from then
 * on, and the young ones, if left, are no longer young.  One range covers a run of free pages,
 * clean ones among the dirty (a clean page given back again stays clean), so that scattered
 * dirty pages cost few; a range never covers a page left dirty.  Pages never touched since they
 * were counted cost the kernel nothing here, so there is no look first at which it holds.
 * Returns the bytes it will purge. */
static size_t purge_add(purge_batch_t *b, hak_ss_t *ss, bool old_only)
{
  hak_span_meta_t *m = meta(ss);
  uint64_t pick[SPAN_MAXPAGES / 64], any[SPAN_MAXPAGES / 64], none[SPAN_MAXPAGES / 64];
  for (unsigned w = 0; w < SPAN_MAXPAGES / 64; w++) {
    pick[w] = m->dirty[w] & (old_only ? ~m->young[w] : ~(uint64_t)0);
    any[w] = pick[w] | m->clean[w]; /* pages a range may cover */
    none[w] = ~any[w];
    m->young[w] = 0;
  }
  unsigned purged = 0;
  for (unsigned i = 0, d; (d = next_bit(pick, i, SPAN_MAXPAGES, true)) < SPAN_MAXPAGES;) {
    unsigned lo = HAK_MAX(i, prev_bit_end(none, d)), hi = next_bit(any, d, SPAN_MAXPAGES, false);
    if (b->n == sizeof b->r / sizeof b->r[0]) {
      hak_os_purge_many(b->r, b->n);
      b->n = 0;
    }
    b->r[b->n++] = (hak_range_t){(char *)ss + ((size_t)lo << page_shift),
                                 (size_t)(hi - lo) << page_shift};
    purged += bits_count(pick, lo, hi - lo);
    bits_set(m->dirty, lo, hi - lo, false);
    bits_set(m->clean, lo, hi - lo, true);
    i = hi;
  }
  m->dirty_pages = (uint16_t)(m->dirty_pages - purged);
  hak_empty_count((size_t)purged << page_shift, false);
  return (size_t)purged << page_shift;
}

/* The oldest regions on the dirty list, while they have been there for longer than `age`
 * seconds or the empty memory is past max, give their dirty pages back.  Past max they give
 * them all and leave the list; by age, all unless young ones are not due yet: then only those
 * dirty before its time on the list, and it goes to the list's tail as dirty since now (each
 * page keeps its pages from age to about twice that).  The list lock is held only to choose
 * them, since every relist of another thread waits on it and a purge is a system call; each
 * region's lock is held until its pages are gone.  With HAKMEM_PURGE_BATCH up to 16 regions go
 * in one call: the first region's lock is waited for, the others' only tried (a thread holds
 * one region lock at most but here), so no two threads wait on each other.  Returns how many
 * regions were purged (0 once none is due), and adds the bytes purged to *bytes. */
static size_t purge_oldest(double now, double age, size_t max, size_t *bytes)
{
  if (!any_dirty()) return 0;
  hak_ss_t *got[16];
  bool old_only[16];
  size_t n = 0, want = hak_opt.PURGE_BATCH ? 16 : 1, pending = 0;
  hak_ss_t *moved = NULL; /* the first region put back at the tail: the walk ends there */
  pthread_mutex_lock(&span.lock);
  for (hak_ss_t *ss = span.dirty.head, *next; ss && ss != moved && n < want; ss = next) {
    hak_span_meta_t *m = meta(ss);
    next = m->dirty_next;
    size_t resident = hak_empty_resident();
    bool within = resident < pending || resident - pending <= max;
    if (now - m->dirty_at <= age && within) break;
    if (n == 0) pthread_mutex_lock(&m->lock);
    else if (pthread_mutex_trylock(&m->lock) != 0) continue;
    dirty_leave(ss);
    /* By age (not past the bound, nor a trim), with young pages not due yet: those stay, and
     * the region goes back to the tail. */
    unsigned young = bits_count(m->young, 0, SPAN_MAXPAGES);
    old_only[n] = within && age >= 0 && now - m->young_at <= age && young != 0;
    if (old_only[n]) {
      dirty_join(ss, now);
      if (!moved) moved = ss;
    }
    pending += (size_t)(m->dirty_pages - (old_only[n] ? young : 0)) << page_shift;
    got[n++] = ss;
  }
  pthread_mutex_unlock(&span.lock);
  purge_batch_t b;
  b.n = 0;
  for (size_t i = 0; i < n; i++) *bytes += purge_add(&b, got[i], old_only[i]);
  hak_os_purge_many(b.r, b.n);
  for (size_t i = 0; i < n; i++) pthread_mutex_unlock(&meta(got[i])->lock);
  return n;
}

/* Takes an unowned region with no block out of every list, to go to the LRU cache; under both
 * locks.  Its dirty pages stop counting here and count in the cache (*resident bytes): with no
 * block left, every page past the header's is clean or dirty. */
static void region_retire_locked(hak_ss_t *ss, size_t *resident)
{
  hak_span_meta_t *m = meta(ss);
  *resident = (size_t)m->dirty_pages << page_shift;
  bin_take(ss);
  dirty_leave(ss);
  hak_empty_count((size_t)m->dirty_pages << page_shift, false);
  LIST_UNLINK(span.all, ss, all_next, all_prev);
}

/* A region whose membership may be out of date (see the table above): files it again.  Returns
 * true if it was retired, for the caller to give to the LRU cache (hak_ss_give(ss, *resident)). */
static bool relist_locked(hak_ss_t *ss, double now, size_t *resident)
{
  hak_span_meta_t *m = meta(ss);
  if (m->dirty_pages && !m->on_dirty) dirty_join(ss, now);
  if (m->owner) return false;
  if (m->blocks == 0 && m->pending == 0 && !m->kept) {
    if (span.kept >= SPAN_KEEP_EMPTY) {
      region_retire_locked(ss, resident);
      return true;
    }
    m->kept = 1;
    span.kept++;
  }
  unsigned longest = longest_run(m);
  if (longest == 0 || !m->bin || bin_of(longest) != m->bin - 1u) {
    bin_take(ss);
    if (longest) bin_put(ss, longest);
  }
  return false;
}

static int remote_drain_locked(hak_ss_t *ss, bool detach);

/* The thread that allocated from ss no longer does; the caller holds span.lock.  Returns true
 * if ss was retired, as relist_locked. */
static bool disown_locked(hak_ss_t *ss, double now, size_t *resident)
{
  pthread_mutex_lock(&meta(ss)->lock);
  __atomic_store_n(&meta(ss)->owner, NULL, __ATOMIC_RELAXED);
  remote_drain_locked(ss, true); /* relist_locked below files the region for what it freed */
  bool retired = relist_locked(ss, now, resident);
  pthread_mutex_unlock(&meta(ss)->lock);
  return retired;
}

/* Why a free relists a region: its bin only (RELIST_BIN), or its dirty list, its retirement or
 * its first bin (RELIST_MUST). */
enum { RELIST_NONE, RELIST_BIN, RELIST_MUST };

/* Relists ss for a free that found it needed (and pinned it with pending, so that the region,
 * unlocked in between, is still a span region here). */
static void span_relist(hak_ss_t *ss, int why)
{
  double now = hak_os_now();
  if (why == RELIST_BIN && pthread_mutex_trylock(&span.lock) != 0) {
    /* Only its bin is out of date, and a bin is a lower bound of the longest free run: when
     * the list is busy this can wait for the next free, unless the region has emptied
     * meanwhile (the free that emptied it left its retirement to this one, pending). */
    hak_span_meta_t *m = meta(ss);
    pthread_mutex_lock(&m->lock);
    bool later = m->blocks != 0 || m->owner != NULL;
    if (later) m->pending--;
    pthread_mutex_unlock(&m->lock);
    if (later) return;
    pthread_mutex_lock(&span.lock);
  } else if (why != RELIST_BIN) {
    pthread_mutex_lock(&span.lock);
  }
  pthread_mutex_lock(&meta(ss)->lock);
  meta(ss)->pending--;
  size_t resident;
  bool retired = relist_locked(ss, now, &resident);
  pthread_mutex_unlock(&meta(ss)->lock);
  pthread_mutex_unlock(&span.lock);
  if (retired) hak_ss_give(ss, resident);
}

/* Drops the lock of ss, which the caller holds, and relists ss for why (if not RELIST_NONE),
 * pinned meanwhile as span_relist needs. */
static void region_unlock(hak_ss_t *ss, int why)
{
  meta(ss)->pending += why != RELIST_NONE;
  pthread_mutex_unlock(&meta(ss)->lock);
  if (why) span_relist(ss, why);
}

/* ---- allocation --------------------------------------------------------------------------- */

static unsigned units_of(size_t n)
{
  return (unsigned)(hak_align_up(n ? n : 1, (size_t)1 << SPAN_UNIT_SHIFT) >> SPAN_UNIT_SHIFT);
}

static unsigned step_of(size_t align)
{
  return align > ((size_t)1 << SPAN_UNIT_SHIFT) ? (unsigned)(align >> SPAN_UNIT_SHIFT) : 1;
}

bool hak_span_fits(size_t n, size_t align)
{
  if (n > hak_span_max || align > HAK_SS_SIZE / 2) return false;
  unsigned k = units_of(n), step = step_of(align);
  unsigned at = (first_unit + step - 1) & ~(step - 1);
  return at + k <= SPAN_UNITS;
}

/* Makes units [i, i + k) of ss a block; under its lock.  Returns the block; *zeroed if every
 * page it touches was clean. */
static void *take_run(hak_ss_t *ss, unsigned i, unsigned k, bool *zeroed)
{
  hak_span_meta_t *m = meta(ss);
  unsigned p0, p1;
  pages_of_units(i, k, &p0, &p1);
  unsigned d = bits_count(m->dirty, p0, p1 - p0);
  bool zero = d == 0 && bits_count(m->clean, p0, p1 - p0) == p1 - p0; /* every page clean */
  bits_set(m->clean, p0, p1 - p0, false);
  if (d) { /* young pages are dirty ones */
    bits_set2(m->dirty, m->young, p0, p1 - p0, false);
    m->dirty_pages = (uint16_t)(m->dirty_pages - d);
    hak_empty_count((size_t)d << page_shift, false);
  }
  bits_set(m->used, i, k, true);
  bits_set(m->start, i, 1, true);
  m->longest_exact = 0; /* longest stays a bound above it */
  m->free_units = (uint16_t)(m->free_units - k);
  m->blocks++;
  hak_in_use_count((size_t)k << SPAN_UNIT_SHIFT, true);
  *zeroed = zero && hak_os_purge_zeroes();
  return (char *)ss + ((size_t)i << SPAN_UNIT_SHIFT);
}

/* Tries ss, locked by the caller, for k units at a multiple of step. */
static void *try_region(hak_ss_t *ss, unsigned k, unsigned step, bool *zeroed)
{
  hak_span_meta_t *m = meta(ss);
  if (m->free_units < k || m->longest < k) return NULL;
  int i = find_run(m, k, step);
  if (i < 0 && step == 1) m->longest = (uint16_t)(k - 1); /* no run of k: a closer bound */
  return i < 0 ? NULL : take_run(ss, (unsigned)i, k, zeroed);
}

/* Makes ss, fresh from the LRU cache or the OS (clean: it reads as zero), a span region owned
 * by h and on the list of all; the caller holds span.lock. */
static void region_format(hak_ss_t *ss, bool clean, hak_heap_t *h, double now)
{
  bool purged = !clean && ss->purged; /* a fresh region is not read before it is written */
  memset(ss, 0, offsetof(hak_ss_t, slabs) + sizeof(hak_slab_t) + sizeof(hak_span_meta_t));
  hak_span_meta_t *m = meta(ss);
  lock_init(&m->lock);
  bits_set(m->used, 0, first_unit, true);
  m->free_units = m->longest = (uint16_t)(SPAN_UNITS - first_unit);
  m->longest_exact = 1;
  /* Page 0 holds the header.  The rest of a fresh region is clean; a cached one that was purged
   * kept its header pages (HAK_SS_HDR), which may hold old data: dirty; one that was not purged
   * kept them all. */
  unsigned kept = HAK_MIN((unsigned)(hak_align_up(HAK_SS_HDR, hak_os_page) >> page_shift), npages);
  unsigned clean_from = clean ? 1 : purged ? kept : npages;
  if (clean_from < npages) bits_set(m->clean, clean_from, npages - clean_from, true);
  if (clean_from > 1) {
    bits_set(m->dirty, 1, clean_from - 1, true);
    m->dirty_pages = (uint16_t)(clean_from - 1);
    hak_empty_count((size_t)m->dirty_pages << page_shift, true);
    dirty_join(ss, now);
  }
  __atomic_store_n(&m->owner, h, __ATOMIC_RELAXED);
  ss->kind = HAK_SS_SPAN;
  ss->slab_shift = HAK_SS_SHIFT; /* every pointer reads slabs[0], never ACTIVE */
  ss->nslabs = 1;
  LIST_PUSH(span.all, ss, all_next, all_prev);
  __atomic_store_n(&ss->magic, HAK_SS_MAGIC, __ATOMIC_RELEASE);
}

/* h's region has no run of k units at a multiple of step: h takes an unowned region that has
 * one, else a fresh region, and the old one becomes unowned. */
static void *span_switch(hak_heap_t *h, unsigned k, unsigned step, bool *zeroed)
{
  double now = hak_os_now();
  void *p = NULL;
  hak_ss_t *ss = NULL, *old = h->span, *retired = NULL;
  size_t resident = 0;
  pthread_mutex_lock(&span.lock);
  /* At most SPAN_LOOKS regions looked into, whatever the alignment makes of the bins. */
  unsigned looks = SPAN_LOOKS;
  for (unsigned b = bin_of(k); b < SPAN_BINS && !p && looks; b++) {
    /* In a larger bin every region has the run, unless the alignment gets in the way. */
    unsigned tries = b == bin_of(k) || step > 1 ? SPAN_TRIES : 1;
    for (ss = span.bin[b]; ss && tries-- && looks && !p; ss = p ? ss : meta(ss)->bin_next) {
      looks--;
      pthread_mutex_lock(&meta(ss)->lock);
      if ((p = try_region(ss, k, step, zeroed)) != NULL) {
        bin_take(ss);
        __atomic_store_n(&meta(ss)->owner, h, __ATOMIC_RELAXED);
        for (unsigned w = 0; w < PEND_WORDS; w++) /* frees may mark blocks pending again */
          atomic_store_explicit(&meta(ss)->pend[w], 0, memory_order_relaxed);
        if (meta(ss)->kept) {
          meta(ss)->kept = 0;
          span.kept--;
        }
      }
      pthread_mutex_unlock(&meta(ss)->lock);
    }
  }
  hak_ss_t *fresh = NULL;
  if (!p) {
    pthread_mutex_unlock(&span.lock); /* a mapping takes a while: not under the lock */
    bool clean;
    fresh = hak_ss_take(&clean);
    pthread_mutex_lock(&span.lock);
    if ((ss = fresh) != NULL) {
      region_format(ss, clean, h, now);
      pthread_mutex_lock(&meta(ss)->lock);
      p = try_region(ss, k, step, zeroed); /* hak_span_fits said an empty region has the run */
      pthread_mutex_unlock(&meta(ss)->lock);
    }
  }
  if (p || fresh) { /* a fresh region is h's from its format on */
    h->span = ss;
    if (old && disown_locked(old, now, &resident)) retired = old;
  }
  pthread_mutex_unlock(&span.lock);
  if (retired) hak_ss_give(retired, resident);
  if (!p) errno = ENOMEM;
  return p;
}

void *hak_span_alloc(size_t n, size_t align, bool *zeroed)
{
  hak_heap_t *h = hak_heap_get();
  if (!h) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned k = units_of(n), step = step_of(align);
  if (hak_unlikely(hak_stats_on)) hak_stats_span_alloc(n);
  hak_ss_t *ss = h->span;
  if (ss) {
    pthread_mutex_lock(&meta(ss)->lock);
    int relist = remote_drain_locked(ss, false); /* what other threads freed is room too */
    void *p = try_region(ss, k, step, zeroed);
    region_unlock(ss, relist);
    hak_empty_enforce(); /* the blocks drained left pages free */
    if (p) return p;
  }
  return span_switch(h, k, step, zeroed);
}

/* ---- free and resize ---------------------------------------------------------------------- */

/* The unit index of p if it starts a block of ss (its lock held), else -1. */
/* The unit p starts in ss, or -1 if p is no unit boundary of ss past its header. */
static int unit_of(hak_ss_t *ss, const void *p)
{
  uintptr_t off = (uintptr_t)p - (uintptr_t)ss;
  if ((off & (((uintptr_t)1 << SPAN_UNIT_SHIFT) - 1)) || off >= HAK_SS_SIZE ||
      off < ((uintptr_t)first_unit << SPAN_UNIT_SHIFT))
    return -1;
  return (int)(off >> SPAN_UNIT_SHIFT);
}

static int block_index(hak_ss_t *ss, const void *p)
{
  int i = unit_of(ss, p);
  return i >= 0 && bit(meta(ss)->start, (unsigned)i) ? i : -1;
}

/* Pages [p, p + n) of a region, under its lock, have just become dirty: young if it is on the
 * dirty list already (its time there is older than they are). */
static void mark_dirty(hak_span_meta_t *m, unsigned p, unsigned n)
{
  bits_set2(m->dirty, m->on_dirty ? m->young : NULL, p, n, true);
}

/* Frees units [i, i + k) of ss, under its lock; the pages they leave wholly free are dirty.
 * Returns why the region must be relisted, if it must (RELIST_*). */
static int free_run_locked(hak_ss_t *ss, unsigned i, unsigned k)
{
  hak_span_meta_t *m = meta(ss);
  bits_set(m->used, i, k, false);
  m->free_units = (uint16_t)(m->free_units + k);
  hak_in_use_count((size_t)k << SPAN_UNIT_SHIFT, false);
  unsigned around = run_around(m, i, k);
  if (around >= m->longest) { /* a bound no higher than a run there is: exact */
    m->longest = (uint16_t)around;
    m->longest_exact = 1;
  }
  unsigned p0, p1, d = 0;
  pages_of_units(i, k, &p0, &p1);
  /* Every page left wholly free counts, held by the kernel or not: the pages inside the run,
   * and the two at its ends if their other units are free too (a page with a block on it is
   * never clean or dirty).  Asking the kernel which it holds would cost a call per free, as
   * much as giving them back past HAKMEM_EMPTY_MAX_MB (a page never touched costs the purge
   * nothing). */
  unsigned per = (unsigned)(hak_os_page >> SPAN_UNIT_SHIFT);
  unsigned in0 = (i + per - 1) / per, in1 = (i + k) / per;
  if (in1 > in0) {
    mark_dirty(m, in0, in1 - in0);
    d += in1 - in0;
  } else {
    in0 = in1 = p1;
  }
  for (unsigned p = p0; p < p1; p++) {
    if (p == in0) p = in1; /* past the inside, counted already */
    if (p < p1 && page_free(m, p)) {
      mark_dirty(m, p, 1);
      d++;
    }
  }
  if (d) {
    m->dirty_pages = (uint16_t)(m->dirty_pages + d);
    hak_empty_count((size_t)d << page_shift, true);
    if (m->on_dirty) m->young_at = hak_os_now_coarse(); /* a free's cost: not to the ns */
  }
  if (d && !m->on_dirty) return RELIST_MUST;
  if (m->owner) return RELIST_NONE;
  if (m->blocks == 0 || !m->bin) return RELIST_MUST;
  return bin_of(around) / 4 > (m->bin - 1u) / 4 ? RELIST_BIN : RELIST_NONE;
}

/* ---- frees by other threads -----------------------------------------------------------
 * A free into a region that another live thread allocates from sets the bit of the block's
 * first unit in the region's pending bitmap (one compare-and-swap) rather than taking the lock
 * that the owner takes for each allocation (a consumer freeing a producer's blocks met it on
 * every free: 23% of the samples in pthread_mutex_lock).  Nothing is written inside the block,
 * so a wrong pointer corrupts nothing: a bit already set is a second free, reported at once,
 * and a bit that starts no block is reported when the bitmap is taken.  Whoever next takes the
 * lock to look at the units takes the bitmap first: the owner's next allocation from the
 * region, any free, resize or size query that takes the lock, malloc_trim, and the owner's
 * release, which detaches each word (PEND_DETACHED: frees take the lock from then on).  The
 * swap that sets a bit is the freer's last access to the region: once the bit is taken the
 * block is freed and the region may go, so the word that says detached is the word the bit
 * goes into.  A pending block still counts as in use, so the region stays until it is taken. */

/* Frees the block that starts at unit i of ss, under its lock; returns why the region must be
 * relisted (RELIST_*). */
static int free_block_locked(hak_ss_t *ss, unsigned i)
{
  hak_span_meta_t *m = meta(ss);
  unsigned k = block_units(m, i);
  bits_set(m->start, i, 1, false);
  m->blocks--;
  return free_run_locked(ss, i, k);
}

/* Marks p pending in ss if another live thread owns ss; false if the free must take the lock
 * instead (no owner, the caller is the owner, p is no unit boundary past the header, or the
 * region is detached). */
static bool remote_push(hak_ss_t *ss, void *p)
{
  hak_span_meta_t *m = meta(ss);
  hak_heap_t *owner = __atomic_load_n(&m->owner, __ATOMIC_RELAXED);
  int u = unit_of(ss, p);
  if (!owner || owner == hak_tls_heap || u < 0) return false;
  unsigned i = (unsigned)u, w = i / PEND_PER;
  uint64_t b = (uint64_t)1 << (i % PEND_PER);
  uint64_t old = atomic_load_explicit(&m->pend[w], memory_order_relaxed);
  do {
    if (old & PEND_DETACHED) return false;
    if (old & b)
      hak_fatal("hakmem: free(): double free detected for %p (an L2.5 block already freed by "
                "another thread)", p);
  } while (!atomic_compare_exchange_weak_explicit(&m->pend[w], &old, old | b,
                                                  memory_order_release, memory_order_relaxed));
  return true;
}

/* Frees the pending blocks of ss, under its lock; with detach (the owner lets go) every word
 * is taken and marked detached.  Returns the strongest reason to relist the region. */
static int remote_drain_locked(hak_ss_t *ss, bool detach)
{
  hak_span_meta_t *m = meta(ss);
  int why = RELIST_NONE;
  for (unsigned w = 0; w < PEND_WORDS; w++) { /* 33 words, 5 cache lines */
    if (!detach && !(atomic_load_explicit(&m->pend[w], memory_order_relaxed) & ~PEND_DETACHED))
      continue;
    uint64_t bits = detach ? atomic_exchange_explicit(&m->pend[w], PEND_DETACHED,
                                                      memory_order_acquire)
                           : atomic_fetch_and_explicit(&m->pend[w], PEND_DETACHED,
                                                       memory_order_acquire);
    bits &= ~PEND_DETACHED;
    while (bits) {
      unsigned i = w * PEND_PER + (unsigned)__builtin_ctzll(bits);
      bits &= bits - 1;
      if (!bit(m->start, i))
        hak_fatal("hakmem: free(): invalid pointer %p (freed by another thread into an L2.5 "
                  "region, where it starts no block)",
                  (void *)((char *)ss + ((size_t)i << SPAN_UNIT_SHIFT)));
      int r = free_block_locked(ss, i);
      why = HAK_MAX(why, r);
    }
  }
  return why;
}

bool hak_span_free(hak_ss_t *ss, void *p)
{
  if (remote_push(ss, p)) return true;
  hak_span_meta_t *m = meta(ss);
  pthread_mutex_lock(&m->lock);
  int relist = remote_drain_locked(ss, false);
  int i = block_index(ss, p);
  if (i >= 0) {
    int why = free_block_locked(ss, (unsigned)i);
    relist = HAK_MAX(relist, why);
  }
  region_unlock(ss, relist);
  if (i < 0) return false;
  hak_empty_enforce();
  return true;
}

size_t hak_span_usable(hak_ss_t *ss, const void *p)
{
  hak_span_meta_t *m = meta(ss);
  pthread_mutex_lock(&m->lock);
  int relist = remote_drain_locked(ss, false); /* a block another thread freed is no block */
  int i = block_index(ss, p);
  size_t n = i < 0 ? 0 : (size_t)block_units(m, (unsigned)i) << SPAN_UNIT_SHIFT;
  region_unlock(ss, relist);
  return n;
}

bool hak_span_resize(hak_ss_t *ss, void *p, size_t n)
{
  if (n > hak_span_max) return false;
  hak_span_meta_t *m = meta(ss);
  unsigned k = units_of(n);
  bool ok = false;
  pthread_mutex_lock(&m->lock);
  int relist = remote_drain_locked(ss, false);
  int i = block_index(ss, p);
  if (i >= 0) {
    unsigned have = block_units(m, (unsigned)i), end = (unsigned)i + have;
    if (k < have) { /* the tail goes back */
      int why = free_run_locked(ss, (unsigned)i + k, have - k);
      relist = HAK_MAX(relist, why);
      ok = true;
    } else if (k == have) {
      ok = true;
    } else if ((unsigned)i + k <= SPAN_UNITS &&
               next_bit(m->used, end, SPAN_UNITS, true) >= (unsigned)i + k) {
      bool zeroed;
      take_run(ss, end, k - have, &zeroed); /* the units after it join the block */
      bits_set(m->start, end, 1, false);
      m->blocks--;
      ok = true;
      /* An unowned region's bin may now be above its longest run: filed again, at once. */
      if (!m->owner && m->bin) relist = RELIST_MUST;
    }
  }
  region_unlock(ss, relist);
  return ok;
}

/* ---- threads, purging, trimming ----------------------------------------------------------- */

void hak_span_release(hak_heap_t *h)
{
  hak_ss_t *ss = h->span;
  if (!ss) return;
  double now = hak_os_now();
  size_t resident;
  pthread_mutex_lock(&span.lock);
  h->span = NULL;
  bool retired = disown_locked(ss, now, &resident);
  pthread_mutex_unlock(&span.lock);
  if (retired) hak_ss_give(ss, resident);
}

/* malloc_trim: the wholly free regions kept go to the LRU cache (and from there to the OS). */
static size_t span_trim_kept(void)
{
  hak_ss_t *gone[SPAN_KEEP_EMPTY];
  size_t resident[SPAN_KEEP_EMPTY], n = 0, bytes = 0;
  pthread_mutex_lock(&span.lock);
  for (hak_ss_t *ss = span.all, *next; ss && n < SPAN_KEEP_EMPTY; ss = next) {
    next = meta(ss)->all_next;
    hak_span_meta_t *m = meta(ss);
    pthread_mutex_lock(&m->lock);
    if (m->kept && m->blocks == 0 && m->pending == 0 && !m->owner) {
      m->kept = 0;
      span.kept--;
      region_retire_locked(ss, &resident[n]);
      gone[n++] = ss;
    }
    pthread_mutex_unlock(&m->lock);
  }
  pthread_mutex_unlock(&span.lock);
  for (size_t i = 0; i < n; i++) {
    hak_ss_give(gone[i], resident[i]);
    bytes += resident[i];
  }
  return bytes;
}

/* malloc_trim: the blocks other threads freed into regions whose owners have not allocated
 * since are freed now, so that their pages can go back. */
static void span_drain_all(double now)
{
  size_t resident;
  pthread_mutex_lock(&span.lock);
  for (hak_ss_t *ss = span.all; ss; ss = meta(ss)->all_next) {
    pthread_mutex_lock(&meta(ss)->lock);
    /* only an owned region has pending blocks, and relist_locked keeps an owned one */
    if (meta(ss)->owner && remote_drain_locked(ss, false) != RELIST_NONE)
      relist_locked(ss, now, &resident);
    pthread_mutex_unlock(&meta(ss)->lock);
  }
  pthread_mutex_unlock(&span.lock);
}

/* purge_oldest until none is due, over at most as many regions as the list held: other
 * threads' frees may refill it meanwhile.  Returns the bytes purged. */
static size_t purge_due(double now, double age, size_t max)
{
  size_t bytes = 0;
  for (size_t left = __atomic_load_n(&span.ndirty, __ATOMIC_RELAXED), n;
       left && (n = purge_oldest(now, age, max, &bytes)) != 0;)
    left = left > n ? left - n : 0;
  return bytes;
}

size_t hak_span_purge(double now, bool all)
{
  if (all) {
    span_drain_all(now);
    size_t bytes = span_trim_kept();
    return bytes + purge_due(now, -1e300, SIZE_MAX);
  }
  size_t aged = purge_due(now, hak_purge_delay(), SIZE_MAX);
  hak_purge_aged(aged);
  return aged;
}

void hak_span_purge_over(size_t max)
{
  purge_due(0, 1e300, max);
}

void hak_span_counts(size_t *regions, size_t *blocks)
{
  pthread_mutex_lock(&span.lock);
  *regions = *blocks = 0;
  for (hak_ss_t *ss = span.all; ss; ss = meta(ss)->all_next) {
    ++*regions;
    pthread_mutex_lock(&meta(ss)->lock);
    *blocks += meta(ss)->blocks;
    pthread_mutex_unlock(&meta(ss)->lock);
  }
  pthread_mutex_unlock(&span.lock);
}

/* fork: the list lock, then every region's, so that no region is half changed in the child. */
void hak_span_lock_all(void)
{
  pthread_mutex_lock(&span.lock);
  for (hak_ss_t *ss = span.all; ss; ss = meta(ss)->all_next) pthread_mutex_lock(&meta(ss)->lock);
}

void hak_span_unlock_all(bool child)
{
  for (hak_ss_t *ss = span.all; ss; ss = meta(ss)->all_next) {
    /* In the child only the forking thread is left: the blocks freed into other threads'
     * regions are freed now, and frees into those regions take the lock from then on. */
    if (child && meta(ss)->owner && meta(ss)->owner != hak_tls_heap) {
      size_t resident;
      remote_drain_locked(ss, true);
      relist_locked(ss, hak_os_now(), &resident); /* owned still: only its dirty list */
    }
    if (child) lock_init(&meta(ss)->lock);
    else pthread_mutex_unlock(&meta(ss)->lock);
  }
  if (child) lock_init(&span.lock);
  else pthread_mutex_unlock(&span.lock);
}
