# Sourced by the tier tests' wrapper scripts.  A wrapper runs one test program several times,
# each with its own HAKMEM_* settings (hakmem reads them once, at start-up), and merges the
# TAP of the runs into one stream: "sub LABEL COMMAND..." runs COMMAND, renumbers its checks,
# prefixes them with [LABEL], and turns a crash, a short count or a bail-out into a failure;
# "tt_done" prints the plan and sets the exit status.
: "${top_srcdir:=../..}" "${top_builddir:=.}"
# A wrapper may run another build of its program: tests/tsan/ sets tt_bin and tt_ext.
tt_bin="${tt_bin:-$top_builddir/tests/tiers}"
tt_n=0
tt_fail=0
tt_tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-tiers.XXXXXX") || exit 1
trap 'rm -rf "$tt_tmp"' EXIT

# Only the settings a run names: none inherited from the caller's environment.
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

# prog NAME: the path of a tier test program.
prog() {
  echo "$tt_bin/$1${tt_ext-}$EXEEXT"
}

sub() {
  label=$1
  shift
  "$@" >"$tt_tmp/out" 2>"$tt_tmp/err"
  st=$?
  awk -v n="$tt_n" -v f="$tt_fail" -v label="$label" -v st="$st" -v cnt="$tt_tmp/count" '
    /^1\.\.0/ { sub(/^1\.\.0 *(# *SKIP *)?/, ""); n++; print "ok " n " - [" label "] # SKIP " $0; skipped = 1; next }
    /^1\.\.[0-9]+/ { plan = substr($0, 4) + 0; next }
    /^(not )?ok [0-9]+/ {
      neg = ($0 ~ /^not /) && ($0 !~ /# *TODO/); line = $0; sub(/^(not )?ok [0-9]+ *-? */, "", line)
      n++; k++; if (neg) { f++; kf++ }
      print ($0 ~ /^not / ? "not ok " : "ok ") n " - [" label "] " line; next }
    /^Bail out!/ { n++; f++; kf++; print "not ok " n " - [" label "] " $0; next }
    { print }
    END {
      if (!skipped && k != plan) { n++; f++; kf++; print "not ok " n " - [" label "] ran " k " of " plan + 0 " planned checks (exit status " st ")" }
      else if (!skipped && st != 0 && kf == 0) { n++; f++; print "not ok " n " - [" label "] exit status " st }
      print n, f > cnt
    }' "$tt_tmp/out"
  read tt_n tt_fail <"$tt_tmp/count"
  if [ -s "$tt_tmp/err" ]; then head -n 20 "$tt_tmp/err" | sed "s/^/# [$label] stderr: /"; fi
  return $st
}


# tt_ok STATUS DESCRIPTION: a check made by the script itself (STATUS 0 passes).
tt_ok() {
  tt_n=$((tt_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $tt_n - $2"
  else
    echo "not ok $tt_n - $2"
    tt_fail=$((tt_fail + 1))
  fi
}

# tt_skip WHY: a check that cannot be made here.
tt_skip() {
  tt_n=$((tt_n + 1))
  echo "ok $tt_n # SKIP $1"
}

tt_done() {
  echo "1..$tt_n"
  [ "$tt_fail" -eq 0 ]
  exit $?
}
