#!/bin/sh
# Test n: the background thread (tiers_background.c).  The delays are short (purge 200 ms,
# BigCache and SuperSlab TTLs 1 s) so that the memory is due back well within the watch.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_background)
short="HAKMEM_SLAB_PURGE_MS=200 HAKMEM_BIGCACHE_TTL_MS=1000 HAKMEM_SUPERSLAB_TTL_SEC=1"
sub "off" $HAK_EMULATOR "$p" threads 0
sub "on" env HAKMEM_BACKGROUND=1 $HAK_EMULATOR "$p" threads 1
sub "idle" env HAKMEM_BACKGROUND=1 $short $HAK_EMULATOR "$p" idle
sub "kept" env $short $HAK_EMULATOR "$p" kept
sub "fork" env HAKMEM_BACKGROUND=1 $short $HAK_EMULATOR "$p" fork
# The race, with statistics to show that remote lists were purged while blocks kept coming.
stats=$tt_tmp/race-stats
sub "race" env HAKMEM_BACKGROUND=1 HAKMEM_SLAB_PURGE_MS=10 HAKMEM_STATS=1 HAKMEM_STATS_FILE="$stats" \
  $HAK_EMULATOR "$p" race
lists=$(sed -n 's/^hakmem: background thread: [0-9]* wakeups; for idle threads [0-9]* slabs given back, \([0-9]*\) remote lists purged$/\1/p' "$stats")
[ -n "$lists" ] && [ "$lists" -gt 0 ]
tt_ok $? "race: the thread purged ${lists:-no} remote lists meanwhile"
tt_done
