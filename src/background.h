/* The background thread (HAKMEM_BACKGROUND): it applies the time bounds on its own, so that a
 * process that has gone quiet gives its memory back without making a call.  Off by default;
 * started lazily by the first slow path that finds it wanted, never in a constructor; a fork
 * child starts its own when it first allocates. */
#ifndef HAK_BACKGROUND_H
#define HAK_BACKGROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

extern _Atomic(int) hak_bg_state;
enum { HAK_BG_OFF, HAK_BG_WANTED, HAK_BG_STARTING, HAK_BG_RUNNING };

/* Reads the option, once, at the end of the library's constructor. */
void hak_background_init(void);
void hak_background_start_slow(void);
/* Starts the thread if it is wanted and not running.  The caller is a slow path that holds no
 * lock and is between two steps (the thread's creation allocates); one relaxed load when it
 * runs or is off. */
HAK_INLINE void hak_background_start(void)
{
  if (hak_unlikely(__atomic_load_n(&hak_bg_state, __ATOMIC_RELAXED) == HAK_BG_WANTED))
    hak_background_start_slow();
}
/* fork child: the thread did not come along; the child's next slow path starts its own. */
void hak_background_forked(void);
/* What it did, for HAKMEM_STATS: its wakeups, the slabs it gave back for idle owners, and the
 * remote lists of idle owners' current slabs whose blocks it purged. */
void hak_background_counts(bool *running, uint64_t *wakeups, uint64_t *slabs, uint64_t *lists);

#endif
