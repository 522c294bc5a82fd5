/* The adaptive learner (ACE, HAKMEM_LEARN): it runs in the background thread, looks at the
 * per-class slow-path counts every HAKMEM_LEARN_WINDOW_MS, and moves each class's refill batch
 * within its bounds (learn.c). */
#ifndef HAK_LEARN_H
#define HAK_LEARN_H

#include <stdbool.h>

/* One look; now in seconds (hak_os_now). */
void hak_learn_tick(double now);
/* Writes the decisions made so far, one line each, through out (HAKMEM_STATS, at exit). */
void hak_learn_report(void (*out)(const char *fmt, ...));

#endif
