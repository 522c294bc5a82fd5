#!/bin/sh
# The .deb packages: their fields and files, then a real "dpkg -i" into a throwaway root (a
# chroot into an overlay of / on a tmpfs, in a private mount namespace; the machine's own dpkg
# database and /etc are never touched): programs run under the installed library, a program
# builds against it, hakmem-preload works, and removal and purge take the preload line out.
# Run by "make check-packages".
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_PKG_DIR:=build-packages}"
pkgdir=$(cd "$HAK_PKG_DIR/deb" 2> /dev/null && pwd) || skip_all "no $HAK_PKG_DIR/deb; run make deb"
ls "$pkgdir"/*.deb > /dev/null 2>&1 || skip_all "no .deb packages in $pkgdir"
command -v dpkg-deb > /dev/null 2>&1 || skip_all "dpkg-deb is not installed"
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2> /dev/null) || skip_all "dpkg-architecture is missing"
deb() { ls "$pkgdir/$1"_*.deb; }

field() { dpkg-deb -f "$(deb "$1")" "$2"; }
check "libhakmem0 is Multi-Arch: same" test "$(field libhakmem0 Multi-Arch)" = same
check "libhakmem0 is in section libs" test "$(field libhakmem0 Section)" = libs
check "libhakmem-dev is Multi-Arch: same" test "$(field libhakmem-dev Multi-Arch)" = same
check "libhakmem-dev depends on the same libhakmem0" \
  sh -c 'dpkg-deb -f "$1" Depends | grep -q "libhakmem0 (= $2)"' sh "$(deb libhakmem-dev)" "$(field libhakmem0 Version)"
check "libhakmem0 has a symbols file" sh -c 'dpkg-deb --ctrl-tarfile "$1" | tar -t | grep -q symbols' sh "$(deb libhakmem0)"

has() { dpkg-deb -c "$(deb "$1")" | awk '{ print $6 }' | sed 's|^\.||' | grep -qx "$2"; }
for f in "/usr/lib/$ma/libhakmem.so.0" "/usr/lib/$ma/libhakmem.so.0.0.0"; do
  check "libhakmem0 has $f" has libhakmem0 "$f"
done
for f in /usr/include/hakmem.h "/usr/lib/$ma/libhakmem.so" "/usr/lib/$ma/libhakmem.a" \
  "/usr/lib/$ma/pkgconfig/hakmem.pc" /usr/share/man/man3/hakmem.3.gz; do
  check "libhakmem-dev has $f" has libhakmem-dev "$f"
done
for f in /usr/bin/hakmem /usr/sbin/hakmem-preload /usr/share/man/man1/hakmem.1.gz \
  /usr/share/man/man7/hakmem.7.gz /usr/share/man/man8/hakmem-preload.8.gz; do
  check "hakmem has $f" has hakmem "$f"
done
names=$($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names)
for n in $names; do
  check "hakmem has the page $n(7)" has hakmem "/usr/share/man/man7/$n.7.gz"
done
check "no package ships /etc/ld.so.preload" \
  sh -c '! for d in "$1"/*.deb; do dpkg-deb -c "$d"; done | grep -q "ld.so.preload"' sh "$pkgdir"

# The throwaway root.
[ "$(id -u)" = 0 ] || { ok "# SKIP installing needs root"; done_testing; }
command -v unshare > /dev/null 2>&1 || { ok "# SKIP unshare is not installed"; done_testing; }
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/inside.sh" <<'INSIDE'
set -u
tmp=$1 pkgdir=$2
mount -t tmpfs hakmem-test "$tmp" 2> /dev/null || { echo "SKIP tmpfs"; exit 0; }
mkdir -p "$tmp/up" "$tmp/work" "$tmp/root"
mount -t overlay hakmem-test -o "lowerdir=/,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/root" \
  2> /dev/null || { echo "SKIP overlay"; exit 0; }
for d in proc dev sys; do mount --rbind "/$d" "$tmp/root/$d" || exit 1; done
mkdir -p "$tmp/root/tmp/hakmem-debs" && cp "$pkgdir"/*.deb "$tmp/root/tmp/hakmem-debs/" || exit 1
r() { chroot "$tmp/root" /usr/bin/env -u LD_PRELOAD PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c "$1"; }
t() { if r "$2" > "$tmp/out" 2>&1; then echo "ok - $1"; else echo "not ok - $1"; sed 's/^/# /' "$tmp/out"; fi; }
# The root starts as a copy of the machine: without its hakmem, if it has one installed or enabled.
rm -f "$tmp/root/etc/ld.so.preload"
r 'dpkg --purge hakmem libhakmem-dev libhakmem0' > /dev/null 2>&1
t "dpkg -i installs the three packages" 'cd /tmp/hakmem-debs && dpkg -i libhakmem0_*.deb libhakmem-dev_*.deb hakmem_*.deb'
t "they are installed" 'for p in libhakmem0 libhakmem-dev hakmem; do dpkg -s $p | grep -q "^Status: install ok installed"; done'
t "installing left /etc/ld.so.preload alone" 'test ! -e /etc/ld.so.preload'
t "hakmem runs cat with the installed library" 'hakmem cat /proc/self/maps | grep -q "/usr/lib/.*/libhakmem.so"'
t "hakmem runs python3 with it" 'command -v python3 > /dev/null || exit 0; test "$(hakmem python3 -c "print(sum(range(10**6)))")" = 499999500000'
t "hakmem passes the exit status through" 'hakmem sh -c "exit 7"; test $? = 7'
t "a program builds with pkg-config and runs" 'cd /tmp && printf "#include <hakmem.h>\n#include <stdio.h>\nint main(void){void*p=hakmem_malloc(10);puts(hakmem_version());hakmem_free(p);return 0;}\n" > p.c && cc -o p p.c $(pkg-config --cflags --libs hakmem) && test "$(./p)" = "$(pkg-config --modversion hakmem)"'
t "man HAKMEM_* opens hakmem(7)" 'command -v man > /dev/null || exit 0; n=$(zcat /usr/share/man/man7/hakmem.7.gz | sed -n "s/^\.B \(HAKMEM_[A-Z0-9_]*\)$/\1/p" | head -n 1); MANWIDTH=80 man "$n" 2>/dev/null | grep -q "HAKMEM(7)"'
t "hakmem-preload enable works" 'hakmem-preload enable && grep -qxF "/usr/\$LIB/libhakmem.so.0" /etc/ld.so.preload'
t "then every program has hakmem loaded" 'grep -q /libhakmem /proc/self/maps && cat /proc/self/maps | grep -q /libhakmem'
t "hakmem-preload status says enabled" 'hakmem-preload status'
t "purging the hakmem package takes the line out" 'dpkg --purge hakmem && test ! -e /etc/ld.so.preload'
t "and programs run without hakmem" '! cat /proc/self/maps | grep -q /libhakmem'
t "reinstall, add another line and enable" 'dpkg -i /tmp/hakmem-debs/hakmem_*.deb && cp "$(ls /usr/lib/*/libm.so.6 /usr/lib64/libm.so.6 2> /dev/null | head -n 1)" /usr/lib/other-preload.so && echo /usr/lib/other-preload.so > /etc/ld.so.preload && hakmem-preload enable'
t "removing the library takes the line out and keeps the other" 'dpkg -r hakmem libhakmem-dev libhakmem0 && test "$(cat /etc/ld.so.preload)" = /usr/lib/other-preload.so'
t "the library is gone" 'test ! -e /usr/lib/*/libhakmem.so.0'
INSIDE
unshare -m --propagation private sh "$tmp/inside.sh" "$tmp" "$pkgdir" > "$tmp/../hakmem-pkg-deb.$$" 2>&1
out=$(cat "$tmp/../hakmem-pkg-deb.$$"); rm -f "$tmp/../hakmem-pkg-deb.$$"
case $out in
  SKIP*) ok "# SKIP cannot make a throwaway root here: $out" ;;
  *)
    printf '%s\n' "$out" | while IFS= read -r l; do
      case $l in
        "ok - "*) echo "$l" ;;
        "not ok - "*) echo "$l" ;;
        *) echo "# $l" ;;
      esac
    done
    hak_n=$((hak_n + $(printf '%s\n' "$out" | grep -c '^\(not \)\{0,1\}ok - ')))
    printf '%s\n' "$out" | grep -q '^not ok' && hak_failed=1 ;;
esac
done_testing
