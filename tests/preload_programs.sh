#!/bin/sh
# LD_PRELOAD of the built library into real programs: python3, perl, sqlite3 and git each run a
# workload with and without hakmem preloaded; the output and the exit status must be the same,
# and neither the loader nor hakmem may complain.  A probe program of ours (not linked with
# hakmem) checks that the preload really loads the library.  For cross builds the host's
# programs cannot load the target's library: only the probe runs, under $HAK_EMULATOR -E.
# The machine may preload a hakmem of its own (hakmem-preload enable), into the runs without
# LD_PRELOAD too: the checks look for this build's library file, not for any libhakmem.
: "${top_srcdir:=..}" "${top_builddir:=.}"
. "$top_srcdir/tests/tap.sh"

[ -n "$HAK_LIB" ] && [ -f "$HAK_LIB" ] || skip_all "no shared library was built"
probe="$top_builddir/tests/test_preload_probe$EXEEXT"
[ -x "$probe" ] || skip_all "tests/test_preload_probe was not built"

plan 13

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-preload.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
# The file the loader maps for $HAK_LIB (a link to it), as /proc/PID/maps names it.
ours=$(readlink -f "$HAK_LIB")

# The probe, under the emulator when there is one (qemu's -E sets the guest's environment).
run_probe() { # run_probe plain|preload OUT
  if [ -z "$HAK_EMULATOR" ]; then
    if [ "$1" = preload ]; then env LD_PRELOAD="$HAK_LIB" "$probe"; else "$probe"; fi
  else
    if [ "$1" = preload ]; then $HAK_EMULATOR -E LD_PRELOAD="$HAK_LIB" "$probe"; else $HAK_EMULATOR "$probe"; fi
  fi >"$2" 2>"$2.err"
}

run_probe plain "$tmp/probe.plain"
plain_status=$?
run_probe preload "$tmp/probe.pre"
pre_status=$?
sed -n 's/^libhakmem mapped: //p' "$tmp/probe.plain" | grep -v -x none >"$tmp/probe.system"
if grep -qxF "$ours" "$tmp/probe.system"; then
  skip "the machine preloads this build's library itself"
else
  grep -qxF "libhakmem mapped: $ours" "$tmp/probe.pre"
  ok $? "the probe has this build's library mapped with LD_PRELOAD, and only then"
fi
[ -s "$tmp/probe.system" ] && diag "without LD_PRELOAD, the machine's preload maps:" "$(cat "$tmp/probe.system")"
grep -v '^libhakmem mapped' "$tmp/probe.plain" >"$tmp/probe.plain.rest"
grep -v '^libhakmem mapped' "$tmp/probe.pre" >"$tmp/probe.pre.rest"
[ $plain_status -eq 0 ] && [ $pre_status -eq 0 ] && cmp -s "$tmp/probe.plain.rest" "$tmp/probe.pre.rest"
ok $? "the probe computes the same checksum and exits 0 with and without hakmem"
[ $pre_status -eq 0 ] || diag "status $pre_status" "$(cat "$tmp/probe.pre.err")"

if [ -n "$HAK_EMULATOR" ]; then
  why="cross build: host programs cannot load the target's libhakmem"
  for i in 1 2 3 4 5 6 7 8 9 10 11; do skip "$why"; done
  tap_done
fi

env LD_PRELOAD="$HAK_LIB" cat /proc/self/maps >"$tmp/maps" 2>&1
grep -qF "$ours" "$tmp/maps"
ok $? "cat /proc/self/maps under LD_PRELOAD shows this build's library mapped"

# same NAME CMD...: runs CMD without and with the preload; compares stdout and exit status and
# checks the preloaded run's stderr for complaints.
same() {
  name=$1
  shift
  if ! command -v "$name" >/dev/null 2>&1; then
    skip "$name is not installed"
    skip "$name is not installed"
    return 1
  fi
  mkdir -p "$tmp/plain" "$tmp/pre"
  (cd "$tmp/plain" && "$@") >"$tmp/$name.plain" 2>"$tmp/$name.plain.err"
  s1=$?
  (cd "$tmp/pre" && env LD_PRELOAD="$HAK_LIB" "$@") >"$tmp/$name.pre" 2>"$tmp/$name.pre.err"
  s2=$?
  [ $s1 -eq $s2 ] && [ -s "$tmp/$name.plain" ] && cmp -s "$tmp/$name.plain" "$tmp/$name.pre"
  ok $? "$name: the same output and exit status ($s2) with hakmem preloaded"
  if ! cmp -s "$tmp/$name.plain" "$tmp/$name.pre" || [ $s1 -ne $s2 ]; then
    diag "status $s1 without, $s2 with" "$(diff "$tmp/$name.plain" "$tmp/$name.pre" | head -20)"
  fi
  ! grep -E -q '^hakmem:|cannot be preloaded|ld\.so' "$tmp/$name.pre.err"
  ok $? "$name: no complaint from hakmem or the loader on stderr"
  grep -E '^hakmem:|cannot be preloaded|ld\.so' "$tmp/$name.pre.err" | head -5 | sed 's/^/# /'
  return 0
}

# python3, with its small-object allocator off so that every object comes from malloc.
py_work='
import collections, hashlib, json, re, sys
d = {str(i): [i, str(i) * 3, {"k": i % 7, "f": i / 8}] for i in range(30000)}
s = json.dumps(d, sort_keys=True)
c = collections.Counter(re.findall(r"\d", s))
back = json.loads(s)
big = bytearray(40 * 1024 * 1024)
big[-1] = 7
print(hashlib.sha256(s.encode()).hexdigest(), len(s), sorted(c.items())[:4], len(back), sum(big[-4:]))
print(*sorted({l.split()[-1] for l in open("/proc/self/maps") if "libhakmem" in l}), sep="\n", file=sys.stderr)
'
if same python3 env PYTHONMALLOC=malloc PYTHONHASHSEED=0 python3 -c "$py_work"; then
  grep -qxF "$ours" "$tmp/python3.pre.err"
  ok $? "python3: this build's library is mapped in the preloaded interpreter"
else
  skip "python3 is not installed"
fi

perl_work='
my %h;
for my $i (1 .. 30000) { $h{"k$i"} = join(",", map { $_ * $i } 1 .. ($i % 40)); }
my @k = sort keys %h;
my $t = 0; $t += length($h{$_}) for @k;
my $s = join("", map { $h{$_} } @k);
my @parts = split /,/, $s;
printf "%d %d %d %08x\n", scalar(@k), $t, scalar(@parts), unpack("%32C*", $s);
open(my $m, "<", "/proc/self/maps");
my %files = map { /(\/\S*libhakmem\S*)$/ ? ($1 => 1) : () } <$m>;
print STDERR map { "$_\n" } sort keys %files;
'
if same perl perl -e "$perl_work"; then
  grep -qxF "$ours" "$tmp/perl.pre.err"
  ok $? "perl: this build's library is mapped in the preloaded interpreter"
else
  skip "perl is not installed"
fi

sql="
create table t(a integer primary key, b text, c real);
with recursive n(x) as (select 1 union all select x + 1 from n where x < 50000)
  insert into t select x, printf('%08d-%s', x * 7919 % 100003, hex(x)), x * 1.5 from n;
create index tb on t(b);
select count(*), sum(length(b)), max(b), min(b), total(c) from t;
select b from t order by b desc limit 3;
select count(distinct substr(b, 1, 3)) from t;
delete from t where a % 3 = 0;
select count(*), group_concat(a, ',') from (select a from t order by b limit 20);
"
same sqlite3 sqlite3 :memory: "$sql"

# git: the same commits (fixed names and dates) in two fresh repositories; the preload
# reaches every git process the script starts.
git_work='
export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.org
export GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.org
export GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z
git -c init.defaultBranch=main init -q repo && cd repo || exit 1
i=0
while [ $i -lt 200 ]; do
  seq $i $((i * 13 + 50)) >"file$i.txt"
  i=$((i + 1))
done
git add -A && git commit -q -m first || exit 1
i=0
while [ $i -lt 200 ]; do
  echo "change $i" >>"file$i.txt"
  i=$((i + 7))
done
git rm -q file3.txt && git commit -q -a -m second || exit 1
git rev-parse HEAD HEAD~1
git log --stat --format="%H %s" | tail -5
git grep -c change | sort | head -5
git -c pack.threads=1 gc -q && git fsck --strict 2>&1 && git diff --stat HEAD~1 | tail -1
'
same git sh -c "$git_work"

tap_done
