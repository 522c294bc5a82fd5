#!/bin/sh
# make check on a machine with hakmem enabled system-wide still tests this build's library.
# Inside a private mount namespace with an overlay /etc, /etc/ld.so.preload names another
# libhakmem.so.0 (a copy of the built one, under a path of its own).  A program linked with
# hakmem then maps that copy when run as it is, and this build's library when run through
# tests/no-system-preload.sh, as make check runs every test; as another user too.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_LIB:=$(cd "$top_builddir" && pwd)/.libs/libhakmem.so.0}"
probe=$(cd "$top_builddir" && pwd)/tests/test_alloc_probe$EXEEXT

if [ "${1-}" != inside ]; then
  [ -n "$HAK_EMULATOR" ] && skip_all "a cross build's library cannot be preloaded here"
  [ -f "$HAK_LIB" ] || skip_all "no shared library was built"
  [ -x "$probe" ] || skip_all "tests/test_alloc_probe was not built"
  command -v unshare > /dev/null 2>&1 || skip_all "unshare is not installed"
  if [ "$(id -u)" = 0 ]; then ns='-m'; else ns='-r -m'; fi
  unshare $ns --propagation private true 2> /dev/null || skip_all "cannot make a mount namespace here"
  tmp=$(mktemp -d) || bail_out "mktemp failed"
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  ns_run "$ns" "$tmp" /etc/ld.so.preload
fi

# Inside the namespace.
tmp=$2
mkdir -p "$tmp/mnt" && mount -t tmpfs -o mode=755 hakmem-test "$tmp/mnt" 2> /dev/null ||
  skip_all "cannot mount a tmpfs in the namespace"
ns_overlay /etc "$tmp/mnt" || skip_all "cannot mount an overlay on /etc"
ours=$(readlink -f "$HAK_LIB")
other=$tmp/mnt/system/libhakmem.so.0
mkdir -p "$tmp/mnt/system" && cp "$HAK_LIB" "$other" || bail_out "cannot copy the library"
chmod -R a+rX "$tmp/mnt/system"
printf '%s\n' "$other" > /etc/ld.so.preload

# maps_only FILE OUTPUT: the probe ran well and had FILE mapped, and no other libhakmem.
maps_only() {
  printf '%s\n' "$2" | grep -qx 'probe ok' &&
    test "$(printf '%s\n' "$2" | sed -n 's/^libhakmem mapped: //p')" = "$1"
}
no_preload="$srcdir/tests/no-system-preload.sh"

out=$(env -u LD_PRELOAD "$probe" 2>&1)
check "run as it is, the probe maps the library that /etc/ld.so.preload names" maps_only "$other" "$out"
out=$(env -u LD_PRELOAD sh "$no_preload" "$probe" 2>&1)
check "through tests/no-system-preload.sh, it maps this build's library" maps_only "$ours" "$out"
check "the file is back as it was after the run" test "$(cat /etc/ld.so.preload)" = "$other"
out=$(env -u LD_PRELOAD sh "$no_preload" sh -c 'id -u; id -g' 2>&1)
check "the command keeps its uid and gid" test "$out" = "$(id -u; id -g)"

# As a user without privilege, the script makes its namespace through a user namespace, and
# runs the command with that user's own ids; where the kernel allows no user namespaces, it
# says why and exits 77.
user=nobody
if [ "$(id -u)" = 0 ] && id "$user" > /dev/null 2>&1 && command -v setpriv > /dev/null 2>&1 &&
   setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups test -x "$probe"; then
  as_user() { setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; }
  out=$(as_user env -u LD_PRELOAD sh "$no_preload" sh -c 'id -u; id -g; "$0"' "$probe" 2> "$tmp/err")
  rc=$?
  if [ $rc = 77 ]; then
    check "as $user without user namespaces: exit 77 with the reason" \
      grep -q 'no private mount namespace can be made' "$tmp/err"
    ok "# SKIP this kernel gives $user no user namespace"
  else
    want=$(printf '%s\n%s' "$(id -u "$user")" "$(id -g "$user")")
    check "as $user, the command runs with $user's own uid and gid" \
      test "$(printf '%s\n' "$out" | head -n 2)" = "$want"
    check "as $user, it maps this build's library" maps_only "$ours" "$(printf '%s\n' "$out" | tail -n +3)"
  fi
else
  ok "# SKIP not root, or no user $user or setpriv, or $user cannot run the build's programs"
  ok "# SKIP the same"
fi
done_testing
