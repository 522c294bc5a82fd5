#!/bin/sh
# The RPM packages: their files and scriptlets, an install into a temporary root with
# "rpm --root --nodeps" (its own database there), a program run under the library installed
# there, the %preun/%postun scriptlets run on /etc/ld.so.preload inside a private mount namespace,
# and an erase.  Run by "make check-packages".
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_PKG_DIR:=build-packages}"
pkgdir=$(cd "$HAK_PKG_DIR/rpm" 2> /dev/null && pwd) || skip_all "no $HAK_PKG_DIR/rpm; run make rpm"
command -v rpm > /dev/null 2>&1 || skip_all "rpm is not installed"
main=$(ls "$pkgdir"/hakmem-[0-9]*.rpm 2> /dev/null | grep -v '\.src\.rpm$' | head -n 1)
devel=$(ls "$pkgdir"/hakmem-devel-[0-9]*.rpm 2> /dev/null | head -n 1)
[ -n "$main" ] && [ -n "$devel" ] || skip_all "no hakmem and hakmem-devel packages in $pkgdir"
libdir=$(rpm -qp --qf '[%{FILENAMES}\n]' "$main" | sed -n 's|/libhakmem\.so\.0$||p')
check "hakmem has the library in a lib directory" test -n "$libdir"

# has RPM PATH: the package has PATH (a manual page, compressed or not, as the system's rpm does it).
has() {
  case $2 in
    /usr/share/man/*) rpm -qpl "$1" | grep -qxF -e "$2" -e "$2.gz" ;;
    *) rpm -qpl "$1" | grep -qxF "$2" ;;
  esac
}
for f in "$libdir/libhakmem.so.0" /usr/bin/hakmem /usr/sbin/hakmem-preload \
  /usr/share/man/man1/hakmem.1 /usr/share/man/man7/hakmem.7 \
  /usr/share/man/man8/hakmem-preload.8; do
  check "hakmem has $f" has "$main" "$f"
done
for n in $($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names); do
  check "hakmem has the page $n(7)" has "$main" "/usr/share/man/man7/$n.7"
done
for f in /usr/include/hakmem.h "$libdir/libhakmem.so" "$libdir/libhakmem.a" \
  "$libdir/pkgconfig/hakmem.pc" /usr/share/man/man3/hakmem.3; do
  check "hakmem-devel has $f" has "$devel" "$f"
done
check "hakmem-devel requires the same hakmem" \
  sh -c 'rpm -qp --requires "$1" | grep -q "^hakmem(.*) = "' sh "$devel"
check "no package ships /etc/ld.so.preload" sh -c '! rpm -qpl "$@" | grep -q ld.so.preload' sh "$main" "$devel"
preun=$(rpm -qp --qf '%{PREUN}' "$main")
postun=$(rpm -qp --qf '%{POSTUN}' "$main")
check "hakmem has a %preun scriptlet for /etc/ld.so.preload" sh -c 'printf "%s" "$1" | grep -q ld.so.preload' sh "$preun"
check "hakmem has a %postun scriptlet for /etc/ld.so.preload" sh -c 'printf "%s" "$1" | grep -q ld.so.preload' sh "$postun"

tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"
rpm --root "$root" --dbpath /var/lib/rpm --initdb 2> /dev/null
check "rpm --root --nodeps installs both packages" \
  sh -c 'rpm --root "$1" --dbpath /var/lib/rpm --nodeps -i "$2" "$3" 2> "$4/err"' sh "$root" "$main" "$devel" "$tmp"
check "rpm -q finds them in that root" \
  sh -c 'rpm --root "$1" --dbpath /var/lib/rpm -q hakmem hakmem-devel > /dev/null' sh "$root"
for f in "$libdir/libhakmem.so.0" /usr/bin/hakmem /usr/sbin/hakmem-preload /usr/include/hakmem.h \
  "$libdir/pkgconfig/hakmem.pc"; do
  check "$f is installed in the root" test -e "$root$f"
done
check "hakmem(7) is installed in the root" sh -c 'ls "$1"/usr/share/man/man7/hakmem.7* > /dev/null' sh "$root"
check "the installed launcher runs a program with the installed library" sh -c \
  '"$1/usr/bin/hakmem" --library "$1$2/libhakmem.so.0" cat /proc/self/maps | grep -q "$1$2/libhakmem"' \
  sh "$root" "$libdir"
check "the installed launcher names $libdir/libhakmem.so.0" \
  grep -qF "library='$libdir/libhakmem.so.0'" "$root/usr/bin/hakmem"

# The scriptlets, on a throwaway /etc: $1 is 0 for an erase, 1 for an upgrade.
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2> /dev/null; then
  printf '%s\n' "$preun" > "$tmp/preun"
  printf '%s\n' "$postun" > "$tmp/postun"
  unshare -m --propagation private sh -c '
    mkdir -p "$1/m" && mount -t tmpfs hakmem-test "$1/m" && mkdir "$1/m/u" "$1/m/w" &&
      mount -t overlay hakmem-test -o "lowerdir=/etc,upperdir=$1/m/u,workdir=$1/m/w" /etc || exit 3
    line="/usr/\$LIB/libhakmem.so.0"
    for s in preun postun; do
      printf "/usr/lib/other.so\n%s\n" "$line" > /etc/ld.so.preload
      sh "$1/$s" 1 2> /dev/null
      grep -qxF "$line" /etc/ld.so.preload && echo "ok - %$s on upgrade keeps the line" || echo "not ok - %$s on upgrade keeps the line"
      sh "$1/$s" 0 2> /dev/null
      test "$(cat /etc/ld.so.preload)" = /usr/lib/other.so && echo "ok - %$s on erase removes only the line" || echo "not ok - %$s on erase removes only the line"
      printf "%s\n" "$line" > /etc/ld.so.preload
      sh "$1/$s" 0 2> /dev/null
      test ! -e /etc/ld.so.preload && echo "ok - %$s on erase deletes a file that held only the line" || echo "not ok - %$s on erase deletes a file that held only the line"
    done' sh "$tmp" > "$tmp/scriptlets" 2> /dev/null
  if [ $? = 3 ]; then
    ok "# SKIP cannot mount an overlay on /etc"
  else
    cat "$tmp/scriptlets"
    hak_n=$((hak_n + $(grep -c '^\(not \)\{0,1\}ok - ' "$tmp/scriptlets")))
    ! grep -q '^not ok' "$tmp/scriptlets" || hak_failed=1
  fi
else
  ok "# SKIP the scriptlets need root and a mount namespace"
fi

check "rpm -e removes both packages from the root" \
  rpm --root "$root" --dbpath /var/lib/rpm --nodeps --noscripts -e hakmem-devel hakmem
check "no file of theirs is left" sh -c '! find "$1/usr" \( -type f -o -type l \) | grep -q .' sh "$root"
done_testing
