#!/bin/sh
# Test p: a munmap the kernel refuses leaves a large block's mapping whole and counted where
# hakmem cuts off its tail, and gives back the pages of a whole mapping, whose regions serve
# again (tiers_refused.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_refused)
sub default $HAK_EMULATOR "$p"
tt_done
