# Sourced by the tests/install scripts: TAP output, and where the trees are.
# "make check" exports srcdir and top_builddir (tests/local.mk); run by hand, a script finds the
# source tree from its own path and takes the current directory as the build tree.
: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
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
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail_out() { echo "Bail out! $*"; exit 1; }
done_testing() { echo "1..$hak_n"; exit $hak_failed; }
