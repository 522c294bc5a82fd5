#!/bin/sh
# tests/tiers/thread_exit.sh, both of its settings, with the ThreadSanitizer build of its
# program: a report makes the run exit 66, which fails it, and its first lines are shown.
tt_bin="${top_builddir:-.}/tests/tsan" tt_ext=.tsan
. "${top_srcdir:-../..}/tests/tiers/thread_exit.sh"
