#!/bin/sh
# make-deb.sh TARBALL DEBIAN OUTDIR: builds the Debian packages of hakmem from the dist tarball,
# in a temporary directory, as a 3.0 (quilt) source package whose upstream tarball is TARBALL and
# whose packaging is the directory DEBIAN; the .deb, .dsc, .changes and the rest land in OUTDIR.
set -eu
tarball=$1 debian=$2 out=$3
[ -f "$tarball" ] || { echo "make-deb.sh: no $tarball" >&2; exit 1; }
for tool in dpkg-buildpackage dh; do
  command -v $tool > /dev/null 2>&1 || { echo "make-deb.sh: $tool is missing (apt-get install dpkg-dev debhelper)" >&2; exit 1; }
done
base=$(basename "$tarball" .tar.gz)          # hakmem-0.1.0
name=${base%-*} version=${base##*-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$tarball" "$tmp/${name}_$version.orig.tar.gz"
tar -xzf "$tarball" -C "$tmp"
[ -f "$debian/control" ] || { echo "make-deb.sh: $debian is not a debian/ directory" >&2; exit 1; }
rm -rf "$tmp/$base/debian"
cp -R "$debian" "$tmp/$base/debian"
# Not root: fakeroot, where it is there, for the few steps that need it.
root=
[ "$(id -u)" = 0 ] || ! command -v fakeroot > /dev/null 2>&1 || root=-rfakeroot
(cd "$tmp/$base" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}" dpkg-buildpackage -us -uc $root)
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.dsc "$out"/*.changes "$out"/*.buildinfo "$out"/*.tar.*
for f in "$tmp"/*; do [ -f "$f" ] && cp "$f" "$out/"; done
ls -1 "$out"
