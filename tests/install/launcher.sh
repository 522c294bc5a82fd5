#!/bin/sh
# The hakmem launcher (tools/hakmem) from the build tree, with --library naming the built library:
# help and version, programs run with the library loaded, exit statuses, errors.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
hakmem=$(cd "$top_builddir" && pwd)/tools/hakmem
: "${HAK_LIB:=$(cd "$top_builddir" && pwd)/.libs/libhakmem.so.0}"
[ -n "$HAK_EMULATOR" ] && skip_all "a cross build's library cannot be preloaded here"
[ -f "$HAK_LIB" ] || skip_all "no shared library was built"
run() { "$hakmem" --library "$HAK_LIB" "$@"; }
# Only the settings a case names: none inherited from the caller's environment.
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

out=$("$hakmem" --help); rc=$?
check_rc "--help exits 0" 0 $rc
check "--help prints the usage" sh -c 'printf "%s\n" "$1" | grep -q "^Usage: hakmem \[OPTION\]... COMMAND"' sh "$out"
out=$("$hakmem" --version); rc=$?
check_rc "--version exits 0" 0 $rc
check "--version prints the version" sh -c 'printf "%s\n" "$1" | grep -qx "hakmem [0-9][0-9.]*"' sh "$out"

check "sh runs with hakmem loaded" \
  "$hakmem" --library "$HAK_LIB" sh -c 'grep -q /libhakmem "/proc/$$/maps"'
check "cat runs with hakmem loaded" \
  sh -c '"$@" cat /proc/self/maps | grep -q /libhakmem' sh "$hakmem" --library "$HAK_LIB"
if command -v python3 > /dev/null 2>&1; then
  out=$(run python3 -c 'import sys
maps = open("/proc/self/maps").read()
print(sum(range(10**6)), "libhakmem" in maps)')
  check "python3 runs with hakmem loaded" test "$out" = "499999500000 True"
else
  ok "# SKIP python3 is not installed"
fi
run sh -c 'exit 42'; rc=$?
check_rc "the command's exit status is passed through" 42 $rc
run sh -c 'kill -TERM $$'; rc=$?
check_rc "a command killed by a signal gives 128+signal" 143 $rc

err=$(run hakmem-no-such-command 2>&1); rc=$?
check_rc "a command not found exits 127" 127 $rc
check "a command not found is named" sh -c 'printf "%s\n" "$1" | grep -q "hakmem-no-such-command: command not found"' sh "$err"
run ./hakmem-no-such-file 2> /dev/null; rc=$?
check_rc "a path that does not exist exits 127" 127 $rc
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
printf 'not a program\n' > "$tmp/not-executable"
run "$tmp/not-executable" 2> /dev/null; rc=$?
check_rc "a file that cannot be run exits 126" 126 $rc

err=$("$hakmem" --library "$tmp/missing.so" true 2>&1); rc=$?
check_rc "a missing library exits 125" 125 $rc
check "a missing library is named" sh -c 'printf "%s\n" "$1" | grep -q "library is missing: .*missing.so"' sh "$err"
"$hakmem" --library "$HAK_LIB" 2> /dev/null; rc=$?
check_rc "no command exits 125" 125 $rc
"$hakmem" --no-such-option true 2> /dev/null; rc=$?
check_rc "an unknown option exits 125" 125 $rc

out=$(LD_PRELOAD=$HAK_LIB run sh -c 'printf %s "$LD_PRELOAD"')
check "the library goes in front of an LD_PRELOAD list" test "$out" = "$HAK_LIB:$HAK_LIB"
out=$(HAKMEM_TINY_BATCH=7 run sh -c 'printf %s "$HAKMEM_TINY_BATCH"')
check "HAKMEM_* variables are passed through" test "$out" = 7
out=$(run --set tiny_batch=8 sh -c 'printf %s "$HAKMEM_TINY_BATCH"')
check "--set name=value sets HAKMEM_NAME" test "$out" = 8
out=$(run -s HAKMEM_STATS_FILE=a=b sh -c 'printf %s "$HAKMEM_STATS_FILE"')
check "-s HAKMEM_NAME=value keeps the rest of the value" test "$out" = a=b
for set in "--set HAKMEM_STAT=1" "-s STAT=1" "--set=stat=1"; do
  err=$(run $set sh -c 'echo ran' 2>&1); rc=$?
  check_rc "$set: an unknown name exits 125" 125 $rc
  check "$set: the message names it and the nearest option" \
    test "$err" = "hakmem: unknown variable HAKMEM_STAT (did you mean HAKMEM_STATS?); see hakmem(7)"
done
err=$(run -s superslab_ttl=5 true 2>&1)
check "--set suggests the nearest name (HAKMEM_SUPERSLAB_TTL_SEC for SUPERSLAB_TTL)" \
  sh -c 'printf "%s\n" "$1" | grep -q "did you mean HAKMEM_SUPERSLAB_TTL_SEC?"' sh "$err"
# The names --set knows (made from src/options.h by sed) are those tools/gen-options-man prints.
names=$($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names) || bail_out "tools/gen-options-man failed"
known=$(sed -n "s/^options='\(.*\)'\$/\1/p" "$hakmem")
check "--set knows the $(echo $names | wc -w) names of the options table, and only those" \
  test "$(echo $known)" = "$(echo $names)"
out=$(cd "$(dirname "$HAK_LIB")" && "$hakmem" --library "./${HAK_LIB##*/}" cat /proc/self/maps | grep -c /libhakmem)
check "a relative --library path works" test "$out" -gt 0
out=$(run -- sh -c 'echo ran')
check "-- ends the options" test "$out" = ran
done_testing
