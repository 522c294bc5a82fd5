#!/bin/sh
# Every manual page formats without a warning (groff -man -ww, and man-db's own check, as lintian
# runs it), and "man HAKMEM_NAME" opens hakmem(7) for every variable of the options table.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
command -v groff > /dev/null 2>&1 || skip_all "groff is not installed"

for page in "$srcdir"/man/*.[1-8]; do
  name=${page##*/}
  out=$(groff -man -ww -z "$page" 2>&1)
  if [ $? -eq 0 ] && [ -z "$out" ]; then ok "groff -man -ww -z $name"; else not_ok "groff -man -ww -z $name"; diag "$out"; fi
  if command -v man > /dev/null 2>&1; then
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 > /dev/null)
    if [ -z "$out" ]; then ok "man --warnings $name"; else not_ok "man --warnings $name"; diag "$out"; fi
  fi
done

# The per-variable pages, made as "make install" makes them, in a throwaway manual tree.
names=$($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names) || bail_out "tools/gen-options-man failed"
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/man7"
cp "$srcdir/man/hakmem.7" "$tmp/man7/"
for n in $names; do printf '.so man7/hakmem.7\n' > "$tmp/man7/$n.7"; done
for n in $names; do
  out=$(cd "$tmp" && soelim "man7/$n.7" | groff -man -ww -z 2>&1)
  if [ -z "$out" ] && grep -q "^\.B $n\$" "$tmp/man7/hakmem.7"; then
    ok "$n.7 is a clean link to a page that describes $n"
  else
    not_ok "$n.7 is a clean link to a page that describes $n"
    diag "$out"
  fi
  if command -v man > /dev/null 2>&1; then
    check "man $n opens hakmem(7)" sh -c \
      'MANPATH="$1" MANWIDTH=80 man "$2" 2> /dev/null | grep -q "HAKMEM(7)"' sh "$tmp" "$n"
  fi
done
done_testing
