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
log=$tt_tmp/err
# The learner's changes of a knob ("batch", "kept full slabs", "purge delay") in the last
# case's log, one "from to what" line each.
changes() {
  sed -n "s/.* $1 \([0-9]*\) -> \([0-9]*\)\( ms\)*, \([a-z]*\).*/\1 \2 \4/p" "$log"
}
# Checks that case $1 raised knob $2 from $3 to at least $4, and never set it outside $3..$5.
raised_within() {
  raised=$(changes "$2" | awk -v d="$3" -v at="$4" '$1 == d && $2 >= at && $3 == "raised"' |
    wc -l)
  [ "$raised" -gt 0 ]
  tt_ok $? "$1: $2 raised from $3 to at least $4 ($raised times)"
  over=$(changes "$2" | awk -v lo="$3" -v hi="$5" '$2 > hi || $2 < lo' | wc -l)
  [ "$over" -eq 0 ]
  tt_ok $? "$1: no $2 set outside $3..$5 ($over)"
}
# Bounds: with at most 12 blocks per refill, a workload whose slow paths stay frequent gets
# its 16..32 KiB classes raised from the default 8, and never past 12.
sub "learn bounds" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_LEARN_WINDOW_MS=20 \
  HAKMEM_LEARN_DWELL_MS=60 HAKMEM_LEARN_BATCH_MAX=12 $HAK_EMULATOR "$p" churn 1500
raised_within "learn bounds" batch 8 9 12
sub "learn exit" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=20 HAKMEM_LEARN_DWELL_MS=60 \
  $HAK_EMULATOR "$p" churn 1000 thread
sub "learn borrow" env HAKMEM_LEARN=1 HAKMEM_LEARN_WINDOW_MS=10 HAKMEM_LEARN_DWELL_MS=0 \
  HAKMEM_W_MAX=1.25 $HAK_EMULATOR "$p" borrow 1500
# Kept full slabs: a consumer that frees 4000 blocks late makes the producer's filled slabs
# come back through the shared lists, until the learner lets it keep more of them listed; never
# more than HAKMEM_LEARN_KEPT_MAX.
sub "learn kept" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_LEARN_WINDOW_MS=20 \
  HAKMEM_LEARN_DWELL_MS=60 HAKMEM_LEARN_KEPT_MAX=48 $HAK_EMULATOR "$p" lag 1500
raised_within "learn kept" "kept full slabs" 16 17 48
# The purge delay: bursts 150 ms apart, each taking back what the last gave back after 50 ms,
# make the learner raise the delay in one step past the time between them, and never past
# HAKMEM_LEARN_PURGE_MAX_MS.  With the bound
# below the time between bursts no delay it may set would keep the memory: no decision at all.
sub "learn purge" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_SLAB_PURGE_MS=50 \
  HAKMEM_LEARN_PURGE_MAX_MS=1000 $HAK_EMULATOR "$p" bursts 16 150
raised_within "learn purge" "purge delay" 50 150 1000
sub "learn purge bound" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_SLAB_PURGE_MS=50 \
  HAKMEM_LEARN_PURGE_MAX_MS=100 $HAK_EMULATOR "$p" bursts 12 250
n=$(changes "purge delay" | wc -l)
[ "$n" -eq 0 ]
tt_ok $? "learn purge bound: bursts 250 ms apart, the delay at most 100 ms: no decision ($n)"
# The BigCache's bound: 32 live blocks of 1..8 MiB replaced at random need more cached mappings
# than 64 MiB holds, so the bound throws their pages away until the learner raises it, never
# past HAKMEM_LEARN_BIGCACHE_MAX_MB; at the option's value it has nothing to move.
sub "learn bigcache" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_LEARN_WINDOW_MS=20 \
  HAKMEM_LEARN_DWELL_MS=100 HAKMEM_LEARN_BIGCACHE_MAX_MB=128 $HAK_EMULATOR "$p" large 1500
raised_within "learn bigcache" "BigCache MiB" 64 128 128
sub "learn bigcache bound" env HAKMEM_LEARN=1 HAKMEM_LEARN_LOG=1 HAKMEM_LEARN_WINDOW_MS=20 \
  HAKMEM_LEARN_DWELL_MS=100 HAKMEM_LEARN_BIGCACHE_MAX_MB=64 $HAK_EMULATOR "$p" large 800
n=$(changes "BigCache MiB" | wc -l)
[ "$n" -eq 0 ]
tt_ok $? "learn bigcache bound: the bound at most the option's 64 MiB: no decision ($n)"
tt_done
