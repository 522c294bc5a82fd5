#!/bin/sh
# Test c: the LRU cache of empty SuperSlabs honours its count, bytes and age bounds, keeps
# regions past the count as address space that reads as zero, and gives that up when the
# address space runs out (tiers_lru.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_lru)
sub "MAX_CACHED=3" env HAKMEM_SUPERSLAB_MAX_CACHED=3 $HAK_EMULATOR "$p" count 3
sub "MAX_CACHED default" $HAK_EMULATOR "$p" count 8
sub "MAX_MEMORY_MB=9" env HAKMEM_SUPERSLAB_MAX_CACHED=100 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=9 \
  $HAK_EMULATOR "$p" bytes 9
sub "TTL_SEC=1" env HAKMEM_SUPERSLAB_MAX_CACHED=100 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=1024 \
  HAKMEM_SUPERSLAB_TTL_SEC=1 $HAK_EMULATOR "$p" age 1
sub "TTL_SEC=1, none with pages" env HAKMEM_SUPERSLAB_MAX_CACHED=0 HAKMEM_SUPERSLAB_TTL_SEC=1 \
  $HAK_EMULATOR "$p" age 1
sub "ring" env HAKMEM_SUPERSLAB_MAX_CACHED=0 HAKMEM_EMPTY_MAX_MB=1024 HAKMEM_SLAB_PURGE_MS=600000 $HAK_EMULATOR "$p" ring
sub "space" env HAKMEM_SUPERSLAB_MAX_CACHED=0 $HAK_EMULATOR "$p" space
tt_done
