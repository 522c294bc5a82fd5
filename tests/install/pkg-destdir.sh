#!/bin/sh
# "make install DESTDIR=..." of the dist tarball, configured as the packages configure it, puts
# every file where the packages have it; pkg-config gives a compile line that works against that
# tree; "make uninstall" takes everything away again.  Run by "make check-packages".
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
: "${HAK_PKG_DIR:=build-packages}" "${HAK_TARBALL:?}" "${MAKE:=make}"
tarball=$(cd "$(dirname "$HAK_TARBALL")" && pwd)/$(basename "$HAK_TARBALL")
pkgdir=$(cd "$HAK_PKG_DIR" && pwd)
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tarball" -C "$tmp" || bail_out "cannot unpack $tarball"
src=$(echo "$tmp"/hakmem-*)

# build LIBDIR DESTDIR: configure with the packages' directories, build, install.
build() {
  rm -rf "$tmp/build" && mkdir "$tmp/build" &&
    (cd "$tmp/build" && "$src/configure" --prefix=/usr --libdir="$1" --sysconfdir=/etc \
      --mandir=/usr/share/man > /dev/null && $MAKE -j2 > /dev/null 2>&1 &&
      $MAKE install DESTDIR="$2" > /dev/null 2>&1)
}
# files DIR: the files and links under DIR, as paths from /, man pages without .gz, no .la.
files() {
  (cd "$1" && find . \( -type f -o -type l \) | sed -e 's|^\.||' -e 's|\(/man/.*\)\.gz$|\1|' |
    grep -v '\.la$' | grep -v -e '^/usr/share/doc/' -e '^/usr/lib/debug/' -e '^/usr/share/lintian/' | sort)
}

if command -v dpkg-architecture > /dev/null 2>&1 && ls "$pkgdir"/deb/*.deb > /dev/null 2>&1; then
  ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  dest=$tmp/dest-deb
  check "configure, make and make install DESTDIR= with the Debian directories" build "/usr/lib/$ma" "$dest"
  mkdir "$tmp/debs"
  for d in "$pkgdir"/deb/*.deb; do dpkg-deb -x "$d" "$tmp/debs"; done
  files "$dest" > "$tmp/installed"
  files "$tmp/debs" > "$tmp/packaged"
  if diff -u "$tmp/packaged" "$tmp/installed" > "$tmp/diff"; then
    ok "make install puts every file where the .deb packages have it"
  else
    not_ok "make install puts every file where the .deb packages have it"
    diag "$(cat "$tmp/diff")"
  fi
  check "the installed launcher names the installed library" \
    grep -qF "library='/usr/lib/$ma/libhakmem.so.0'" "$dest/usr/bin/hakmem"
  check "the installed launcher runs a program with that library" \
    sh -c '"$1/usr/bin/hakmem" --library "$1/usr/lib/$2/libhakmem.so.0" cat /proc/self/maps | grep -qF "$1/usr/lib/$2/libhakmem"' \
    sh "$dest" "$ma"

  pc() { PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/$ma/pkgconfig pkg-config "$@"; }
  check "pkg-config knows hakmem" pc --exists hakmem
  flags=$(pc --cflags --libs hakmem)
  flags=$(echo $flags)
  check "pkg-config --cflags --libs hakmem points into the tree" \
    test "$flags" = "-I$dest/usr/include -L$dest/usr/lib/$ma -lhakmem"
  cat > "$tmp/prog.c" <<'C'
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
  char *p = malloc(100), *q = hakmem_malloc(1000);
  if (!p || !q || hakmem_usable_size(q) < 1000) return 1;
  strcpy(p, "hakmem");
  printf("%s %s\n", p, hakmem_version());
  free(p);
  hakmem_free(q);
  return strcmp(hakmem_version(), HAKMEM_VERSION) != 0;
}
C
  # shellcheck disable=SC2086
  check "a program compiles and links with that line" \
    ${CC:-cc} -o "$tmp/prog" "$tmp/prog.c" $flags
  # A hakmem that the machine preloads would answer for the one in the tree.
  out=$(no_system_preload env LD_LIBRARY_PATH="$dest/usr/lib/$ma" "$tmp/prog"); rc=$?
  if [ $rc = 77 ]; then
    ok "# SKIP the machine preloads libraries and no mount namespace can leave them out here"
    ok "# SKIP the same"
  else
    check "it runs with the installed library" test "$out" = "hakmem $(pc --modversion hakmem)"
    no_system_preload env LD_LIBRARY_PATH="$dest/usr/lib/$ma" LD_PRELOAD= ldd "$tmp/prog" > "$tmp/ldd"
    check "its malloc is hakmem's" grep -qF "libhakmem.so.0 => $dest/usr/lib/$ma/libhakmem.so.0" "$tmp/ldd"
  fi
  if command -v man > /dev/null 2>&1; then
    check "man HAKMEM_* opens hakmem(7) in the tree" \
      sh -c 'MANPATH="$1" MANWIDTH=80 man "$($2 --names | head -n 1)" 2> /dev/null | grep -q "HAKMEM(7)"' \
      sh "$dest/usr/share/man" "$tmp/build/tools/gen-options-man"
  fi
  (cd "$tmp/build" && $MAKE uninstall DESTDIR="$dest" > /dev/null 2>&1)
  check "make uninstall DESTDIR= removes every file" test -z "$(files "$dest")"
else
  ok "# SKIP no .deb packages or no dpkg-architecture"
fi

if ls "$pkgdir"/rpm/*.x86_64.rpm "$pkgdir"/rpm/*.aarch64.rpm > /dev/null 2>&1 ||
   ls "$pkgdir"/rpm/hakmem-[0-9]*.rpm > /dev/null 2>&1; then
  libdir=$(rpm --eval '%{_libdir}')
  dest=$tmp/dest-rpm
  check "configure, make and make install DESTDIR= with the RPM directories" build "$libdir" "$dest"
  mkdir "$tmp/rpms"
  for r in "$pkgdir"/rpm/*.rpm; do
    case $r in *.src.rpm) continue ;; esac
    (cd "$tmp/rpms" && rpm2cpio "$r" | cpio -idm --quiet)
  done
  files "$dest" > "$tmp/installed"
  files "$tmp/rpms" | grep -v '^/usr/lib/\.build-id/' > "$tmp/packaged"
  if diff -u "$tmp/packaged" "$tmp/installed" > "$tmp/diff"; then
    ok "make install puts every file where the RPM packages have it"
  else
    not_ok "make install puts every file where the RPM packages have it"
    diag "$(cat "$tmp/diff")"
  fi
else
  ok "# SKIP no RPM packages"
fi
done_testing
