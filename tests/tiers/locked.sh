#!/bin/sh
# Test o: under mlockall, where every purge is refused, calloc'd memory still reads as zero
# (tiers_locked.c).  Purges are asked for at once: no delay, and no empty memory kept.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_locked)
sub locked env HAKMEM_SLAB_PURGE_MS=0 HAKMEM_EMPTY_MAX_MB=0 $HAK_EMULATOR "$p"
tt_done
