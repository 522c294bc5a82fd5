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
# no_system_preload CMD...: runs CMD where /etc/ld.so.preload loads nothing, since the machine may
# preload a hakmem of its own, which would then answer instead of the library under test (the
# loader takes a preloaded libhakmem.so.0 for the one a program needs): CMD runs as it is when the
# file is missing or empty, else in a private mount namespace with /dev/null over the file.
# Exit status 77 when no such namespace can be made here.
no_system_preload() {
  [ -s /etc/ld.so.preload ] || { "$@"; return; }
  if [ "$(id -u)" = 0 ]; then nsp='-m'; else nsp='-r -m'; fi
  # shellcheck disable=SC2086 # nsp is a list of options
  unshare $nsp --propagation private true 2> /dev/null || return 77
  # shellcheck disable=SC2086
  unshare $nsp --propagation private \
    sh -c 'mount --bind /dev/null /etc/ld.so.preload && exec "$@"' sh "$@"
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail_out() { echo "Bail out! $*"; exit 1; }
done_testing() { echo "1..$hak_n"; exit $hak_failed; }
