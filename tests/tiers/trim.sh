#!/bin/sh
# Test d: malloc_trim(0) empties the caches and gives the memory back (tiers_trim.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_trim)
sub default $HAK_EMULATOR "$p"
tt_done
