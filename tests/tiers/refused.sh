#!/bin/sh
# Test p: a munmap the kernel refuses leaves a large block's mapping whole and counted where
# hakmem cuts off its tail, and gives back the pages of a whole mapping, whose regions serve
# again (tiers_refused.c); HAKMEM_STATS counts those unmaps and regions.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_refused)
sub default $HAK_EMULATOR "$p"
stats=$tt_tmp/stats.txt
sub stats env HAKMEM_STATS=1 HAKMEM_STATS_FILE="$stats" $HAK_EMULATOR "$p"
# the 66 MiB block's 33 regions at least
line=$(grep '^hakmem: unmaps the kernel refused: ' "$stats" 2>/dev/null)
echo "$line" | awk '{ n = $6 + 0; r = $13 + 0 } END { exit !(n >= 1 && r >= 33) }'
tt_ok $? "HAKMEM_STATS counts the refused unmaps and the regions kept (${line:-no line})"
tt_done
