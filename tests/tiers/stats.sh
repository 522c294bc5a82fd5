#!/bin/sh
# Test i: HAKMEM_STATS=1 writes the per-class table (to HAKMEM_STATS_FILE when set): a row per
# class the probe used, with at least its number of requests, the tier totals, the large line,
# the region counts and the empty memory counted against its bound; HAKMEM_PROFILE=1 prints the
# slow-path profile; neither set, nothing.
. "${top_srcdir:-../..}/tests/tiers/run.sh"
p=$(prog tiers_stats_probe)
out=$tt_tmp/stdout
err=$tt_tmp/stderr
file=$tt_tmp/stats.txt

# requests CLASS TIER FILE: the requests column of that class's row (empty if no row).
requests() {
  awk -v c="$1" -v t="$2" '$1 == "hakmem:" && $2 == c && $NF == t { print $3; exit }' "$3"
}

env HAKMEM_STATS=1 HAKMEM_STATS_FILE="$file" $HAK_EMULATOR "$p" >"$out" 2>"$err"
st=$?
[ $st -eq 0 ] && grep -qx 'probe done' "$out"
tt_ok $? "STATS=1 STATS_FILE: the program runs (status $st)"
[ ! -s "$err" ]
tt_ok $? "STATS_FILE: nothing on stderr"
grep -q '^hakmem: *class *requests *hits *refills *remote-frees *tier' "$file" 2>/dev/null
tt_ok $? "the file has the table's header"
for row in "16 tiny 100" "112 tiny 100" "1024 tiny 100" "2048 mid 50" "40960 mid 20"; do
  set -- $row
  r=$(requests "$1" "$2" "$file")
  [ -n "$r" ] && [ "$r" -ge "$3" ]
  tt_ok $? "row for the $1-byte class ($2): ${r:-no row} requests, at least $3"
done
grep -q '^hakmem: tiny total ' "$file" && grep -q '^hakmem: mid total ' "$file"
tt_ok $? "tiny and mid totals"
n=$(sed -n 's/^hakmem: large: \([0-9]*\) requests.*/\1/p' "$file")
[ -n "$n" ] && [ "$n" -ge 3 ]
tt_ok $? "the large line counts ${n:-no} requests, at least 3"
n=$(sed -n 's/^hakmem: L2.5: \([0-9]*\) requests.*/\1/p' "$file")
[ -n "$n" ] && [ "$n" -ge 3 ]
tt_ok $? "the L2.5 line counts ${n:-no} requests, at least 3"
grep -q '^hakmem: regions mapped [0-9]*, unmapped [0-9]*; bytes mapped now [0-9]*, peak [0-9]*' "$file"
tt_ok $? "region and byte counts"
now=$(sed -n 's/^hakmem: empty memory counted against HAKMEM_EMPTY_MAX_MB: now \([0-9]*\) bytes, peak \([0-9]*\)$/\1 \2/p' "$file")
set -- $now
[ $# -eq 2 ] && [ "$1" -le "$2" ]
tt_ok $? "empty memory now and at its peak: ${now:-no line}"
if [ $tt_fail -ne 0 ] && [ -f "$file" ]; then sed 's/^/# /' "$file"; fi

env HAKMEM_STATS=1 $HAK_EMULATOR "$p" >"$out" 2>"$err"
r=$(requests 1024 tiny "$err")
[ -n "$r" ] && [ "$r" -ge 100 ]
tt_ok $? "STATS=1 without a file: the table goes to stderr"

env HAKMEM_PROFILE=1 $HAK_EMULATOR "$p" >"$out" 2>"$err"
st=$?
[ $st -eq 0 ] && grep -q '^hakmem: slow-path profile' "$err"
tt_ok $? "PROFILE=1 prints the profile section (status $st)"
calls=$(sed -n 's/^hakmem: refill: \([0-9]*\) calls.*/\1/p' "$err")
[ -n "$calls" ] && [ "$calls" -gt 0 ]
tt_ok $? "the profile counts refills (${calls:-none})"
grep -q '^hakmem: OS map: [1-9][0-9]* calls' "$err"
tt_ok $? "the profile counts OS maps"
! grep -q 'requests *hits' "$err"
tt_ok $? "PROFILE alone prints no statistics table"

$HAK_EMULATOR "$p" >"$out" 2>"$err"
[ ! -s "$err" ]
tt_ok $? "neither set: nothing on stderr"
tt_done
