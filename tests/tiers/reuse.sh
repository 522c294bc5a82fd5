#!/bin/sh
# Test a: mid and large sizes reuse memory, and a producer reuses what its consumer freed
# (tiers_reuse.c), with the default options.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_reuse)
sub default $HAK_EMULATOR "$p"
tt_done
