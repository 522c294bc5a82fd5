#!/bin/sh
# Test h: HAKMEM_SS_PREFAULT=1 works and faults a new SuperSlab in at once (tiers_prefault.c):
# RSS right after the first small malloc is about a SuperSlab larger than without it.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_prefault)
sub "no prefault" $HAK_EMULATOR "$p" 0
d0=$(sed -n 's/^# rss_delta=//p' "$tt_tmp/out")
sub "SS_PREFAULT=1" env HAKMEM_SS_PREFAULT=1 $HAK_EMULATOR "$p" 1
d1=$(sed -n 's/^# rss_delta=//p' "$tt_tmp/out")
if [ -n "$HAK_EMULATOR" ]; then
  tt_skip "RSS under an emulator"
elif [ -z "$d0" ] || [ -z "$d1" ]; then
  tt_ok 1 "both runs reported their RSS growth"
elif grep -q 'SKIP' "$tt_tmp/out" || grep -q '\[always\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
  tt_skip "no MADV_POPULATE_WRITE, or transparent huge pages always on"
else
  # about a SuperSlab (2 MiB) more: at least 1.5 MiB
  [ $((d1 - d0)) -ge 1572864 ]
  tt_ok $? "with prefault the first malloc added $((d1 - d0)) more bytes of RSS (>= 1.5 MiB)"
fi
tt_done
