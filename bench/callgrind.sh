#!/bin/sh
# Instructions per malloc/free pair of bench_random_mixed under each allocator, counted by
# valgrind's callgrind.  Instruction counts do not depend on machine load, so this is the
# noise-free complement of compare.py's wall times.
#
# Callgrind (unlike memcheck) does not replace malloc, so an LD_PRELOADed allocator is the one
# that runs; each run checks the program's malloc= field.  The program runs twice, with N and
# 2N iterations; the difference divided by N is the cost of one iteration in the steady state,
# free of start-up, warm-up and exit.  "main" is the benchmark's own loop (random numbers,
# slot bookkeeping, touching the block); the rest of the difference is malloc + free.
#
# usage: bench/callgrind.sh [--bindir DIR] [--hakmem PATH] [N [working_set]]
#   defaults: --bindir bench, --hakmem .libs/libhakmem.so, N 200000, working set 8192
set -eu

bindir=bench
hakmem=.libs/libhakmem.so
while [ $# -gt 0 ]; do
  case "$1" in
    --bindir) bindir=$2; shift 2 ;;
    --hakmem) hakmem=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
n=${1:-200000}
ws=${2:-8192}
prog=$bindir/bench_random_mixed
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed"; exit 1; }
command -v callgrind_annotate >/dev/null || { echo "callgrind.sh: callgrind_annotate missing"; exit 1; }
[ -x "$prog" ] || { echo "callgrind.sh: $prog not found; run make bench"; exit 1; }

libdir=
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
  [ -e "$d/libmimalloc.so.2" ] && { libdir=$d; break; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# prints "total_Ir main_self_Ir" for one run; $1 = preload ("" for glibc), $2 = iterations,
# $3 = expected malloc= value
measure() {
  out=$tmp/cg.out
  LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$prog" "$2" "$ws" 1 >"$tmp/stdout" 2>"$tmp/stderr" || {
    echo "callgrind.sh: run failed:" >&2; cat "$tmp/stderr" >&2; exit 1; }
  grep -q "malloc=$3 " "$tmp/stdout" || {
    echo "callgrind.sh: expected malloc=$3, got: $(cat "$tmp/stdout")" >&2; exit 1; }
  total=$(sed -n 's/^summary: *//p' "$out")
  # self cost of the benchmark's main(), inlined helpers included: callgrind lists it once per
  # source file, with the object named only on the first ("  4,800,119 (7.49%)  ../bench/bench.h:main")
  mainir=$(callgrind_annotate --inclusive=no "$out" 2>/dev/null |
           awk '/:main( \[|$)/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
  echo "$total ${mainir:-0}"
}

printf '| allocator | instructions per iteration | of which the loop (main) | malloc + free |\n'
printf '|---|---:|---:|---:|\n'
for a in hakmem mimalloc glibc jemalloc tcmalloc; do
  case $a in
    hakmem) lib=$(readlink -f "$hakmem") ;;
    glibc) lib= ;;
    mimalloc) lib=$libdir/libmimalloc.so.2 ;;
    jemalloc) lib=$libdir/libjemalloc.so.2 ;;
    tcmalloc) lib=$libdir/libtcmalloc_minimal.so.4 ;;
  esac
  if [ -n "$lib" ] && [ ! -e "$lib" ]; then
    printf '| %s | not installed | | |\n' "$a"
    continue
  fi
  set -- $(measure "$lib" "$n" "$a")
  t1=$1 m1=$2
  set -- $(measure "$lib" $((2 * n)) "$a")
  t2=$1 m2=$2
  awk -v a="$a" -v t1="$t1" -v t2="$t2" -v m1="$m1" -v m2="$m2" -v n="$n" 'BEGIN {
    t = (t2 - t1) / n; m = (m2 - m1) / n
    printf "| %s | %.1f | %.1f | %.1f |\n", a, t, m, t - m }'
done
echo
echo "valgrind $(valgrind --version | sed 's/valgrind-//'); $prog N and 2N with N=$n, working set $ws, seed 1"
