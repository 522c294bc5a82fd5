#!/bin/sh
# The background thread and the learner under ThreadSanitizer (tests/tiers/tiers_background.c):
# the thread's passes over idle threads' current slabs and lists race the owners' refills and
# other threads' frees, and the learner's changes race the slow paths that read them; a report
# makes the run exit 66, which fails it.  (Its fork case stays in the normal build:
# ThreadSanitizer does not support a child that starts threads after a multi-threaded fork.)
tt_bin="${top_builddir:-.}/tests/tsan" tt_ext=.tsan
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_background)
sub race env HAKMEM_BACKGROUND=1 HAKMEM_SLAB_PURGE_MS=10 "$p" race
# Thousands of threads start and exit (their heaps recycled) while the thread's passes walk
# the heaps without the heaps' lock.
sub "thread churn" env HAKMEM_BACKGROUND=1 HAKMEM_SLAB_PURGE_MS=10 "$(prog test_thread_churn)"
# The learner's looks and changes race the owners' slow paths that read the batches.
sub "learn race" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=10 HAKMEM_LEARN_DWELL_MS=20 \
  HAKMEM_SLAB_PURGE_MS=10 "$p" race
sub "learn churn" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=10 HAKMEM_LEARN_DWELL_MS=20 \
  "$p" churn 1000
# Its bound on kept full slabs, raised and undone while a lagging consumer's frees race the
# producer's refills that read it.
sub "learn lag" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=10 HAKMEM_LEARN_DWELL_MS=20 \
  "$p" lag 1000
tt_done
