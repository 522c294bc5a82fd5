#!/bin/sh
# make check-cross (cross.mk): builds hakmem for another CPU (aarch64 by default) in a directory
# of its own, then runs its whole "make check" once per page size under the emulator that
# configure found (qemu-user), and prints the summary of each run.
#
# The page size the guest sees comes from QEMU_PAGESIZE (qemu-user's -p): "default" is the
# host's own.  HAK_TEST_PAGESIZE tells tests/cross/test_pagesize which size to expect.
#
# Environment (set by cross.mk): srcdir, builddir (absolute), build (triplet), host, dir,
# pages, configure_flags, MAKE.

: "${srcdir:?}" "${builddir:?}" "${build:?}" "${host:?}" "${dir:?}"
: "${pages:=default 16384 65536}" "${MAKE:=make}" "${configure_flags=}"

say() { printf '%s\n' "check-cross: $*"; }
die() { say "$*" >&2; exit 1; }

mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)

# A source tree configured in place cannot also serve a VPATH build (configure refuses, and make
# would find the host's objects through VPATH), so the cross build then gets a copy of the
# sources: what git tracks or would track, plus the files autoreconf made.  The copy keeps the
# times of the originals, so that a second run rebuilds only what changed.
if test -f "$srcdir/config.status"; then
  src=$dir/src
  mkdir -p "$src" || die "cannot create $src"
  if git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    say "copying the sources of $srcdir to $src"
    rel=
    case $dir/ in "$srcdir"/*) rel=${dir#"$srcdir"/}/ ;; esac
    (cd "$srcdir" && {
      git ls-files -c -o --exclude-standard
      for f in configure Makefile.in aclocal.m4 config.h.in build-aux m4; do
        test -e "$f" && echo "$f"
      done
    } | while IFS= read -r f; do
      if test -n "$rel"; then case $f in "$rel"*) continue ;; esac; fi
      test -e "$f" && printf '%s\n' "$f"
    done | tar -cf - -T -) | (cd "$src" && tar -xf -) || die "copying the sources failed"
  else
    say "making a distribution tree of $srcdir in $src"
    rm -rf "$src"
    (cd "$builddir" && $MAKE distdir distdir="$src") || die "make distdir failed"
  fi
else
  src=$srcdir
fi

obj=$dir/build
mkdir -p "$obj" || die "cannot create $obj"
if ! test -f "$obj/Makefile"; then
  say "configuring for $host in $obj"
  # shellcheck disable=SC2086 # configure_flags is a list of words
  (cd "$obj" && "$src/configure" --build="$build" --host="$host" $configure_flags) ||
    die "configure failed (see $obj/config.log); is the cross compiler for $host installed?"
fi
emulator=$(sed -n 's/^HAK_EMULATOR = //p' "$obj/Makefile")
test -n "$emulator" || die "no emulator for $host: install qemu-user, or set HAK_EMULATOR"
say "building in $obj; test programs run as: $emulator prog"
(cd "$obj" && $MAKE) || die "the $host build failed"

host_page=$(getconf PAGESIZE 2>/dev/null || echo '?')
status=0
for page in $pages; do
  case $page in
    default) label="default pages ($host_page bytes)" ;;
    *) label="$page-byte pages (QEMU_PAGESIZE=$page)" ;;
  esac
  say "==== make check, $host, $label ===="
  rm -f "$obj/test-suite.log"
  (
    if test "$page" = default; then
      unset QEMU_PAGESIZE HAK_TEST_PAGESIZE
    else
      QEMU_PAGESIZE=$page HAK_TEST_PAGESIZE=$page
      export QEMU_PAGESIZE HAK_TEST_PAGESIZE
    fi
    cd "$obj" && $MAKE check
  ) || status=1
  if test -f "$obj/test-suite.log"; then
    cp "$obj/test-suite.log" "$dir/test-suite-$page.log"
  else
    printf '# ERROR: 1 (no test-suite.log)\n' >"$dir/test-suite-$page.log"
  fi
done

say "==== summary ($host; logs in $dir/test-suite-*.log) ===="
for page in $pages; do
  sums=$(sed -n 's/^# \([A-Z]*\): *\([0-9]*\)$/\1 \2/p' "$dir/test-suite-$page.log" | tr '\n' ' ')
  printf '  %-8s %s\n' "$page:" "$sums"
done
test $status = 0 && say "all runs passed" || say "some runs FAILED"
exit $status
