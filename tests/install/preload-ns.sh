#!/bin/sh
# hakmem-preload on the real /etc/ld.so.preload, inside a private mount namespace: /etc and the
# system library directory are overlays on a tmpfs there, so the machine's own files are never
# touched.  After enable, ordinary programs run with hakmem loaded; after disable, without.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_LIB:=$(cd "$top_builddir" && pwd)/.libs/libhakmem.so.0}"

if [ "${1-}" != inside ]; then
  [ -n "$HAK_EMULATOR" ] && skip_all "a cross build's library cannot be preloaded here"
  [ -f "$HAK_LIB" ] || skip_all "no shared library was built"
  command -v unshare > /dev/null 2>&1 || skip_all "unshare is not installed"
  # As root a mount namespace is enough; otherwise a user namespace gives the rights inside it.
  if [ "$(id -u)" = 0 ]; then ns='-m'; else ns='-r -m'; fi
  unshare $ns --propagation private true 2> /dev/null || skip_all "cannot make a mount namespace here"
  tmp=$(mktemp -d) || bail_out "mktemp failed"
  trap 'rm -rf "$tmp"' EXIT
  sed -e "s|@PACKAGE_VERSION@|test|g" -e "s|@libdir@|@SYSLIBDIR@|g" \
    "$srcdir/tools/hakmem-preload.in" > "$tmp/hakmem-preload.in"
  ns_run "$ns" "$tmp" /etc/ld.so.preload
fi

# Inside the namespace.
tmp=$2
mkdir -p "$tmp/mnt" && mount -t tmpfs hakmem-test "$tmp/mnt" 2> /dev/null ||
  skip_all "cannot mount a tmpfs in the namespace"
ldso=$(awk '$6 ~ /\/ld-[^\/]*\.so/ { print $6; exit }' /proc/self/maps)
lib_dir=$("$ldso" --list-diagnostics 2> /dev/null | sed -n 's/^dl_dst_lib="\(.*\)"$/\1/p')
[ -n "$lib_dir" ] || { lib_dir=${ldso%/*}; lib_dir=${lib_dir#/usr}; lib_dir=${lib_dir#/}; }
syslib=/usr/$lib_dir
ns_overlay /etc "$tmp/mnt" && ns_overlay "$syslib" "$tmp/mnt" || skip_all "cannot mount an overlay on /etc and $syslib"
hp=$tmp/mnt/hakmem-preload
sed "s|@SYSLIBDIR@|$syslib|g" "$tmp/hakmem-preload.in" > "$hp" || bail_out "cannot write $hp"
cp "$HAK_LIB" "$syslib/libhakmem.so.0" || bail_out "cannot copy the library into $syslib"
# Another preloaded library, to see that its line stays: a copy of libm under a name of its own.
libm=$(awk '$6 ~ /\/libm\.so\.6$/ { print $6; exit }' /proc/self/maps)
[ -n "$libm" ] || libm=$(ls "$syslib"/libm.so.6 /lib/"$lib_dir"/libm.so.6 2> /dev/null | head -n 1)
cp "$libm" "$syslib/libhakmem-test-other.so" || bail_out "cannot copy libm"
other='/usr/$LIB/libhakmem-test-other.so'
line='/usr/$LIB/libhakmem.so.0'
p=/etc/ld.so.preload
printf '%s\n' "$other" > "$p"
chmod 0640 "$p"

# loaded LIB PROGRAM...: LIB is in the address space of PROGRAM, which prints its own maps.
loaded() { lib=$1; shift; env -u LD_PRELOAD "$@" | grep -q "/$lib"; }

sh "$hp" status > /dev/null; rc=$?
check_rc "status before enable says disabled" 3 $rc
check "before enable, cat runs without hakmem" sh -c '! env -u LD_PRELOAD cat /proc/self/maps | grep -q /libhakmem\.so'
sh "$hp" enable > "$tmp/mnt/out" 2>&1; rc=$?
check_rc "enable succeeds on /etc/ld.so.preload" 0 $rc
check "the line is added after the other one" test "$(cat "$p")" = "$(printf '%s\n%s' "$other" "$line")"
check "the file keeps its mode" test "$(stat -c %a "$p")" = 640
check "after enable, cat runs with hakmem loaded" loaded libhakmem.so cat /proc/self/maps
check "after enable, sh runs with hakmem loaded" loaded libhakmem.so sh -c 'cat "/proc/$$/maps"'
check "after enable, ls works" sh -c 'env -u LD_PRELOAD ls -d / > /dev/null'
check "after enable, the other library is loaded too" loaded libhakmem-test-other.so cat /proc/self/maps
if command -v python3 > /dev/null 2>&1; then
  out=$(env -u LD_PRELOAD python3 -c 'print(sum(range(10**6)), "libhakmem" in open("/proc/self/maps").read())')
  check "after enable, python3 runs with hakmem loaded" test "$out" = "499999500000 True"
else
  ok "# SKIP python3 is not installed"
fi
cp "$p" "$tmp/mnt/enabled"
sh "$hp" enable > /dev/null 2>&1; rc=$?
check_rc "enable again succeeds" 0 $rc
check "enable again changes nothing" cmp -s "$p" "$tmp/mnt/enabled"
sh "$hp" status > /dev/null; rc=$?
check_rc "status says enabled" 0 $rc

sh "$hp" disable > /dev/null 2>&1; rc=$?
check_rc "disable succeeds" 0 $rc
check "disable keeps the other line" test "$(cat "$p")" = "$other"
check "after disable, cat runs without hakmem" sh -c '! env -u LD_PRELOAD cat /proc/self/maps | grep -q /libhakmem\.so'
check "after disable, the other library is still loaded" loaded libhakmem-test-other.so cat /proc/self/maps
cp "$p" "$tmp/mnt/disabled"
sh "$hp" disable > /dev/null 2>&1; rc=$?
check_rc "disable again succeeds" 0 $rc
check "disable again changes nothing" cmp -s "$p" "$tmp/mnt/disabled"
rm -f "$p"
sh "$hp" enable > /dev/null 2>&1 && sh "$hp" disable > /dev/null 2>&1
check "enable then disable on no file leaves no file" test ! -e "$p"

# The Debian maintainer scripts take the line out when the library goes (debian/ is in the source
# tree, not in the release tarball; pkg-rpm.sh tests the RPM scriptlets).
[ -d "$srcdir/debian" ] || { ok "# SKIP no debian/ in this tree"; done_testing; }
for script in libhakmem0.prerm:remove libhakmem0.postrm:remove hakmem.postrm:purge; do
  f=${script%%:*} arg=${script#*:}
  printf '%s\n%s\n' "$other" "$line" > "$p"
  sh "$srcdir/debian/$f" "$arg" 2> /dev/null
  check "debian/$f $arg removes only the hakmem line" test "$(cat "$p")" = "$other"
  printf '%s\n' "$line" > "$p"
  sh "$srcdir/debian/$f" "$arg" 2> /dev/null
  check "debian/$f $arg deletes a file that held only it" test ! -e "$p"
done
printf '%s\n%s\n' "$other" "$line" > "$p"
sh "$srcdir/debian/libhakmem0.prerm" upgrade 2> /dev/null
check "debian/libhakmem0.prerm upgrade keeps the line" grep -qxF "$line" "$p"
sh "$srcdir/debian/hakmem.postrm" remove 2> /dev/null
check "debian/hakmem.postrm remove keeps the line" grep -qxF "$line" "$p"
done_testing
