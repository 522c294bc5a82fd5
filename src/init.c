/* Start-up, fork and thread exit. */
#include <limits.h>
#include <pthread.h>

#include "background.h"
#include "hakmem.h"
#include "large.h"
#include "options.h"
#include "os.h"
#include "stats.h"
#include "small.h"
#include "span.h"

bool hak_initialized;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* Runs once, from the first allocation or the library constructor, whichever comes first.
 * Nothing here allocates: options are parsed in place from environ. */
void hak_init_slow(void)
{
  pthread_mutex_lock(&init_lock);
  if (!__atomic_load_n(&hak_initialized, __ATOMIC_ACQUIRE)) {
    hak_os_init();
    hak_options_init();
    hak_keys_init();
    hak_stats_init();
    hak_partial_init();
    hak_span_init();
    __atomic_store_n(&hak_initialized, true, __ATOMIC_RELEASE);
    if (hak_opt.VERBOSE) {
      hak_msg("hakmem: %s (%s), page %zu bytes", HAKMEM_VERSION, HAK_ARCH_NAME, hak_os_page);
      hak_options_dump();
    }
  }
  pthread_mutex_unlock(&init_lock);
}

void hak_maintain(void)
{
  static _Atomic(uint64_t) next_due_ms;
  hak_background_start();
  double now = hak_os_now();
  uint64_t ms = (uint64_t)(now * 1000), due = atomic_load_explicit(&next_due_ms, memory_order_relaxed);
  if (ms < due || !atomic_compare_exchange_strong(&next_due_ms, &due, ms + 100)) return;
  hak_heap_trim(); /* this thread's wholly free slabs, current ones too, go back to the pool */
  hak_maintain_shared(now);
}

void hak_maintain_shared(double now)
{
  hak_heap_unpark(now, hak_purge_delay(), UINT_MAX); /* before the pool's purge */
  hak_pool_maintain(now);
  hak_span_purge(now, false);
  hak_bigcache_maintain(now);
}

/* fork: every lock is taken before, so that the child never inherits one held by a thread it
 * does not have; the child makes its locks anew.  Slabs owned by threads that do not exist in
 * the child stay theirs: blocks freed into them are kept, not reused. */
static void fork_prepare(void)
{
  pthread_mutex_lock(&init_lock);
  hak_heap_lock_all();
  hak_pool_lock_all();
  hak_large_lock_all();
  hak_span_lock_all();
}

static void fork_parent(void)
{
  hak_span_unlock_all(false);
  hak_large_unlock_all(false);
  hak_pool_unlock_all(false);
  hak_heap_unlock_all(false);
  pthread_mutex_unlock(&init_lock);
}

static void fork_child(void)
{
  hak_background_forked();
  hak_span_unlock_all(true);
  hak_large_unlock_all(true);
  hak_pool_unlock_all(true);
  hak_heap_unlock_all(true);
  pthread_mutex_init(&init_lock, NULL);
}

__attribute__((destructor)) static void hak_destructor(void)
{
  hak_stats_report();
}

/* pthread_atfork may allocate, so it is called here, outside malloc, once init is done.  The
 * background thread is wanted only from here on: the first slow path after it starts the
 * thread, so that no constructor of ours starts one. */
__attribute__((constructor)) static void hak_constructor(void)
{
  hak_ensure_init();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  hak_background_init();
}
