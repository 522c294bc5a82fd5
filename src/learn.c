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
 * default, so that its magazines shrink at their owners' next slow path.  Every change is
 * logged (HAKMEM_LEARN_LOG prints it at once; HAKMEM_STATS at exit). */
#include <stdatomic.h>

#include "learn.h"
#include "options.h"
#include "small.h"
#include "stats.h"

#define LEARN_RAISE 10 /* slow paths per millisecond of window: 10,000 a second */
#define LEARN_QUIET 50 /* windows with no slow path */
#define LEARN_LOG_MAX 256

typedef struct {
  uint64_t seen;          /* the slow-path count at the last look */
  uint64_t base;          /* the slow paths in the window before a trial */
  double changed_at, wait_until;
  unsigned quiet;         /* windows in a row with none */
  uint16_t prev;          /* the batch before a trial */
  bool trial, started;
} learn_class_t;

static struct {
  learn_class_t cls[HAK_NCLASSES];
  double t0, last;
  struct {
    double at;
    unsigned cls, from, to;
    uint64_t before, after;
    char what;            /* r: raised, k: kept, u: undone, q: quiet, back to the default */
  } log[LEARN_LOG_MAX];
  _Atomic(unsigned) logged; /* entries written (release: the report reads them at exit) */
  unsigned dropped;
} L;

static const char *why(char what)
{
  switch (what) {
  case 'r': return "raised: slow paths frequent";
  case 'k': return "kept: slow paths fell";
  case 'u': return "undone: slow paths did not fall enough";
  default: return "back to the default: class quiet";
  }
}

/* The decision as one line into buf. */
static void describe(char *buf, size_t cap, double at, unsigned c, unsigned from, unsigned to,
                     uint64_t before, uint64_t after, char what)
{
  char nums[64] = "";
  if (what == 'r') hak_format(nums, sizeof nums, " (%zu slow paths in the window)", (size_t)before);
  else if (what != 'q')
    hak_format(nums, sizeof nums, " (%zu -> %zu slow paths per window)", (size_t)before,
               (size_t)after);
  char change[32];
  if (what == 'k') hak_format(change, sizeof change, "batch %u", to);
  else hak_format(change, sizeof change, "batch %u -> %u", from, to);
  hak_format(buf, cap, "at %zu ms, class %u (%u B): %s, %s%s", (size_t)(at * 1000), c,
             (unsigned)hak_class_size[c], change, why(what), nums);
}

static void decide(double now, unsigned c, unsigned from, unsigned to, uint64_t before,
                   uint64_t after, char what)
{
  unsigned i = atomic_load_explicit(&L.logged, memory_order_relaxed);
  if (i < LEARN_LOG_MAX) {
    __typeof__(L.log[0]) *e = &L.log[i];
    e->at = now - L.t0;
    e->cls = c, e->from = from, e->to = to, e->before = before, e->after = after, e->what = what;
    atomic_store_explicit(&L.logged, i + 1, memory_order_release);
  } else {
    L.dropped++;
  }
  if (hak_opt.LEARN_LOG) {
    char line[200];
    describe(line, sizeof line, now - L.t0, c, from, to, before, after, what);
    hak_msg("hakmem: learner: %s", line);
  }
}

void hak_learn_tick(double now)
{
  double window = hak_opt.LEARN_WINDOW_MS / 1000.0, dwell = hak_opt.LEARN_DWELL_MS / 1000.0;
  if (L.t0 == 0) L.t0 = L.last = now;
  if (now - L.last < window) return;
  double span = now - L.last; /* a late wakeup counts for what it covers */
  L.last = now;
  uint64_t total[HAK_NCLASSES];
  hak_heap_slow_counts(total);
  uint64_t raise = (uint64_t)(LEARN_RAISE * span * 1000);
  for (unsigned c = 0; c < HAK_NCLASSES; c++) {
    learn_class_t *k = &L.cls[c];
    uint64_t n = k->started ? total[c] - k->seen : 0;
    k->seen = total[c];
    k->started = true;
    unsigned def, most, batch = hak_mag_batch(c, &def, &most);
    if (!batch || most <= def) continue; /* no heap yet, or nothing to learn for this class */
    k->quiet = n ? 0 : k->quiet + 1;
    if (k->trial) {
      if (now - k->changed_at < dwell) continue;
      k->trial = false;
      /* Kept if the slow paths fell by at least half of what the larger batch promises (a
       * batch twice as large: half as many trips; so at least a quarter fewer). */
      if (2 * (uint64_t)batch * n > k->base * (batch + k->prev)) {
        hak_mag_set_batch(c, k->prev);
        decide(now, c, batch, k->prev, k->base, n, 'u');
        k->changed_at = now;
        k->wait_until = now + 8 * dwell;
      } else {
        decide(now, c, batch, batch, k->base, n, 'k');
      }
      continue;
    }
    if (k->quiet >= LEARN_QUIET && batch != def) {
      hak_mag_set_batch(c, def);
      decide(now, c, batch, def, 0, 0, 'q');
      k->changed_at = now;
      continue;
    }
    if (n >= raise && batch < most && now - k->changed_at >= dwell && now >= k->wait_until) {
      unsigned to = batch * 2 < most ? batch * 2 : most;
      hak_mag_set_batch(c, to);
      k->prev = (uint16_t)batch;
      k->base = n;
      k->trial = true;
      k->changed_at = now;
      decide(now, c, batch, to, n, 0, 'r');
    }
  }
}

void hak_learn_report(void (*out)(const char *fmt, ...))
{
  unsigned n = atomic_load_explicit(&L.logged, memory_order_acquire);
  out("hakmem: learner: %u decisions%s", n,
      hak_stats_on ? " (HAKMEM_STATS turns the magazines off: nothing to tune; see HAKMEM_LEARN_LOG)"
      : n == LEARN_LOG_MAX ? " (the first ones listed)" : "");
  for (unsigned i = 0; i < n; i++) {
    __typeof__(L.log[0]) *e = &L.log[i];
    char line[200];
    describe(line, sizeof line, e->at, e->cls, e->from, e->to, e->before, e->after, e->what);
    out("hakmem:   %s", line);
  }
}
