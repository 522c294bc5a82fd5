#!/bin/sh
# Test l: a thread's slabs that another thread emptied serve its other classes before fresh
# memory does (tiers_giveback.c), with every full slab kept on its owner's list.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_giveback)
sub "full slabs kept" env HAKMEM_KEPT_FULL_SLABS=4096 $HAK_EMULATOR "$p"
tt_done
