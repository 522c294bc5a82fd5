#!/bin/sh
# Test e: after ~1 GiB is allocated and freed, RSS returns near its baseline, by malloc_trim(0)
# or by idling past the (shortened) TTLs and allocating a little (tiers_return.c).
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_return)
sub trim $HAK_EMULATOR "$p" trim
sub idle env HAKMEM_SUPERSLAB_TTL_SEC=1 HAKMEM_BIGCACHE_TTL_MS=300 HAKMEM_SLAB_PURGE_MS=300 \
  $HAK_EMULATOR "$p" idle
tt_done
