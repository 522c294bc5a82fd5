/* The learner (learn.h).
 *
 * What it moves: each size class's refill batch (and with it the magazine's capacity, two
 * batches), from the default up to HAKMEM_LEARN_BATCH_MAX, and no further than keeps two
 * batches within HAKMEM_LEARN_CLASS_KB.  What it reads: the slow paths each class has taken in
 * the last window (a malloc that found the magazine empty, a free that found it full), summed
 * over every thread from counters that only the slow paths write.  Why: a class whose slow
 * paths come thousands of times a second spends its time moving blocks between magazines and
 * slabs a batch at a time; a larger batch moves them in fewer trips (bench_mid: 18% faster at
 * 32 than at the default 8), at the cost of what the magazines hold.
 *
 * A class whose slow paths pass LEARN_RAISE per millisecond of window has its batch doubled
 * (within its bounds), on trial.  After HAKMEM_LEARN_DWELL_MS the trial is judged: kept if the
 * slow paths fell by at least half of what the larger batch promises, undone otherwise (the
 * trips were not what cost, or the demand changed meanwhile), and then the class waits eight
 * dwell times before another try.  A class quiet for LEARN_QUIET windows goes back to its
 * default, so that its magazines shrink at their owners' next slow path.
 *
 * On the same rules it moves each class's bound of kept full slabs (hak_kept_full), from
 * HAKMEM_KEPT_FULL_SLABS up to HAKMEM_LEARN_KEPT_MAX, four times at a step.  What it reads:
 * the slabs that refills took from the class's shared list.  Why: past the bound a thread
 * stops watching the slabs it fills, the first remote free into one puts it on the shared
 * list, and a producer whose consumer frees far behind it then takes its own slabs back from
 * there one free block at a time, under the list's lock, where a listed slab would have
 * gathered its frees (bench_prodcons with a lag: 13% faster at 256 than at 16).  But a larger
 * bound holds more memory (8% more peak RSS there), a trade the defaults do not make: the
 * option's maximum is the default bound, and it moves only when the user raises that.
 *
 * It also moves the purge delay (hak_purge_delay), from HAKMEM_SLAB_PURGE_MS up to
 * HAKMEM_LEARN_PURGE_MAX_MS.  What it reads: the bytes that purges by age gave back and the
 * bytes of purged memory taken into use again (a pool's clean slab, a SuperSlab from the ring,
 * a purged cached mapping: each costs a page fault per page), which those slow paths add up.
 * Why: a program that frees a burst and allocates it again a little later than the delay (a
 * server between requests) pays the faults at every burst, and a longer delay saves them
 * (bench_burst: half the time); meanwhile HAKMEM_EMPTY_MAX_MB still bounds what stays
 * resident.  While purged memory comes back at PURGE_RAISE bytes a second or more, the delay
 * is raised on trial (past the longest time that memory took to come back, at least doubled),
 * judged after a dwell time (or four delays, if longer) as a class's batch is, and undone if
 * that did not halve the rate; once purges by age come for LEARN_QUIET windows with nothing
 * taken back, it returns to the option's value.
 *
 * And it moves the BigCache's address bound (hak_bigcache_bound_mb), from
 * HAKMEM_BIGCACHE_MAX_MB up to HAKMEM_LEARN_BIGCACHE_MAX_MB, doubling it at a step.  What it
 * reads: the bytes of cached pages that the cache's bounds threw away (a cached mapping
 * unmapped past the address bound with its pages, one purged past the bound on empty memory and
 * then taken again), which the cache adds up.  Why: a program that keeps many large blocks live
 * and replaces them at random needs more cached mappings than the bound holds to find one that
 * fits; each one it cannot find is a fresh mapping whose pages all fault in (bench_large with 32
 * blocks of 1..8 MiB: 131,000 page faults at 64 MiB, 82,000 at 128).  The raise lets the bound
 * on empty memory grow by as much, for the cache's pages count against it and would be purged
 * past it instead.  While LOST_RAISE bytes a second or more are thrown away the bound is raised
 * on trial, judged after a dwell time and undone if that did not halve the rate; after
 * LEARN_QUIET windows with no large request it returns to the option's value.  Every change is
 * logged (HAKMEM_LEARN_LOG prints it at once; HAKMEM_STATS at exit). */
#include <stdatomic.h>

#include "large.h"
#include "learn.h"
#include "options.h"
#include "small.h"
#include "stats.h"
#include "superslab.h"

#define LEARN_RAISE 10 /* slow paths per millisecond of window: 10,000 a second */
#define LEARN_QUIET 50 /* windows with no slow path */
#define KEPT_RAISE 1   /* shared slabs taken per millisecond of window: 1,000 a second */
#define LEARN_LOG_MAX 256
#define PURGE_RAISE (8u << 20) /* bytes of purged memory taken back per second: 2,048 faults */
#define PURGE_CLASS HAK_NCLASSES /* the "class" of a process-wide decision in the log */
#define LOST_RAISE (8u << 20) /* bytes of cached pages the BigCache's bounds throw away a second */

/* The per-class knobs, each moved by its own count (small.h), on the same rules; then the two
 * process-wide ones. */
enum { KNOB_BATCH, KNOB_KEPT, KNOB_PURGE, KNOB_BIGCACHE };
static const struct {
  unsigned (*get)(unsigned c, unsigned *def, unsigned *most);
  void (*set)(unsigned c, unsigned to);
  unsigned count;       /* which of hak_heap_slow_counts */
  unsigned raise;       /* that count per millisecond of window that raises the knob */
  unsigned step;        /* a raise multiplies the knob by this */
  const char *name, *unit, *raised, *kept, *undone;
} knobs[2] = {
  [KNOB_BATCH] = {hak_mag_batch, hak_mag_set_batch, HAK_SLOW_MAG, LEARN_RAISE, 2, "batch",
                  "slow paths per window", "raised: slow paths frequent",
                  "kept: slow paths fell", "undone: slow paths did not fall enough"},
  [KNOB_KEPT] = {hak_kept_full, hak_kept_set, HAK_SLOW_SHARED, KEPT_RAISE, 4, "kept full slabs",
                 "shared slabs taken per window", "raised: shared slabs taken often",
                 "kept: fewer shared slabs taken", "undone: shared slabs not taken less"},
};

typedef struct {
  uint64_t seen;          /* the knob's count at the last look */
  uint64_t base;          /* the count in the window before a trial */
  double changed_at, wait_until;
  unsigned quiet;         /* windows in a row with no slow path of the class */
  uint16_t prev;          /* the value before a trial */
  bool trial, started;
} learn_class_t;

/* A process-wide knob moved by a rate of bytes a second (the purge delay, the BigCache's
 * bound), on the rules of a class's knob. */
typedef struct {
  unsigned knob;             /* KNOB_PURGE or KNOB_BIGCACHE */
  unsigned value, prev;      /* the knob's value, and the one before a trial */
  uint64_t since_bytes;      /* counted since `since` */
  double since, base_rate;   /* base_rate: the rate before a trial */
  double changed_at, wait_until;
  unsigned quiet;            /* windows in a row that count towards going back to the default */
  bool trial, started;
} learn_rate_t;

/* The purge delay's: bytes of purged memory taken back a second. */
typedef struct {
  learn_rate_t r;
  uint64_t aged, retaken;    /* the totals at the last look */
  unsigned since_gap;        /* the longest free-to-retake time since r.since, ms */
} learn_purge_t;

/* The BigCache's bound's: bytes of cached pages thrown away a second. */
typedef struct {
  learn_rate_t r;
  uint64_t lost, requests;   /* the totals at the last look */
} learn_bigcache_t;

static struct {
  learn_class_t cls[2][HAK_NCLASSES]; /* [knob][class] */
  learn_purge_t purge;
  learn_bigcache_t bigcache;
  double t0, last;
  struct {
    double at;
    unsigned knob, cls, from, to; /* the purge delay in ms, the BigCache's bound in MiB */
    uint64_t before, after; /* the knob's count per window; process-wide ones, KiB a second */
    char what;            /* r: raised, k: kept, u: undone, q: quiet, back to the default */
  } log[LEARN_LOG_MAX];
  _Atomic(unsigned) logged; /* entries written (release: the report reads them at exit) */
  unsigned dropped;
} L;

static const char *why(char what, unsigned knob)
{
  if (knob == KNOB_BIGCACHE) {
    switch (what) {
    case 'r': return "raised: cached pages thrown away by the bounds often";
    case 'k': return "kept: fewer cached pages thrown away";
    case 'u': return "undone: as many cached pages thrown away";
    default: return "back to the default: no large request";
    }
  }
  if (knob == KNOB_PURGE) {
    switch (what) {
    case 'r': return "raised: purged memory taken back soon after";
    case 'k': return "kept: less purged memory taken back";
    case 'u': return "undone: as much purged memory taken back";
    default: return "back to the default: purged memory not taken back";
    }
  }
  switch (what) {
  case 'r': return knobs[knob].raised;
  case 'k': return knobs[knob].kept;
  case 'u': return knobs[knob].undone;
  default: return "back to the default: class quiet";
  }
}

/* The decision as one line into buf. */
static void describe(char *buf, size_t cap, double at, unsigned knob, unsigned c, unsigned from,
                     unsigned to, uint64_t before, uint64_t after, char what)
{
  bool purge = knob == KNOB_PURGE, global = knob >= KNOB_PURGE;
  const char *unit = purge                    ? "KiB taken back a second"
                     : knob == KNOB_BIGCACHE ? "KiB thrown away a second"
                                             : knobs[knob].unit;
  char nums[80] = "";
  if (what == 'r') hak_format(nums, sizeof nums, " (%zu %s)", (size_t)before, unit);
  else if (what != 'q')
    hak_format(nums, sizeof nums, " (%zu -> %zu %s)", (size_t)before, (size_t)after, unit);
  char change[48];
  const char *name = purge ? "purge delay" : global ? "BigCache MiB" : knobs[knob].name;
  const char *ms = purge ? " ms" : "";
  if (what == 'k') hak_format(change, sizeof change, "%s %u%s", name, to, ms);
  else hak_format(change, sizeof change, "%s %u -> %u%s", name, from, to, ms);
  char who[40] = "";
  if (!global) hak_format(who, sizeof who, "class %u (%u B): ", c, (unsigned)hak_class_size[c]);
  hak_format(buf, cap, "at %zu ms, %s%s, %s%s", (size_t)(at * 1000), who, change,
             why(what, knob), nums);
}

static void decide(double now, unsigned knob, unsigned c, unsigned from, unsigned to,
                   uint64_t before, uint64_t after, char what)
{
  unsigned i = atomic_load_explicit(&L.logged, memory_order_relaxed);
  if (i < LEARN_LOG_MAX) {
    __typeof__(L.log[0]) *e = &L.log[i];
    e->at = now - L.t0;
    e->knob = knob, e->cls = c, e->from = from, e->to = to;
    e->before = before, e->after = after, e->what = what;
    atomic_store_explicit(&L.logged, i + 1, memory_order_release);
  } else {
    L.dropped++;
  }
  if (hak_opt.LEARN_LOG) {
    char line[200];
    describe(line, sizeof line, now - L.t0, knob, c, from, to, before, after, what);
    hak_msg("hakmem: learner: %s", line);
  }
}

static void rate_set(learn_rate_t *k, double now, unsigned v)
{
  k->value = v;
  if (k->knob == KNOB_PURGE) hak_purge_delay_set(v);
  else hak_bigcache_set_bound_mb(v);
  k->changed_at = now;
}

/* The rate is measured from now on. */
static void rate_restart(learn_rate_t *k, double now)
{
  k->since = now;
  k->since_bytes = 0;
}

static double rate_of(const learn_rate_t *k, double now)
{
  return now > k->since ? k->since_bytes / (now - k->since) : 0;
}

/* The trial is judged: kept if the rate fell by half, undone otherwise, and then no other
 * trial for eight times `judge`. */
static void rate_judge(learn_rate_t *k, double now, double judge)
{
  k->trial = false;
  double rate = rate_of(k, now);
  uint64_t before = (uint64_t)(k->base_rate / 1024), after = (uint64_t)(rate / 1024);
  if (2 * rate > k->base_rate) {
    decide(now, k->knob, PURGE_CLASS, k->value, k->prev, before, after, 'u');
    rate_set(k, now, k->prev);
    k->wait_until = now + 8 * judge;
  } else {
    decide(now, k->knob, PURGE_CLASS, k->value, k->value, before, after, 'k');
    k->changed_at = now;
  }
}

/* Raised to `to` on trial, from the rate measured. */
static void rate_raise(learn_rate_t *k, double now, unsigned to, double rate)
{
  decide(now, k->knob, PURGE_CLASS, k->value, to, (uint64_t)(rate / 1024), 0, 'r');
  k->prev = k->value;
  rate_set(k, now, to);
  k->base_rate = rate;
  k->trial = true;
}

/* Back to the option's value, def. */
static void rate_back(learn_rate_t *k, double now, unsigned def)
{
  decide(now, k->knob, PURGE_CLASS, k->value, def, 0, 0, 'q');
  rate_set(k, now, def);
  k->quiet = 0;
}

/* The rate of purged memory taken back is measured from now on. */
static void purge_restart(learn_purge_t *p, double now)
{
  rate_restart(&p->r, now);
  p->since_gap = 0;
}

/* One look at the purge delay (see the top of the file). */
static void learn_purge(double now, double dwell)
{
  learn_purge_t *p = &L.purge;
  learn_rate_t *k = &p->r;
  unsigned def = (unsigned)hak_opt.SLAB_PURGE_MS, most = (unsigned)hak_opt.LEARN_PURGE_MAX_MS;
  uint64_t aged, retaken;
  unsigned gap;
  hak_purge_totals(&aged, &retaken, &gap);
  uint64_t da = aged - p->aged, dr = retaken - p->retaken;
  p->aged = aged, p->retaken = retaken;
  if (!k->started) {
    k->started = true;
    k->knob = KNOB_PURGE;
    k->value = def;
    purge_restart(p, now);
    return;
  }
  if (most <= def) return;
  k->since_bytes += dr;
  p->since_gap = HAK_MAX(p->since_gap, gap);
  double judge = HAK_MAX(dwell, 4 * k->value / 1000.0);
  if (k->trial) {
    if (now - k->changed_at < judge) return;
    rate_judge(k, now, judge);
    purge_restart(p, now);
    return;
  }
  /* Quiet: windows that purged by age and took nothing back. */
  k->quiet = dr ? 0 : da ? k->quiet + 1 : k->quiet;
  if (k->quiet >= LEARN_QUIET && k->value != def) {
    rate_back(k, now, def);
    purge_restart(p, now);
    return;
  }
  if (now - k->since < dwell) return;
  double rate = rate_of(k, now);
  if (rate >= PURGE_RAISE && k->value < most && now - k->changed_at >= dwell &&
      now >= k->wait_until) {
    /* Past the longest time memory took to come back, with a quarter to spare, and at least
     * twice the delay: one step where a doubling at a time would be undone on the way. */
    unsigned to = HAK_MAX(HAK_MAX(2 * k->value, 10u), p->since_gap + p->since_gap / 4);
    rate_raise(k, now, HAK_MIN(to, most), rate);
  }
  purge_restart(p, now); /* a rate over the last dwell time, not since the start */
}

/* One look at the BigCache's bound (see the top of the file). */
static void learn_bigcache(double now, double dwell)
{
  learn_bigcache_t *b = &L.bigcache;
  learn_rate_t *k = &b->r;
  unsigned def = (unsigned)hak_opt.BIGCACHE_MAX_MB, most = (unsigned)hak_opt.LEARN_BIGCACHE_MAX_MB;
  uint64_t lost, requests;
  hak_bigcache_learn_counts(&lost, &requests);
  uint64_t dl = lost - b->lost, dq = requests - b->requests;
  b->lost = lost, b->requests = requests;
  if (!k->started) {
    k->started = true;
    k->knob = KNOB_BIGCACHE;
    k->value = def;
    rate_restart(k, now);
    return;
  }
  if (most <= def || def == 0) return; /* nothing to learn, or no cache */
  k->since_bytes += dl;
  if (k->trial) {
    if (now - k->changed_at < dwell) return;
    rate_judge(k, now, dwell);
    rate_restart(k, now);
    return;
  }
  /* Quiet: windows with no large request. */
  k->quiet = dq ? 0 : k->quiet + 1;
  if (k->quiet >= LEARN_QUIET && k->value != def) {
    rate_back(k, now, def);
    rate_restart(k, now);
    return;
  }
  if (now - k->since < dwell) return;
  double rate = rate_of(k, now);
  if (rate >= LOST_RAISE && k->value < most && now - k->changed_at >= dwell &&
      now >= k->wait_until)
    rate_raise(k, now, k->value > most / 2 ? most : 2 * k->value, rate);
  rate_restart(k, now); /* a rate over the last dwell time, not since the start */
}

/* One look at knob kn of class c, whose count rose by n in this window of the class's slow
 * paths, busy of them (see the top of the file). */
static void learn_class(double now, double dwell, uint64_t raise, unsigned kn, unsigned c,
                        uint64_t n, uint64_t busy)
{
  learn_class_t *k = &L.cls[kn][c];
  unsigned def, most, v = knobs[kn].get(c, &def, &most);
  if (!v || most <= def) return; /* no heap yet, or nothing to learn for this class */
  k->quiet = busy ? 0 : k->quiet + 1;
  if (k->trial) {
    if (now - k->changed_at < dwell) return;
    k->trial = false;
    /* Kept if the count fell by at least half of what the larger value promises (twice the
     * batch: half as many trips, so at least a quarter fewer). */
    if (2 * (uint64_t)v * n > k->base * (v + k->prev)) {
      knobs[kn].set(c, k->prev);
      decide(now, kn, c, v, k->prev, k->base, n, 'u');
      k->changed_at = now;
      k->wait_until = now + 8 * dwell;
    } else {
      decide(now, kn, c, v, v, k->base, n, 'k');
    }
    return;
  }
  if (k->quiet >= LEARN_QUIET && v != def) {
    knobs[kn].set(c, def);
    decide(now, kn, c, v, def, 0, 0, 'q');
    k->changed_at = now;
    return;
  }
  if (n >= raise * knobs[kn].raise && v < most && now - k->changed_at >= dwell &&
      now >= k->wait_until) {
    unsigned to = HAK_MIN(v * knobs[kn].step, most);
    knobs[kn].set(c, to);
    k->prev = (uint16_t)v;
    k->base = n;
    k->trial = true;
    k->changed_at = now;
    decide(now, kn, c, v, to, n, 0, 'r');
  }
}

void hak_learn_tick(double now)
{
  double window = hak_opt.LEARN_WINDOW_MS / 1000.0, dwell = hak_opt.LEARN_DWELL_MS / 1000.0;
  if (L.t0 == 0) L.t0 = L.last = now;
  if (now - L.last < window) return;
  double span = now - L.last; /* a late wakeup counts for what it covers */
  L.last = now;
  uint64_t total[HAK_SLOW_KINDS][HAK_NCLASSES];
  hak_heap_slow_counts(total);
  learn_purge(now, dwell);
  learn_bigcache(now, dwell);
  uint64_t raise = (uint64_t)(span * 1000); /* milliseconds of window */
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    uint64_t n[2];
    for (unsigned kn = 0; kn < 2; kn++) {
      learn_class_t *k = &L.cls[kn][c];
      uint64_t now_n = total[knobs[kn].count][c];
      n[kn] = k->started ? now_n - k->seen : 0;
      k->seen = now_n;
      k->started = true;
    }
    for (unsigned kn = 0; kn < 2; kn++)
      learn_class(now, dwell, raise, kn, c, n[kn], n[KNOB_BATCH] | n[KNOB_KEPT]);
  }
}

void hak_learn_report(void (*out)(const char *fmt, ...))
{
  unsigned n = atomic_load_explicit(&L.logged, memory_order_acquire);
  out("hakmem: learner: %u decisions%s", n,
      hak_stats_on
          ? " (HAKMEM_STATS turns the magazines off: no batch to tune; see HAKMEM_LEARN_LOG)"
      : n == LEARN_LOG_MAX ? " (the first ones listed)" : "");
  for (unsigned i = 0; i < n; i++) {
    __typeof__(L.log[0]) *e = &L.log[i];
    char line[200];
    describe(line, sizeof line, e->at, e->knob, e->cls, e->from, e->to, e->before, e->after,
             e->what);
    out("hakmem:   %s", line);
  }
}
