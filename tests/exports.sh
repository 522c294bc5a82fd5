#!/bin/sh
# libhakmem.so exports exactly the malloc family and the hakmem_* API of include/hakmem.h:
# nothing internal (hak_*), nothing from the C library, nothing missing.  src/hakmem.sym, the
# list the linker is given, must say the same.
: "${top_srcdir:=..}"
. "$top_srcdir/tests/tap.sh"

[ -n "$HAK_LIB" ] && [ -f "$HAK_LIB" ] || skip_all "no shared library was built"

# $NM comes from configure (the cross nm for cross builds); plain nm reads any ELF too.
nm_cmd=${NM:-nm}
set -- $nm_cmd
command -v "$1" >/dev/null 2>&1 || nm_cmd=nm

plan 6

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

family="malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
pvalloc malloc_usable_size free_sized free_aligned_sized mallopt malloc_trim mallinfo mallinfo2
malloc_stats malloc_info"
{
  printf '%s\n' $family
  sed -n 's/.*[^a-z_]\(hakmem_[a-z0-9_]*\)(.*/\1/p' "$top_srcdir/include/hakmem.h"
} | sort -u >"$tmp/expected"

$nm_cmd -D --defined-only "$HAK_LIB" >"$tmp/nm" 2>"$tmp/nm.err"
status=$?
# "address type name", names perhaps versioned (name@@VERSION); version nodes (type A) are not
# symbols of the API.
awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/actual"
[ $status -eq 0 ] && [ -s "$tmp/actual" ]
ok $? "$nm_cmd -D --defined-only reads $(basename "$HAK_LIB")"
[ $status -eq 0 ] || diag "$(cat "$tmp/nm.err")"

extra=$(comm -13 "$tmp/expected" "$tmp/actual")
[ -z "$extra" ]
ok $? "nothing beyond the malloc family and the hakmem_* API is exported"
[ -z "$extra" ] || diag "unexpected exports:" $extra

missing=$(comm -23 "$tmp/expected" "$tmp/actual")
[ -z "$missing" ]
ok $? "every function of the malloc family and of include/hakmem.h is exported"
[ -z "$missing" ] || diag "missing exports:" $missing

notfunc=$(awk 'NF >= 3 && $2 != "A" && $2 != "T" && $2 != "W" && $2 != "i" { print $3 " (" $2 ")" }' "$tmp/nm")
[ -z "$notfunc" ]
ok $? "every export is a function (no data symbols)"
[ -z "$notfunc" ] || diag "not functions:" "$notfunc"

sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top_srcdir/src/hakmem.sym" | sort -u >"$tmp/sym"
cmp -s "$tmp/sym" "$tmp/expected"
ok $? "src/hakmem.sym lists exactly the same names"
cmp -s "$tmp/sym" "$tmp/expected" || diag "$(diff "$tmp/expected" "$tmp/sym")"

[ "$(basename "$HAK_LIB")" = libhakmem.so.0 ]
ok $? "the SONAME is libhakmem.so.0 (got $(basename "$HAK_LIB"))"

tap_done
