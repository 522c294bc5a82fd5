#!/bin/sh
# Test m: the L2.5 tier (tiers_span.c): many live blocks in few mappings; free pages purged
# after the delay, or at once past HAKMEM_EMPTY_MAX_MB (or HAKMEM_EMPTY_MAX_PERCENT of the memory
# in use), or by malloc_trim; regions filled by blocks replaced at random; aligned requests;
# blocks freed by other threads.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_span)
sub live $HAK_EMULATOR "$p" live
sub "purge 200 ms" env HAKMEM_SLAB_PURGE_MS=200 HAKMEM_EMPTY_MAX_MB=1024 $HAK_EMULATOR "$p" purge 200
sub "young 300 ms" env HAKMEM_SLAB_PURGE_MS=300 HAKMEM_EMPTY_MAX_MB=1024 $HAK_EMULATOR "$p" young 300
# The bound alone (no share of the memory in use: "share" below has it).
sub "bound 4 MiB" env HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=4 HAKMEM_EMPTY_MAX_PERCENT=0 \
  $HAK_EMULATOR "$p" bound 4
# The same purges with many ranges to one call (process_madvise where the kernel has it).
sub "purge 200 ms, batched" env HAKMEM_PURGE_BATCH=1 HAKMEM_SLAB_PURGE_MS=200 HAKMEM_EMPTY_MAX_MB=1024 \
  $HAK_EMULATOR "$p" purge 200
sub "bound 4 MiB, batched" env HAKMEM_PURGE_BATCH=1 HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=4 \
  HAKMEM_EMPTY_MAX_PERCENT=0 $HAK_EMULATOR "$p" bound 4
sub "share 50%" env HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=4 HAKMEM_EMPTY_MAX_PERCENT=50 \
  $HAK_EMULATOR "$p" share 4 50
sub "share off by default" env HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=4 $HAK_EMULATOR "$p" share 4 0
sub "share 0%" env HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=4 HAKMEM_EMPTY_MAX_PERCENT=0 \
  $HAK_EMULATOR "$p" share 4 0
sub trim env HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_EMPTY_MAX_MB=1024 $HAK_EMULATOR "$p" trim
sub packing $HAK_EMULATOR "$p" packing
sub align $HAK_EMULATOR "$p" align
sub threads env HAKMEM_SUPERSLAB_MAX_CACHED=0 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=0 $HAK_EMULATOR "$p" threads
tt_done
