#!/bin/sh
# make-rpm.sh TARBALL OUTDIR: builds the hakmem RPM packages from the dist tarball with rpmbuild,
# in a temporary top directory; the binary and source RPMs land in OUTDIR.  On a system that is
# not RPM-based (Debian's rpm package), the build dependencies cannot be checked (--nodeps) and no
# debuginfo package is made.
set -eu
tarball=$1 out=$2
[ -f "$tarball" ] || { echo "make-rpm.sh: no $tarball" >&2; exit 1; }
command -v rpmbuild > /dev/null 2>&1 || { echo "make-rpm.sh: rpmbuild is missing (apt-get install rpm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/SOURCES"
cp "$tarball" "$tmp/SOURCES/"
tar -xzf "$tarball" -O --wildcards '*/rpm/hakmem.spec' > "$tmp/hakmem.spec"
extra=
if ! rpm -q rpm > /dev/null 2>&1; then
  extra="--nodeps --define debug_package\ %{nil}"
fi
# shellcheck disable=SC2086
eval rpmbuild -ba --define "'_topdir $tmp'" --define "'_smp_mflags -j2'" $extra ${RPMBUILD_FLAGS:-} "$tmp/hakmem.spec"
mkdir -p "$out"
rm -f "$out"/*.rpm
find "$tmp/RPMS" "$tmp/SRPMS" -name '*.rpm' -exec cp {} "$out/" \;
ls -1 "$out"
