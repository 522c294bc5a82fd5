#!/bin/sh
# The ENVIRONMENT entries of the committed man/hakmem.7 are exactly what tools/gen-options-man
# makes from the options table (src/options.h).  When this fails, run "make update-man".
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
tmp=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

check "tools/gen-options-man prints the entries" \
  sh -c '$1 "$2/tools/gen-options-man" > "$3/table.roff"' sh "$HAK_EMULATOR" "$top_builddir" "$tmp"
check "man/hakmem.7 has the OPTIONS markers" \
  sh -c 'sh "$1/tools/options-man.sh" extract "$1/man/hakmem.7" > "$2/page.roff"' sh "$srcdir" "$tmp"
if diff -u "$tmp/page.roff" "$tmp/table.roff" > "$tmp/diff"; then
  ok "man/hakmem.7 and the options table agree"
else
  not_ok "man/hakmem.7 and the options table agree"
  diag "man/hakmem.7 differs from src/options.h; run \"make update-man\" and commit man/hakmem.7:"
  diag "$(cat "$tmp/diff")"
fi
for n in $($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names); do
  check "hakmem(7) describes $n" grep -q "^\.B $n\$" "$srcdir/man/hakmem.7"
done
done_testing
