#!/bin/sh
# hakmem-preload --root DIR on throwaway trees: what enable, disable and status write and say,
# idempotence, other lines and the file mode kept, refusal of a missing or broken library.
# Two copies of the command are tried: the one built for this tree's libdir (an absolute line,
# or the $LIB one when that libdir is the system's), and one made for the system library
# directory, as the packages install it (the $LIB line).
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_LIB:=$(cd "$top_builddir" && pwd)/.libs/libhakmem.so.0}"
[ -n "$HAK_EMULATOR" ] && skip_all "a cross build's library cannot be preloaded here"
[ -f "$HAK_LIB" ] || skip_all "no shared library was built"
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# What ld.so puts for $LIB, found as hakmem-preload finds it.
ldso=$(awk '$6 ~ /\/ld-[^\/]*\.so/ { print $6; exit }' /proc/self/maps)
lib_dir=$("$ldso" --list-diagnostics 2> /dev/null | sed -n 's/^dl_dst_lib="\(.*\)"$/\1/p')
[ -n "$lib_dir" ] || { lib_dir=${ldso%/*}; lib_dir=${lib_dir#/usr}; lib_dir=${lib_dir#/}; }
built_libdir=$(sed -n "s/^libdir='\(.*\)'$/\1/p" "$top_builddir/tools/hakmem-preload")
sed -e "s|@libdir@|/usr/$lib_dir|g" -e 's|@PACKAGE_VERSION@|test|g' \
  "$srcdir/tools/hakmem-preload.in" > "$tmp/hakmem-preload-system"

# variant NAME SCRIPT LIBDIR LINE: the whole sequence on a fresh root.
variant() {
  v=$1 cmd=$2 libdir=$3 line=$4
  root=$tmp/root-$v
  mkdir -p "$root/etc" "$root$libdir" "$root/opt"
  touch "$root/opt/other-one.so" "$root/opt/other-two.so"
  p=$root/etc/ld.so.preload
  sh "$cmd" status --root "$root" > /dev/null; rc=$?
  check_rc "$v: status with no file says disabled" 3 $rc

  printf '/opt/other-one.so\n  /opt/other-two.so\n' > "$p"
  chmod 0600 "$p"
  sh "$cmd" enable --root "$root" > "$tmp/out" 2>&1; rc=$?
  check_rc "$v: enable fails while the library is missing" 1 $rc
  check "$v: the failure names the library" grep -q "library is missing" "$tmp/out"
  check "$v: the file is unchanged after the failure" test "$(cat "$p")" = "$(printf '/opt/other-one.so\n  /opt/other-two.so')"

  printf 'not a library\n' > "$root$libdir/libhakmem.so.0"
  sh "$cmd" enable --root "$root" > /dev/null 2>&1; rc=$?
  check_rc "$v: enable refuses a library that does not load" 1 $rc
  check "$v: and leaves the file alone" test "$(cat "$p")" = "$(printf '/opt/other-one.so\n  /opt/other-two.so')"

  cp "$HAK_LIB" "$root$libdir/libhakmem.so.0"
  sh "$cmd" enable --root "$root" > "$tmp/out" 2>&1; rc=$?
  check_rc "$v: enable succeeds" 0 $rc
  check "$v: enable says what it checked" grep -q "checked: /bin/true, sh -c and ls" "$tmp/out"
  check "$v: enable says what it added" grep -qF "enabled: added the line $line" "$tmp/out"
  check "$v: the line is appended and the other lines kept" \
    test "$(cat "$p")" = "$(printf '/opt/other-one.so\n  /opt/other-two.so\n%s' "$line")"
  check "$v: the file keeps its mode" test "$(stat -c %a "$p")" = 600
  cp "$p" "$tmp/after-enable"
  sh "$cmd" enable --root "$root" > "$tmp/out" 2>&1; rc=$?
  check_rc "$v: enable again succeeds" 0 $rc
  check "$v: enable again changes nothing" cmp -s "$p" "$tmp/after-enable"
  check "$v: enable again says so" grep -q "already enabled" "$tmp/out"
  sh "$cmd" status --root "$root" > "$tmp/out"; rc=$?
  check_rc "$v: status says enabled" 0 $rc
  check "$v: status names the line" grep -qF "enabled: $p has the line $line" "$tmp/out"

  sh "$cmd" disable --root "$root" > "$tmp/out" 2>&1; rc=$?
  check_rc "$v: disable succeeds" 0 $rc
  check "$v: disable keeps the other lines exactly" \
    test "$(cat "$p")" = "$(printf '/opt/other-one.so\n  /opt/other-two.so')"
  check "$v: the file still has its mode" test "$(stat -c %a "$p")" = 600
  cp "$p" "$tmp/after-disable"
  sh "$cmd" disable --root "$root" > "$tmp/out" 2>&1; rc=$?
  check_rc "$v: disable again succeeds" 0 $rc
  check "$v: disable again changes nothing" cmp -s "$p" "$tmp/after-disable"
  rm "$root/opt/other-one.so"
  sh "$cmd" status --root "$root" > "$tmp/out"; rc=$?
  check_rc "$v: status names a missing library of another line" 4 $rc
  check "$v: status warns about them" grep -q "names /opt/other-one.so, but .* does not exist" "$tmp/out"

  printf 'no-newline.so' > "$p"
  sh "$cmd" enable --root "$root" > /dev/null 2>&1
  check "$v: a last line without a newline stays a line of its own" \
    test "$(cat "$p")" = "$(printf 'no-newline.so\n%s' "$line")"
  rm -f "$p"
  sh "$cmd" enable --root "$root" > /dev/null 2>&1
  check "$v: enable makes a missing file, mode 644" test "$(stat -c %a "$p")" = 644
  check "$v: which holds only the line" test "$(cat "$p")" = "$line"
  sh "$cmd" disable --root "$root" > /dev/null 2>&1
  check "$v: disable deletes a file that held only the line" test ! -e "$p"
  check "$v: and nothing else is left in etc" test -z "$(ls -A "$root/etc")"

  printf '%s\n' "$line" > "$p"
  rm -f "$root$libdir/libhakmem.so.0"
  sh "$cmd" status --root "$root" > "$tmp/out"; rc=$?
  check_rc "$v: status reports a line whose library is gone" 4 $rc
  printf 'not a library\n' > "$root$libdir/libhakmem.so.0"
  rm -f "$p"
  sh "$cmd" enable --root "$root" --no-test > /dev/null 2>&1; rc=$?
  check_rc "$v: enable --no-test does not run programs" 0 $rc
  rm -rf "$root"
}

# A build for the system directory (the packages' build: --libdir=/usr/lib/<multiarch>) writes
# the $LIB line too.
built_line=$built_libdir/libhakmem.so.0
[ "$built_libdir" != "/usr/$lib_dir" ] || built_line='/usr/$LIB/libhakmem.so.0'
variant built "$top_builddir/tools/hakmem-preload" "$built_libdir" "$built_line"
variant system "$tmp/hakmem-preload-system" "/usr/$lib_dir" '/usr/$LIB/libhakmem.so.0'

cmd=$top_builddir/tools/hakmem-preload
sh "$cmd" > /dev/null 2>&1; rc=$?
check_rc "no command is a usage error" 2 $rc
sh "$cmd" enable --root "$tmp/no-such-dir" > /dev/null 2>&1; rc=$?
check_rc "a --root that does not exist fails" 1 $rc
out=$(sh "$cmd" --version)
check "--version prints the version" sh -c 'printf "%s\n" "$1" | grep -qx "hakmem-preload [0-9][0-9.]*"' sh "$out"
check "--help prints the usage" sh -c 'sh "$1" --help | grep -q "^Usage: hakmem-preload enable|disable|status"' sh "$cmd"
done_testing
