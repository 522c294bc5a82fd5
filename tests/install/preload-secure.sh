#!/bin/sh
# Secure-execution mode (DESIGN invariant 7): with the built library in /etc/ld.so.preload, an
# ordinary user runs tests/test_secure_probe with HAKMEM_STATS=1, HAKMEM_STATS_FILE, HAKMEM_VERBOSE=1
# and a misspelt HAKMEM_STAT=1.  Set-user-ID root, the probe has hakmem loaded but no file appears
# and hakmem prints nothing; without the set-user-ID bit, same program, user and environment, all
# of them are honoured.  It runs in a private mount namespace whose /etc is an overlay on a tmpfs,
# where the user is made, so that the machine's own files are never touched.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_LIB:=$(cd "$top_builddir" && pwd)/.libs/libhakmem.so.0}"
probe=$top_builddir/tests/test_secure_probe$EXEEXT

if [ "${1-}" != inside ]; then
  [ -n "$HAK_EMULATOR" ] && skip_all "a cross build's library cannot be preloaded here"
  [ -f "$HAK_LIB" ] || skip_all "no shared library was built"
  [ -x "$probe" ] || skip_all "tests/test_secure_probe was not built"
  [ "$(id -u)" = 0 ] || skip_all "only root can make a set-user-ID root program and run it as another user"
  for c in unshare setpriv; do
    command -v $c > /dev/null 2>&1 || skip_all "$c is not installed"
  done
  unshare -m --propagation private true 2> /dev/null || skip_all "cannot make a mount namespace here"
  # Under /tmp, not $TMPDIR, and open to all: the user must reach the programs inside.
  tmp=$(mktemp -d /tmp/hakmem-secure.XXXXXX) && chmod 0755 "$tmp" || bail_out "mktemp failed"
  trap 'rm -rf "$tmp"' EXIT
  ns_run -m "$tmp" /etc/ld.so.preload /etc/passwd /etc/group /etc/shadow
fi

# Inside the namespace.
tmp=$2
mnt=$tmp/mnt
mkdir -p "$mnt" && mount -t tmpfs -o mode=0755 hakmem-test "$mnt" 2> /dev/null ||
  skip_all "cannot mount a tmpfs in the namespace"
opts=$(awk -v m="$mnt" '$5 == m { print $6 }' /proc/self/mountinfo | tail -n 1)
case ,$opts, in
  ,,) skip_all "the tmpfs at $mnt is not in /proc/self/mountinfo" ;;
  *,nosuid,*) skip_all "the tmpfs at $mnt is mounted nosuid" ;;
esac
ns_overlay /etc "$mnt" || skip_all "cannot mount an overlay on /etc"
user=hakmem-test
if useradd --system --no-create-home --shell /bin/sh "$user" 2> /dev/null; then
  uid=$(id -u "$user") gid=$(id -g "$user")
elif uid=$(id -u nobody 2> /dev/null); then
  user=nobody gid=$(id -g nobody)
  diag "useradd failed; the probe runs as nobody"
else
  skip_all "cannot create a user, and there is no nobody"
fi
mkdir "$mnt/lib" "$mnt/bin" "$mnt/out" && chown "$uid:$gid" "$mnt/out" || bail_out "cannot make $mnt/*"
lib=$mnt/lib/libhakmem.so.0
bin=$mnt/bin/test_secure_probe
cp "$HAK_LIB" "$lib" && cp "$probe" "$bin" && chown 0:0 "$bin" || bail_out "cannot copy into $mnt"
chmod 0644 "$lib"
stats=$mnt/out/stats
# Every program started from here on has the library: the machine's own line, if any, is replaced.
printf '%s\n' "$lib" > /etc/ld.so.preload

# probe NAME: the probe as the user, with the settings of the tests; output in $mnt/NAME.out, .err.
probe() {
  rm -f "$stats"
  setpriv --reuid="$uid" --regid="$gid" --clear-groups env -u LD_PRELOAD HAKMEM_STATS=1 \
    HAKMEM_STATS_FILE="$stats" HAKMEM_VERBOSE=1 HAKMEM_STAT=1 "$bin" > "$mnt/$1.out" 2> "$mnt/$1.err"
  status=$?
}
# has FILE LINE...: FILE (under $mnt) holds each LINE; lacks FILE TEXT: no line of FILE has TEXT.
has() {
  f=$mnt/$1
  shift
  for l in "$@"; do grep -qxF "$l" "$f" || return 1; done
}
lacks() { ! grep -qF "$2" "$mnt/$1"; }

chmod 4755 "$bin"
probe setuid
check_rc "set-user-ID root: the probe runs as $user and exits 0" 0 $status
check "set-user-ID root: it runs as root in secure-execution mode" has setuid.out "euid 0" "secure 1"
check "set-user-ID root: libhakmem from /etc/ld.so.preload is loaded" has setuid.out "libhakmem mapped: $lib"
check "set-user-ID root: no HAKMEM_STATS_FILE appears" test ! -e "$stats"
check "set-user-ID root: nothing of hakmem on stderr" lacks setuid.err hakmem
check "set-user-ID root: nothing of hakmem on stdout" lacks setuid.out "hakmem:"
diag "$(sed 's/^/setuid: /' "$mnt/setuid.out" "$mnt/setuid.err")"

chmod 0755 "$bin"
probe plain
check_rc "without the bit: the probe runs as $user and exits 0" 0 $status
check "without the bit: it runs as $user, not in secure-execution mode" has plain.out "euid $uid" "secure 0"
check "without the bit: libhakmem from /etc/ld.so.preload is loaded" has plain.out "libhakmem mapped: $lib"
check "without the bit: HAKMEM_STATS_FILE holds the statistics table" \
  sh -c 'grep -q "^hakmem: statistics (pid" "$1" && grep -q "^hakmem: tiny total" "$1"' sh "$stats"
check "without the bit: the file was made by $user" test "$(stat -c %u "$stats" 2> /dev/null)" = "$uid"
check "without the bit: HAKMEM_VERBOSE=1 prints the settings on stderr" has plain.err \
  "hakmem: HAKMEM_VERBOSE=1" "hakmem: HAKMEM_STATS=1" "hakmem: HAKMEM_STATS_FILE=$stats"
check "without the bit: HAKMEM_STAT=1 is warned about" \
  has plain.err "hakmem: warning: unknown variable HAKMEM_STAT (did you mean HAKMEM_STATS?)"
diag "$(sed 's/^/plain: /' "$mnt/plain.out")"
rm -f /etc/ld.so.preload
done_testing
