#!/bin/sh
# The L2.5 tier's threaded cases (tests/tiers/tiers_span.c: blocks freed by other threads,
# aligned requests) with the ThreadSanitizer build of its program: a report makes the run exit
# 66, which fails it.
tt_bin="${top_builddir:-.}/tests/tsan" tt_ext=.tsan
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_span)
sub threads env HAKMEM_SUPERSLAB_MAX_CACHED=0 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=0 "$p" threads
sub align "$p" align
tt_done
