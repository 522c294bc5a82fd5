# Sourced by the tests/install scripts: TAP output, and where the trees are.
# "make check" exports srcdir and top_builddir (tests/local.mk); run by hand, a script finds the
# source tree from its own path and takes the current directory as the build tree.
: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
srcdir=$(cd "$srcdir" && pwd)
: "${top_builddir:=.}"
: "${HAK_EMULATOR:=}"
hak_n=0
hak_failed=0

ok() { hak_n=$((hak_n + 1)); echo "ok $hak_n - $*"; }
not_ok() { hak_n=$((hak_n + 1)); echo "not ok $hak_n - $*"; hak_failed=1; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESCRIPTION COMMAND...: one test, passed when COMMAND succeeds.
check() {
  d=$1
  shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# check_rc DESCRIPTION WANT GOT
check_rc() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (exit status $3, wanted $2)"; fi
}
# no_system_preload CMD...: runs CMD where /etc/ld.so.preload loads nothing (the machine may
# preload a hakmem of its own, which would answer instead of the library under test); exit status
# 77 when that cannot be arranged here.  See tests/no-system-preload.sh.
no_system_preload() { sh "$srcdir/tests/no-system-preload.sh" "$@"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail_out() { echo "Bail out! $*"; exit 1; }
done_testing() { echo "1..$hak_n"; exit $hak_failed; }

# For the scripts that run again inside a private mount namespace, as "sh SCRIPT inside DIR".
# ns_run UNSHARE_FLAGS DIR FILE...: runs this script so and passes its TAP lines on (a skip from
# inside skips the whole script), then adds one test: the machine's FILEs are as they were.
ns_run() {
  ns_flags=$1 ns_dir=$2
  shift 2
  ns_before=$(ns_state "$@")
  unshare $ns_flags --propagation private sh "$0" inside "$ns_dir" > "$ns_dir/tap"
  ns_rc=$?
  ns_after=$(ns_state "$@")
  if grep -q '^1\.\.0 # SKIP' "$ns_dir/tap"; then cat "$ns_dir/tap"; exit 0; fi
  grep -v '^1\.\.' "$ns_dir/tap"
  hak_n=$(grep -c '^\(not \)\{0,1\}ok ' "$ns_dir/tap")
  [ $ns_rc = 0 ] || hak_failed=1
  if [ $# = 1 ]; then ns_what="$1 is"; else ns_what="$(echo "$*" | sed 's/ /, /g') are"; fi
  check "the machine's own $ns_what untouched" test "$ns_before" = "$ns_after"
  done_testing
}
ns_state() { for f in "$@"; do cat "$f" 2> /dev/null | cksum; ls -l "$f" 2>&1; done; }
# ns_overlay DIR SCRATCH: inside the namespace, DIR becomes writable, its changes kept in SCRATCH.
ns_overlay() {
  d=$2/$(echo "$1" | tr / _)
  mkdir -p "$d.up" "$d.work"
  mount -t overlay hakmem-test -o "lowerdir=$1,upperdir=$d.up,workdir=$d.work" "$1" 2> /dev/null
}
