#!/bin/sh
# Test n: the background thread and the learner that runs in it (tiers_background.c).  The
# delays are short (purge 200 ms, BigCache and SuperSlab TTLs 1 s) so that the memory is due
# back well within the watch.
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
page=$($HAK_EMULATOR "$p" pagesize)
if [ "$((2 * ${page:-4096}))" -le 32768 ]; then
  [ -n "$lists" ] && [ "$lists" -gt 0 ]
  tt_ok $? "race: the thread purged ${lists:-no} remote lists meanwhile"
else # a block must span two pages for its inside to go back
  tt_skip "race: ${page}-byte pages: no 8..32 KiB block has a page inside to purge"
fi

# The learner runs in the same thread and also gives memory back.
sub "learn on" env HAKMEM_LEARN=1 $HAK_EMULATOR "$p" threads 1
sub "learn idle" env HAKMEM_LEARN=1 $short $HAK_EMULATOR "$p" idle
sub "learn fork" env HAKMEM_LEARN=1 $short $HAK_EMULATOR "$p" fork
# Bounds: with at most 12 blocks per refill, a workload whose slow paths stay frequent gets
# its 16..32 KiB classes raised from the default 8, and never past 12.
sub "learn bounds" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_LEARN_WINDOW_MS=20 \
  HAKMEM_LEARN_DWELL_MS=60 HAKMEM_LEARN_BATCH_MAX=12 $HAK_EMULATOR "$p" churn 1500
log=$tt_tmp/err
raised=$(grep -c '^hakmem: learner: .*: batch 8 -> [0-9]*, raised' "$log")
[ "$raised" -gt 0 ]
tt_ok $? "learn bounds: batches raised from the default 8 ($raised decisions)"
over=$(sed -n 's/^hakmem: learner: .*: batch [0-9]* -> \([0-9]*\),.*/\1/p' "$log" | awk '$1 > 12 || $1 < 8' | wc -l)
[ "$over" -eq 0 ] && [ -s "$log" ]
tt_ok $? "learn bounds: no batch set outside 8..12 ($over)"
sub "learn exit" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=20 HAKMEM_LEARN_DWELL_MS=60 \
  $HAK_EMULATOR "$p" churn 1000 thread
sub "learn borrow" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=10 HAKMEM_LEARN_DWELL_MS=0 \
  $HAK_EMULATOR "$p" borrow 1500
# The purge delay: bursts 150 ms apart, each taking back what the last gave back after 50 ms,
# make the learner raise the delay in one step past the time between them, and never past
# HAKMEM_LEARN_PURGE_MAX_MS.  With the bound
# below the time between bursts no delay it may set would keep the memory: no decision at all.
purge_log() { # "from to what" per decision on the purge delay
  sed -n 's/^hakmem: learner: at [0-9]* ms, purge delay \([0-9]*\) -> \([0-9]*\) ms, \([a-z]*\).*/\1 \2 \3/p' \
    "$log"
}
sub "learn purge" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_SLAB_PURGE_MS=50 \
  HAKMEM_LEARN_PURGE_MAX_MS=1000 $HAK_EMULATOR "$p" bursts 16 150
raised=$(purge_log | awk '$1 == 50 && $2 >= 150 && $3 == "raised"' | wc -l)
[ "$raised" -gt 0 ]
tt_ok $? "learn purge: the delay raised from 50 ms past the 150 ms between bursts ($raised times)"
over=$(purge_log | awk '$2 > 1000 || $2 < 50' | wc -l)
[ "$over" -eq 0 ]
tt_ok $? "learn purge: no delay set outside 50..1000 ms ($over)"
sub "learn purge bound" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_SLAB_PURGE_MS=50 \
  HAKMEM_LEARN_PURGE_MAX_MS=100 $HAK_EMULATOR "$p" bursts 12 250
n=$(purge_log | wc -l)
[ "$n" -eq 0 ]
tt_ok $? "learn purge bound: bursts 250 ms apart, the delay at most 100 ms: no decision ($n)"
tt_done
