#!/bin/sh
# Every HAKMEM_* name that the code (src/*.c, src/*.h) or a manual page mentions is a row of the
# options table, or one of the public macros of include/hakmem.h (HAKMEM_VERSION...), which are
# not environment variables.  HAKMEM_NAME stands for any of them in comments and text.
. "${srcdir:-$(dirname "$0")/../..}/tests/install/tap-lib.sh"
table=$($HAK_EMULATOR "$top_builddir/tools/gen-options-man" --names) || bail_out "tools/gen-options-man failed"
macros=$(sed -n 's/^#[[:space:]]*define[[:space:]]\{1,\}\(HAKMEM_[A-Z0-9_]*\).*/\1/p' "$srcdir/include/hakmem.h")
check "the options table has rows" test -n "$table"
used=$(cat "$srcdir"/src/*.c "$srcdir"/src/*.h "$srcdir"/man/*.[1-8] | grep -oE 'HAKMEM_[A-Z0-9_]*[A-Z0-9]' | sort -u)
for n in $used; do
  if [ "$n" = HAKMEM_NAME ]; then
    ok "$n is the placeholder for a name"
  elif printf '%s\n' $table | grep -qx "$n"; then
    ok "$n is in the options table"
  elif printf '%s\n' $macros | grep -qx "$n"; then
    ok "$n is a macro of include/hakmem.h"
  else
    not_ok "$n is mentioned but is not in the options table (src/options.h)"
    diag "$(cd "$srcdir" && grep -n "$n" src/*.c src/*.h man/*.[1-8])"
  fi
done
done_testing
