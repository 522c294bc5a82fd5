/* The background thread (background.h).
 *
 * Each wakeup does what the slow paths' housekeeping (hak_maintain) does for the shared
 * structures, by the same clocks: the pools' empty slabs and the span regions' free pages give
 * their memory back once HAKMEM_SLAB_PURGE_MS old, cached SuperSlabs and large blocks are
 * purged and then unmapped by their own ages, the wholly free slabs that a sleeping
 * thread's lists keep for it (small.c, owned_emptied) go to the pool after the same delay, and
 * the blocks other threads freed into a sleeping thread's current slabs give back their inner
 * pages (hak_heap_release_idle).  What only a thread may touch (its magazines, and the current
 * slabs themselves) waits for that thread's next call or its exit.
 *
 * It wakes four times per HAKMEM_SLAB_PURGE_MS, at most every 10 ms and at least every second,
 * so memory comes back within a quarter of the delay after it is due; a wakeup with nothing to
 * do costs a few loads.  With HAKMEM_LEARN it also runs the learner (learn.h), every
 * HAKMEM_LEARN_WINDOW_MS if that is sooner. */
#include <errno.h>

#include "background.h"
#include "large.h"
#include "learn.h"
#include "options.h"
#include "os.h"
#include "small.h"
#include "span.h"

_Atomic(int) hak_bg_state;
static _Atomic(uint64_t) bg_wakeups, bg_slabs, bg_lists;

void hak_background_init(void)
{
  if (hak_opt.BACKGROUND || hak_opt.LEARN)
    atomic_store_explicit(&hak_bg_state, HAK_BG_WANTED, memory_order_relaxed);
}

static unsigned period_ms(void)
{
  double p = hak_opt.SLAB_PURGE_MS / 4;
  return (unsigned)(p < 10 ? 10 : p > 1000 ? 1000 : p);
}

static void *bg_main(void *arg)
{
  (void)arg;
  unsigned period = period_ms(), learn = hak_opt.LEARN ? (unsigned)hak_opt.LEARN_WINDOW_MS : 0;
  unsigned nap = learn && learn < period ? learn : period;
  double due = 0;
  for (;;) {
    hak_os_sleep_ms(nap);
    double now = hak_os_now();
    atomic_fetch_add_explicit(&bg_wakeups, 1, memory_order_relaxed);
    if (learn) hak_learn_tick(now);
    if (now < due) continue;
    due = now + period / 1000.0 - nap / 2000.0; /* the memory work keeps its own pace */
    hak_maintain_shared(now);
    uint64_t slabs = 0, lists = 0;
    hak_heap_release_idle(now, &slabs, &lists);
    if (slabs) atomic_fetch_add_explicit(&bg_slabs, slabs, memory_order_relaxed);
    if (lists) atomic_fetch_add_explicit(&bg_lists, lists, memory_order_relaxed);
  }
  return NULL;
}

void hak_background_start_slow(void)
{
  int expect = HAK_BG_WANTED;
  if (!atomic_compare_exchange_strong(&hak_bg_state, &expect, HAK_BG_STARTING)) return;
  if (hak_os_thread_start(bg_main, "hakmem-bg")) {
    atomic_store(&hak_bg_state, HAK_BG_RUNNING);
    return;
  }
  int e = errno;
  atomic_store(&hak_bg_state, HAK_BG_OFF);
  hak_msg("hakmem: warning: HAKMEM_BACKGROUND: cannot start the background thread; memory goes "
          "back only during allocation");
  errno = e;
}

void hak_background_forked(void)
{
  if (atomic_load_explicit(&hak_bg_state, memory_order_relaxed) != HAK_BG_OFF)
    atomic_store_explicit(&hak_bg_state, HAK_BG_WANTED, memory_order_relaxed);
}

void hak_background_counts(bool *running, uint64_t *wakeups, uint64_t *slabs, uint64_t *lists)
{
  *running = atomic_load(&hak_bg_state) == HAK_BG_RUNNING;
  *wakeups = atomic_load(&bg_wakeups);
  *slabs = atomic_load(&bg_slabs);
  *lists = atomic_load(&bg_lists);
}
