#!/bin/sh
# The background thread under ThreadSanitizer (tests/tiers/tiers_background.c): its passes over
# idle threads' current slabs and lists race the owners' refills and other threads' frees; a
# report makes the run exit 66, which fails it.  (Its fork case stays in the normal build:
# ThreadSanitizer does not support a child that starts threads after a multi-threaded fork.)
tt_bin="${top_builddir:-.}/tests/tsan" tt_ext=.tsan
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_background)
sub race env HAKMEM_BACKGROUND=1 HAKMEM_SLAB_PURGE_MS=10 "$p" race
tt_done
