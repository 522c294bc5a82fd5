#!/usr/bin/env python3
"""Run the hakmem benchmarks under several allocators and print a markdown table.

Each benchmark runs once per allocator per repetition, round-robin: within a repetition every
allocator runs every benchmark before the next repetition starts, and the allocator order
rotates from one repetition to the next, so that a noisy neighbour or a frequency change hits
all allocators alike.  The tables give, per allocator, the median wall time (measured inside the
program), the median peak RSS (VmHWM) and the median final RSS (the resident set once the
program has freed everything: what the allocator keeps), and their ratios to mimalloc (< 1:
faster or smaller than mimalloc).  The phase benchmark also reports RSS at the end of an idle
period; it gets a table of its own.

glibc runs with no preload; the others run with LD_PRELOAD.  An allocator whose library is not
installed is skipped with a note.  Every run checks that the program saw the intended
allocator mapped (the malloc= field), so a preload that silently did not take is an error.

Python 3 standard library only.  Typical use, from a build directory:
    make bench-compare                      # builds, then runs this script
    python3 ../bench/compare.py --bindir bench --hakmem .libs/libhakmem.so --reps 7
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

LIBDIR_CANDIDATES = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                     "/usr/lib", "/usr/local/lib"]
# (name, library file names to look for); glibc needs none.
ALLOCATORS = [
    ("hakmem", None),
    ("mimalloc", ["libmimalloc.so.2", "libmimalloc.so"]),
    ("glibc", None),
    ("jemalloc", ["libjemalloc.so.2", "libjemalloc.so"]),
    ("tcmalloc", ["libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so.4"]),
]

# (label, program, full-size arguments, --quick arguments, what it measures)
BENCHMARKS = [
    ("random_mixed", "bench_random_mixed", ["5000000", "8192", "1"], ["1000000", "8192", "1"],
     "1 thread, 16..1040 B, 8192 live slots"),
    ("random_mixed_ws64k", "bench_random_mixed", ["2000000", "65536", "1"],
     ["500000", "65536", "1"], "1 thread, 16..1040 B, 65536 live slots (~35 MB live)"),
    ("larson_2t", "bench_larson", ["2", "200", "16", "4096", "2000", "10000", "1"],
     ["2", "40", "16", "4096", "2000", "10000", "1"],
     "2 chains, 16..4096 B, 2000 slots each, 10000 ops per thread, fixed rounds"),
    ("larson_4t_small", "bench_larson", ["4", "150", "16", "256", "4000", "10000", "1"],
     ["4", "30", "16", "256", "4000", "10000", "1"],
     "4 chains, 16..256 B, 4000 slots each, fixed rounds"),
    ("prodcons_2p", "bench_prodcons", ["2", "4000000", "16", "1024", "1"],
     ["2", "500000", "16", "1024", "1"], "2 producer/consumer pairs, 16..1024 B"),
    ("prodcons_1p_to128k", "bench_prodcons", ["1", "200000", "16", "131072", "1"],
     ["1", "40000", "16", "131072", "1"],
     "1 pair, 16..131072 B (half the blocks above 64 KiB)"),
    ("prodcons_lag", "bench_prodcons", ["1", "8000000", "1024", "16384", "1", "20000"],
     ["1", "1000000", "1024", "16384", "1", "20000"],
     "1 pair, 1..16 KiB, the consumer frees each block 20,000 blocks after it was made"),
    ("mid", "bench_mid", ["1000000", "1024", "1"], ["300000", "1024", "1"],
     "1 thread, 1..64 KiB, 1024 live slots (~33 MB live)"),
    ("mid_long", "bench_mid", ["40000000", "1024", "1"], ["10000000", "1024", "1"],
     "as mid, 40 times longer (about a second: time for HAKMEM_LEARN to act)"),
    ("shift", "bench_shift", ["20000000", "1"], ["5000000", "1"],
     "1 thread: 16..1040 B, then 8..32 KiB, then 16..1040 B again, 20 M replacements each"),
    ("realloc_growth", "bench_realloc", ["2000000", "16", "4194304", "1"],
     ["500000", "16", "4194304", "1"],
     "16 buffers grown by 1..256 B appends up to 4 MiB; half exact (string builder), half doubling"),
    ("large", "bench_large", ["2000", "4", "262144", "8388608", "1"],
     ["500", "4", "262144", "8388608", "1"],
     "256 KiB..8 MiB, 4 live slots, every page touched"),
    ("large_live", "bench_large", ["10000", "32", "1048577", "8388608", "1"],
     ["2000", "32", "1048577", "8388608", "1"],
     "1..8 MiB, 32 live slots (about 144 MiB live), every page touched; about a second, time "
     "for HAKMEM_LEARN to raise the BigCache's bound"),
    ("span_live", "bench_span", ["1", "100000", "70000"], ["1", "20000", "70000"],
     "1 thread, 100,000 live 70 KB blocks (first and last byte written), then freed"),
    ("span_churn_2t", "bench_span", ["2", "20000", "65537", "1000000", "20000"],
     ["2", "5000", "65537", "1000000", "5000"],
     "2 threads, 20,000 live blocks of 64 KiB..1 MB each, 20,000 random replacements each"),
    ("span_churn_full", "bench_span", ["2", "2000", "65537", "1000000", "40000", "1", "1"],
     ["2", "250", "65537", "1000000", "5000", "1", "1"],
     "as span_churn_2t with every page written and 2,000 live blocks each (about 2 GiB live), "
     "40,000 replacements each"),
    ("exchange", "bench_exchange", ["512", "1"], ["128", "1"],
     "2 threads each allocate 512 MiB (16 B..64 KiB), then free the other's; final RSS is right "
     "after the last free, both threads alive and idle"),
    ("phase", "bench_phase", ["256", "2000", "1"], ["128", "1000", "1"],
     "burst to 256 MiB (16 B..4 MiB), free all, idle 2 s, again; idle time not counted"),
    ("burst_idle", "bench_burst", ["40", "32", "150", "1"], ["12", "32", "150", "1"],
     "40 bursts of 32 MiB (16 B..64 KiB, every byte written), each freed and followed by 150 ms "
     "idle; idle time not counted"),
    ("sweep", "bench_sweep", ["1000000", "16", "128", "5", "1"], ["250000", "16", "128", "5", "1"],
     "1 thread, 1,000,000 live blocks of 16..128 B freed in random order and allocated again, "
     "5 rounds (a collector's sweep)"),
    # Programs under bench/ruby/ run under the system's ruby; skipped when there is none.
    ("ruby_strings", "ruby/strings.rb", [], ["N=500000"],
     "ruby: 0..40 B strings into arrays, 1 in 50 kept a while, a 100 KB string every 10,000"),
    ("ruby_json", "ruby/json.rb", [], ["N=15"],
     "ruby: 2000 records to JSON text and back, 60 rounds"),
    ("ruby_hash", "ruby/hash.rb", [], ["N=200000"],
     "ruby: a string-keyed cache swinging between 40,000 and 100,000 entries"),
    ("ruby_text", "ruby/text.rb", [], ["N=5"],
     "ruby: lines formatted, split, counted, substituted and joined, 20 rounds of 5000"),
]
HERE = os.path.dirname(os.path.abspath(__file__))


def command(prog, bindir, arguments):
    """The command line of a benchmark; a Ruby program's arguments are NAME=VALUE settings."""
    if prog.startswith("ruby/"):
        return [shutil.which("ruby") or "ruby", os.path.join(HERE, prog)], \
            dict(a.split("=", 1) for a in arguments)
    return [os.path.join(bindir, prog)] + arguments, {}


def find_lib(names):
    for d in LIBDIR_CANDIDATES:
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return p
    return None


def parse_line(out):
    """The last line of output that has time_s=, as a dict of its key=value fields."""
    for line in reversed(out.splitlines()):
        if "time_s=" in line:
            return dict(f.split("=", 1) for f in line.split() if "=" in f)
    return None


def find_allocators(hakmem, wanted, notes):
    """(name, preload path or None) for each allocator of ALLOCATORS in wanted (None: all) that
    is there; a note in notes for each that is not."""
    allocs = []
    for name, libs in ALLOCATORS:
        if wanted is not None and name not in wanted:
            continue
        if name == "glibc":
            allocs.append((name, None))
        elif name == "hakmem":
            p = os.path.abspath(hakmem)
            if os.path.exists(p):
                allocs.append((name, p))
            else:
                notes.append("hakmem skipped: %s not found (build it, or pass --hakmem)" % p)
        else:
            p = find_lib(libs)
            if p:
                allocs.append((name, p))
            else:
                notes.append("%s skipped: none of %s installed" % (name, ", ".join(libs)))
    return allocs


def run_env(preload, extra_env=None):
    """The environment of a run: this one, with LD_PRELOAD set to preload (none for glibc)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    env.update(extra_env or {})
    return env


def run_one(cmd, preload, timeout, extra_env=None):
    env = run_env(preload, extra_env)
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % timeout
    if p.returncode != 0:
        sig = " (signal %d)" % -p.returncode if p.returncode < 0 else ""
        tail = (p.stderr.strip().splitlines() or [""])[-1][:200]
        return None, "exit %d%s: %s" % (p.returncode, sig, tail)
    r = parse_line(p.stdout)
    if r is None:
        return None, "no result line in output"
    return r, None


def write_json(path, benches, names, results, med, paired, allocs, envs, quick):
    """The figures of the tables, for a program to draw: per benchmark and allocator the medians
    (time in s, peak and final RSS in KiB), the time range and the paired ratio to mimalloc,
    and every field of every run (bench_phase's RSS through its phases among them)."""
    out = {"allocators": names,
           "preloads": {n: lib for n, lib in allocs},
           "settings": {n: envs.get(n, {}) for n in names},
           "benchmarks": []}
    for label, prog, full, quick_args, what in benches:
        cmd, settings = command(prog, "bench", quick_args if quick else full)
        row = {"label": label, "what": what, "command": " ".join(cmd), "settings": settings,
               "results": {}}
        for n in names:
            m = med.get((label, n))
            if m is None:
                continue
            row["results"][n] = {"time_s": m[0], "maxrss_kb": m[1], "time_min": m[2],
                                 "time_max": m[3], "runs": m[4], "final_rss_kb": m[5],
                                 "paired": paired(label, n),
                                 "all": results.get((label, n), [])}
        out["benchmarks"].append(row)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


def fmt_ratio(x, base):
    if x is None or base is None or base == 0:
        return "-"
    return "%.2f" % (x / base)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bindir", default="bench", help="directory with the bench_* programs")
    ap.add_argument("--hakmem", default=".libs/libhakmem.so", help="path of libhakmem.so")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                    help="one more allocator to preload, run interleaved with the others "
                    "(for example hakmem-before=../base/.libs/libhakmem.so: what precedes the "
                    "first '-' is the malloc= it must report); repeatable")
    ap.add_argument("--extra-env", action="append", default=[], metavar="NAME:VAR=VALUE",
                    help="an environment variable for allocator NAME only (for example "
                    "hakmem-learn:HAKMEM_LEARN=1 with --extra hakmem-learn=.libs/libhakmem.so); "
                    "repeatable")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5, quick 3)")
    ap.add_argument("--quick", action="store_true", help="smaller runs and 3 repetitions")
    ap.add_argument("--allocators", default=None,
                    help="comma-separated subset of " + ",".join(a for a, _ in ALLOCATORS))
    ap.add_argument("--bench", default=None,
                    help="comma-separated subset of " + ",".join(b[0] for b in BENCHMARKS))
    ap.add_argument("--timeout", type=int, default=300, help="seconds allowed per run")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every run")
    ap.add_argument("--json", default=None, metavar="FILE",
                    help="also write the medians, ranges and paired ratios to FILE (for "
                    "bench/report.py)")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)

    notes = []
    allocs = find_allocators(args.hakmem, args.allocators.split(",") if args.allocators else None,
                             notes)
    for e in args.extra:
        name, _, p = e.partition("=")
        if not name or not os.path.exists(p):
            ap.error("--extra %s: want NAME=PATH of an existing library" % e)
        allocs.append((name, os.path.abspath(p)))
    envs = {}  # allocator name -> its own environment variables
    for e in args.extra_env:
        name, _, setting = e.partition(":")
        var, eq, value = setting.partition("=")
        if not name or not var or not eq or name not in [a for a, _ in allocs]:
            ap.error("--extra-env %s: want NAME:VAR=VALUE for an allocator of this run" % e)
        envs.setdefault(name, {})[var] = value

    benches = [b for b in BENCHMARKS if not args.bench or b[0] in args.bench.split(",")]
    if not shutil.which("ruby") and any(b[1].startswith("ruby/") for b in benches):
        notes.append("the ruby_* rows skipped: no ruby installed (Debian: apt-get install ruby)")
        benches = [b for b in benches if not b[1].startswith("ruby/")]
    for b in benches:
        prog = command(b[1], args.bindir, [])[0][-1]
        if not os.access(prog, os.X_OK if not b[1].startswith("ruby/") else os.R_OK):
            sys.exit("compare.py: %s not found; run `make bench` first" % prog)

    results = {}  # (bench, alloc) -> list of result dicts
    errors = {}   # (bench, alloc) -> list of error strings
    start = time.time()
    for rep in range(reps):
        order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
        for label, prog, full, quick, _ in benches:
            cmd, settings = command(prog, args.bindir, quick if args.quick else full)
            for name, lib in order:
                r, err = run_one(cmd, lib, args.timeout, dict(settings, **envs.get(name, {})))
                # an --extra allocator "hakmem-before" reports itself as malloc=hakmem
                if r is not None and r.get("malloc") != name.split("-")[0]:
                    r, err = None, "preload did not take: program reports malloc=%s" % r.get("malloc")
                if r is None:
                    errors.setdefault((label, name), []).append(err)
                else:
                    r["rep"] = rep
                    results.setdefault((label, name), []).append(r)
                if args.verbose:
                    print("rep %d %-20s %-9s %s" % (rep + 1, label, name,
                          "time_s=%s maxrss_kb=%s" % (r["time_s"], r["maxrss_kb"]) if r else err),
                          file=sys.stderr, flush=True)
    elapsed = time.time() - start

    # Summary: ratios to mimalloc, one row per benchmark.
    names = [a for a, _ in allocs]
    med = {}
    for key, rs in results.items():
        med[key] = (statistics.median(float(r["time_s"]) for r in rs),
                    statistics.median(int(r["maxrss_kb"]) for r in rs),
                    min(float(r["time_s"]) for r in rs), max(float(r["time_s"]) for r in rs),
                    len(rs),
                    statistics.median(int(r.get("final_rss_kb", -1)) for r in rs))

    def kb_median(label, n, field):
        v = [int(r[field]) for r in results.get((label, n), []) if field in r]
        return statistics.median(v) if v else None

    def kb_range(label, n, field):
        v = [int(r[field]) for r in results.get((label, n), []) if field in r]
        return (min(v), max(v)) if v else None

    def paired(label, n):
        """Median over repetitions of time / mimalloc's time in the same repetition: runs next to
        each other share the machine's state, so this ratio is steadier than a ratio of medians."""
        mm = {r["rep"]: float(r["time_s"]) for r in results.get((label, "mimalloc"), [])}
        rs = [float(r["time_s"]) / mm[r["rep"]] for r in results.get((label, n), [])
              if mm.get(r["rep"])]
        return "%.2f" % statistics.median(rs) if rs else "-"

    def base(label, i):
        m = med.get((label, "mimalloc"))
        return m[i] if m else None

    # One table per measure: rows are benchmarks, columns allocators, cells ratios to mimalloc.
    for title, i in (("Time", 0), ("Peak RSS", 1), ("Final RSS (everything freed)", 5)):
        print("## %s relative to mimalloc (median of %d runs; < 1 is better)\n" % (title, reps))
        print("| benchmark | " + " | ".join(names) + " |")
        print("|---" + "|---:" * len(names) + "|")
        for label, *_ in benches:
            cells = []
            for n in names:
                m = med.get((label, n))
                cells.append("FAIL" if m is None else fmt_ratio(m[i], base(label, i)))
            print("| %s | %s |" % (label, " | ".join(cells)))
        print()

    print("## Absolute medians\n")
    print("| benchmark | allocator | time (s) | min..max (s) | time / mimalloc | paired ratio | "
          "peak RSS (MiB) | min..max | RSS / mimalloc | final RSS (MiB) | min..max | "
          "final / mimalloc | runs ok |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def mib_range(label, n, field):
        r = kb_range(label, n, field)
        return "%.1f..%.1f" % (r[0] / 1024.0, r[1] / 1024.0) if r else "-"

    for label, *_ in benches:
        for n in names:
            m = med.get((label, n))
            nerr = len(errors.get((label, n), []))
            if m is None:
                print("| %s | %s | FAIL | | | | | | | | | | 0/%d |" % (label, n, nerr))
                continue
            print("| %s | %s | %.4f | %.4f..%.4f | %s | %s | %.1f | %s | %s | %.1f | %s | %s | %d/%d |" % (
                label, n, m[0], m[2], m[3], fmt_ratio(m[0], base(label, 0)), paired(label, n),
                m[1] / 1024.0, mib_range(label, n, "maxrss_kb"),
                fmt_ratio(m[1], base(label, 1)), m[5] / 1024.0, mib_range(label, n, "final_rss_kb"),
                fmt_ratio(m[5], base(label, 5)), m[4], m[4] + nerr))

    phased = [b for b in benches if any("idle_end_rss_kb" in r for (l, _), rs in results.items()
                                        if l == b[0] for r in rs)]
    for label, *_ in phased:
        print("\n## %s: RSS through the phases (median MiB; min..max)\n" % label)
        print("| allocator | before | peak | burst freed | end of idle 1 | end of idle 2 (final) | "
              "final / mimalloc |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for n in names:
            if (label, n) not in med:
                continue
            cells = []
            for f in ("base_rss_kb", "maxrss_kb", "freed_rss_kb", "idle_end_rss_kb", "final_rss_kb"):
                v = kb_median(label, n, f)
                cells.append("-" if v is None else "%.1f (%s)" % (v / 1024.0, mib_range(label, n, f)))
            print("| %s | %s | %s |" % (n, " | ".join(cells), fmt_ratio(med[(label, n)][5],
                                                                        base(label, 5))))

    counted = [b[0] for b in benches if any("gc" in r for r in results.get((b[0], names[0]), []))]
    if counted:
        print("\n## Garbage collections (median count per run; min..max)\n")
        print("| benchmark | " + " | ".join(names) + " |")
        print("|---" + "|---:" * len(names) + "|")
        for label in counted:
            cells = []
            for n in names:
                v = kb_median(label, n, "gc")
                r = kb_range(label, n, "gc")
                cells.append("-" if v is None else "%g (%d..%d)" % (v, r[0], r[1]))
            print("| %s | %s |" % (label, " | ".join(cells)))

    if args.json:
        write_json(args.json, benches, names, results, med, paired, allocs, envs, args.quick)

    print("\n## Commands\n")
    print("Run from the build directory; glibc runs with no LD_PRELOAD.\n")
    print("```")
    for name, lib in allocs:
        settings = "".join("%s=%s " % kv for kv in sorted(envs.get(name, {}).items()))
        print("# %s: %s%s" % (name, settings, "LD_PRELOAD=" + lib if lib else "no preload"))
    for label, prog, full, quick, what in benches:
        cmd, settings = command(prog, args.bindir, quick if args.quick else full)
        cmd = ["%s=%s" % kv for kv in sorted(settings.items())] + cmd
        print("%s   # %s: %s" % (" ".join(shlex.quote(c) for c in cmd), label, what))
    print("```")
    print("\npaired ratio: median over repetitions of the time divided by mimalloc's time in the "
          "same repetition.")
    print("\n%d repetitions, allocators round-robin within each (order rotated per repetition); "
          "total %.0f s.  Invoked as: %s" % (reps, elapsed, " ".join(shlex.quote(a) for a in sys.argv)))
    for n in notes:
        print("\nNote: " + n)
    if errors:
        print("\n## Failed runs\n")
        for (label, n), errs in sorted(errors.items()):
            for e in sorted(set(errs)):
                print("- %s under %s (%d of %d runs): %s" % (label, n, errs.count(e), reps, e))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
