#!/bin/sh
# Test f: blocks outlive their threads; dead threads' slabs are adopted and reused
# (tiers_thread_exit.c), with the default options and with no warm pool and batch 1.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_thread_exit)
sub default $HAK_EMULATOR "$p"
sub "no warm pool" env HAKMEM_WARM_POOL_SIZE=0 HAKMEM_TINY_BATCH=1 HAKMEM_POOL_REFILL_BATCH=1 \
  $HAK_EMULATOR "$p"
tt_done
