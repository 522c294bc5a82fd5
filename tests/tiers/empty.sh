#!/bin/sh
# Test k: HAKMEM_EMPTY_MAX_MB bounds the empty memory resident right after a burst is freed
# (tiers_empty.c), also when each of two idle threads' bursts is freed by the other.  The purge
# delay, the caches' bounds and the time to live are far beyond the run, so that nothing but the
# bound gives pages back; with a bound of 1 GiB they stay.  Cached large mappings count against
# the same bound.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_empty)
keep="HAKMEM_SLAB_PURGE_MS=600000 HAKMEM_SUPERSLAB_MAX_CACHED=256 HAKMEM_SUPERSLAB_MAX_MEMORY_MB=1024
  HAKMEM_SUPERSLAB_TTL_SEC=600"
sub "bound 8 MiB" env $keep HAKMEM_EMPTY_MAX_MB=8 $HAK_EMULATOR "$p" bounded
sub "bound 8 MiB, freed by the other thread" env $keep HAKMEM_EMPTY_MAX_MB=8 $HAK_EMULATOR "$p" exchanged
sub "bound 8 MiB, freed by the other thread, batched" env $keep HAKMEM_PURGE_BATCH=1 HAKMEM_EMPTY_MAX_MB=8 \
  $HAK_EMULATOR "$p" exchanged
sub "bound 1 GiB" env $keep HAKMEM_EMPTY_MAX_MB=1024 $HAK_EMULATOR "$p" kept
sub "bound 8 MiB, large blocks" env $keep HAKMEM_BIGCACHE_MAX_MB=1024 HAKMEM_BIGCACHE_TTL_MS=600000 \
  HAKMEM_EMPTY_MAX_MB=8 $HAK_EMULATOR "$p" large
tt_done
