#!/bin/sh
# The option parser: a bad HAKMEM_* value gets exactly one "hakmem: warning: HAKMEM_NAME=..."
# line on stderr and the default, and the program runs normally; so does a HAKMEM_* name that is
# no option, with the nearest one named; HAKMEM_VERBOSE=1 prints the effective value of every
# option.
: "${top_srcdir:=..}" "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

probe="$top_builddir/tests/test_alloc_probe$EXEEXT"
[ -x "$probe" ] || skip_all "tests/test_alloc_probe was not built"

plan 18

# Only the settings a case names: none inherited from the caller's environment.
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-options.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# run VAR=VALUE...: runs the probe with those settings; stdout in $tmp/out, stderr in $tmp/err.
run() {
  env "$@" $HAK_EMULATOR "$probe" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

# warned NAME: exactly one warning line for HAKMEM_NAME, the probe fine.
warned() {
  n=$(grep -c "^hakmem: warning: HAKMEM_$1=" "$tmp/err")
  [ "$n" -eq 1 ] && [ $status -eq 0 ] && grep -qx 'probe ok' "$tmp/out"
}

run HAKMEM_TINY_BATCH=abc
warned TINY_BATCH
ok $? "HAKMEM_TINY_BATCH=abc: one warning, the program works"
[ $status -eq 0 ] && grep -q 'TINY_BATCH' "$tmp/err" || diag "status $status" "$(cat "$tmp/err")"
lines=$(grep -c . "$tmp/err")
[ "$lines" -eq 1 ]
ok $? "HAKMEM_TINY_BATCH=abc: nothing else on stderr ($lines lines)"

run HAKMEM_TINY_BATCH=0
warned TINY_BATCH
ok $? "HAKMEM_TINY_BATCH=0 (below its range): one warning"

run HAKMEM_TINY_BATCH=99999999
warned TINY_BATCH
ok $? "HAKMEM_TINY_BATCH=99999999 (above its range): one warning"

run HAKMEM_VERBOSE=maybe
warned VERBOSE
ok $? "HAKMEM_VERBOSE=maybe (not a boolean): one warning"

run HAKMEM_TINY_BATCH=32
[ $status -eq 0 ] && [ ! -s "$tmp/err" ] && grep -qx 'probe ok' "$tmp/out"
ok $? "HAKMEM_TINY_BATCH=32: no warning, the program works"

run HAKMEM_TINY_BATCH=1 HAKMEM_KEPT_FULL_SLABS=0 HAKMEM_SUPERSLAB_MAX_CACHED=0
[ $status -eq 0 ] && [ ! -s "$tmp/err" ] && grep -qx 'probe ok' "$tmp/out"
ok $? "the smallest settings (batch 1, no kept full slabs, no cache) work"

run HAKMEM_VERBOSE=1
[ $status -eq 0 ] && grep -qx 'probe ok' "$tmp/out"
ok $? "HAKMEM_VERBOSE=1: the program works"
grep -q '^hakmem: HAKMEM_VERBOSE=1$' "$tmp/err"
ok $? "HAKMEM_VERBOSE=1 prints HAKMEM_VERBOSE=1"
grep -q '^hakmem: HAKMEM_TINY_BATCH=[0-9]' "$tmp/err" &&
  grep -q '^hakmem: HAKMEM_SUPERSLAB_MAX_CACHED=[0-9]' "$tmp/err"
ok $? "HAKMEM_VERBOSE=1 prints the effective settings"
[ $status -eq 0 ] || diag "$(cat "$tmp/err")"

run HAKMEM_WARM_POOL_SIZE=3 HAKMEM_VERBOSE=1
[ $status -eq 0 ] && grep -qx 'probe ok' "$tmp/out" &&
  [ "$(grep -c 'WARM_POOL_SIZE is the old name of HAKMEM_KEPT_FULL_SLABS' "$tmp/err")" -eq 1 ] &&
  grep -qx 'hakmem: HAKMEM_KEPT_FULL_SLABS=3' "$tmp/err" && ! grep -q 'unknown variable' "$tmp/err"
ok $? "HAKMEM_WARM_POOL_SIZE=3, an old name: one warning naming HAKMEM_KEPT_FULL_SLABS, set to 3"

run HAKMEM_WARM_POOL_SIZE=3 HAKMEM_KEPT_FULL_SLABS=5 HAKMEM_VERBOSE=1
grep -qx 'hakmem: HAKMEM_KEPT_FULL_SLABS=5' "$tmp/err" &&
  grep -q 'HAKMEM_WARM_POOL_SIZE is the old name of HAKMEM_KEPT_FULL_SLABS; ignored' "$tmp/err"
ok $? "with both names set, the option's own name wins, and the old one is warned about"

run HAKMEM_VERBOSE=1 HAKMEM_TINY_BATCH=32
grep -q '^hakmem: HAKMEM_TINY_BATCH=32$' "$tmp/err"
ok $? "HAKMEM_VERBOSE=1 shows HAKMEM_TINY_BATCH=32 as set"

# The default, as the warning names it ("... using the default N").
run HAKMEM_VERBOSE=1 HAKMEM_TINY_BATCH=abc
def=$(sed -n 's/^hakmem: warning: HAKMEM_TINY_BATCH=.*default \([0-9][0-9]*\).*/\1/p' "$tmp/err")
[ -n "$def" ] && grep -q "^hakmem: HAKMEM_TINY_BATCH=$def\$" "$tmp/err" && warned TINY_BATCH
ok $? "HAKMEM_VERBOSE=1 shows the default (${def:-?}) in place of a bad HAKMEM_TINY_BATCH"

# unknown NAME NEAREST: the one line on stderr warns of HAKMEM_NAME and names HAKMEM_NEAREST.
unknown() {
  [ $status -eq 0 ] && grep -qx 'probe ok' "$tmp/out" && [ "$(grep -c . "$tmp/err")" -eq 1 ] &&
    grep -qx "hakmem: warning: unknown variable HAKMEM_$1 (did you mean HAKMEM_$2?)" "$tmp/err"
}

run HAKMEM_STAT=1
unknown STAT STATS
ok $? "HAKMEM_STAT=1: one warning that names HAKMEM_STATS, and no statistics"
[ $status -eq 0 ] || diag "status $status" "$(cat "$tmp/err")"

run HAKMEM_superslab_ttl_sec=3
unknown superslab_ttl_sec SUPERSLAB_TTL_SEC
ok $? "HAKMEM_superslab_ttl_sec (wrong case): the warning names HAKMEM_SUPERSLAB_TTL_SEC"

run HAKMEM_BIGCACHE_MAX=8
unknown BIGCACHE_MAX BIGCACHE_MAX_MB
ok $? "HAKMEM_BIGCACHE_MAX: the warning names HAKMEM_BIGCACHE_MAX_MB"

run HAKMEM_TINY_BATCHES=8 HAKMEM_VERBOSE=1 HAKMEM_PROFILES=1
n=$(grep -c '^hakmem: warning: unknown variable' "$tmp/err")
[ "$n" -eq 2 ] && grep -q '^hakmem: warning: unknown variable HAKMEM_TINY_BATCHES ' "$tmp/err" &&
  grep -q '^hakmem: warning: unknown variable HAKMEM_PROFILES ' "$tmp/err" &&
  grep -qx 'hakmem: HAKMEM_VERBOSE=1' "$tmp/err"
ok $? "two unknown names beside a known one: one warning each ($n), the known one taken"

tap_done
