#!/usr/bin/env python3
"""Write a benchmark report, OUT/index.html: hakmem against glibc, mimalloc, jemalloc and tcmalloc,
in tables and pictures.

It runs, in one go:
  1. bench/compare.py (the benchmarks in bench/, the Ruby rows among them when ruby is installed),
     interleaved and repeated; its markdown goes to OUT/compare.md, its figures to
     OUT/compare.json;
  2. when the peer benchmarks are there (--peer, by default ../shared/peer-bench beside the
     source tree), their build.sh and run.sh, and summarize.py into OUT/peer.md;
  3. bench_phase once under each allocator, its resident set sampled every 10 ms from
     /proc/PID/status: RSS over time through a burst, an idle period and a second burst.
Then gnuplot draws, as PNG files in OUT: time and peak RSS relative to mimalloc per benchmark
(bars), the same for the peer benchmarks, and RSS over time for bench_phase (lines).

--render-only redraws the pictures and the page from the data already in OUT.
Needs python3 and gnuplot (Debian: gnuplot-nox).  Typical use, from a build directory:
    make bench-report                                # BENCH_ARGS, REPORT_ARGS pass options
    python3 ../bench/report.py --bindir bench --hakmem .libs/libhakmem.so --quick --no-peer
"""
import argparse
import csv
import datetime
import html
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (the allocator list and how to find the libraries)

BASE = "mimalloc"
CLIP = 4.0  # bars above this ratio are cut there, and the page lists them


def log(msg):
    print("report.py: " + msg, file=sys.stderr, flush=True)


def allocators(args):
    """(name, preload or None) for the allocators of the report, as compare.py finds them."""
    notes = []
    out = compare.find_allocators(args.hakmem, None, notes)
    for n in notes:
        log(n)
    for e in args.extra:
        name, _, p = e.partition("=")
        out.append((name, os.path.abspath(p)))
    return out


def run_compare(args, out):
    cmd = [sys.executable, os.path.join(HERE, "compare.py"), "--bindir", args.bindir,
           "--hakmem", args.hakmem, "--json", os.path.join(out, "compare.json")]
    cmd += sum((["--extra", e] for e in args.extra), [])
    cmd += sum((["--extra-env", e] for e in args.extra_env), [])
    if args.quick:
        cmd.append("--quick")
    if args.reps:
        cmd += ["--reps", str(args.reps)]
    if args.bench:
        cmd += ["--bench", args.bench]
    log("running " + " ".join(cmd))
    with open(os.path.join(out, "compare.md"), "w") as f:
        rc = subprocess.call(cmd, stdout=f)
    if rc not in (0, 1):  # 1: some runs failed, which the tables show
        sys.exit("report.py: compare.py failed (exit %d)" % rc)


def run_peer(args, out, allocs):
    peer = os.path.abspath(args.peer)
    bindir = os.path.join(out, "peer-bin")
    if not os.path.isdir(bindir):
        log("building the peer benchmarks into " + bindir)
        if subprocess.call([os.path.join(peer, "build.sh"), bindir],
                           stdout=subprocess.DEVNULL) != 0:
            sys.exit("report.py: %s/build.sh failed" % peer)
    specs = ["sys" if lib is None else "%s=%s" % (name, lib) for name, lib in allocs]
    env = dict(os.environ, REPS=str(args.peer_reps), THREADS=args.peer_threads)
    tsv = os.path.join(out, "peer.tsv")
    log("running the peer benchmarks (REPS=%d THREADS=\"%s\")" % (args.peer_reps,
                                                                  args.peer_threads))
    if subprocess.call([os.path.join(peer, "run.sh"), bindir, tsv] + specs, env=env,
                       stdout=subprocess.DEVNULL) != 0:
        sys.exit("report.py: %s/run.sh failed" % peer)
    with open(os.path.join(out, "peer.md"), "w") as f:
        subprocess.call([sys.executable, os.path.join(peer, "summarize.py"), tsv], stdout=f)


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sample_phase(args, out, allocs):
    """bench_phase under each allocator, its VmRSS every 10 ms: OUT/phase.json."""
    prog = os.path.join(args.bindir, "bench_phase")
    argv = [prog] + (["128", "1000", "1"] if args.quick else ["256", "2000", "1"])
    series = {}
    for name, lib in allocs:
        p = subprocess.Popen(argv, env=compare.run_env(lib), stdout=subprocess.DEVNULL)
        t0, pts = time.monotonic(), []
        while p.poll() is None:
            kb = status_kb(p.pid, "VmRSS:")
            if kb is not None:
                pts.append((round(time.monotonic() - t0, 3), kb))
            time.sleep(0.01)
        if p.returncode == 0:
            series[name] = pts
        else:
            log("bench_phase under %s exited %d; left out" % (name, p.returncode))
    with open(os.path.join(out, "phase.json"), "w") as f:
        json.dump({"command": " ".join(argv), "series": series}, f)


# ---- pictures ----------------------------------------------------------------------------------

def bars(out, stem, title, ylabel, rows, names):
    """A clustered bar chart: rows are (label, {allocator: ratio}), one bar per allocator."""
    dat = os.path.join(out, stem + ".dat")
    top = max([v for _, r in rows for v in r.values() if v is not None] + [1.0])
    ymax = min(top * 1.1, CLIP)
    with open(dat, "w") as f:
        f.write("label " + " ".join(names) + "\n")
        for label, r in rows:
            cells = ["?" if r.get(n) is None else "%.4f" % min(r[n], CLIP) for n in names]
            f.write(label + " " + " ".join(cells) + "\n")
    width = min(1800, max(900, 14 * len(rows) * max(1, len(names)) + 200))
    plot = ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2)
                     for i in range(len(names)))
    return """
set terminal pngcairo size %d,520 font ",10" noenhanced
set output '%s'
set title "%s"
set ylabel "%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set key outside top center horizontal samplen 2 width 1
set xtics rotate by -40 scale 0 noenhanced
set grid ytics
set yrange [0:%.3f]
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 2 lc rgb "black"
plot %s
unset arrow 1
""" % (width, os.path.join(out, stem + ".png"), title, ylabel, ymax, plot)


def lines(out, stem, title, series, order):
    parts, plot = [], []
    for name in reversed(order):
        if name not in series:
            continue
        dat = os.path.join(out, "%s-%s.dat" % (stem, name))
        with open(dat, "w") as f:
            for t, kb in series[name]:
                f.write("%s %.2f\n" % (t, kb / 1024.0))
        plot.append("'%s' using 1:2 with lines linewidth 2 title '%s'" % (dat, name))
    parts.append("""
set terminal pngcairo size 1000,480 font ",10" noenhanced
set output '%s'
set title "%s"
set style data lines
set xtics norotate autofreq
set key outside right top vertical invert
set xlabel "seconds since start"
set ylabel "resident set (MiB)"
set grid
set yrange [0:*]
plot %s
set xlabel
""" % (os.path.join(out, stem + ".png"), title, ", ".join(plot)))
    return "".join(parts)


def ratio_rows(data, field):
    rows = []
    for b in data["benchmarks"]:
        r = b["results"]
        base = r.get(BASE, {}).get(field)
        rows.append((b["label"], {n: (v[field] / base if base else None) for n, v in r.items()}))
    return rows


def peer_rows(out):
    path = os.path.join(out, "peer.tsv")
    if not os.path.exists(path):
        return None
    val, names, keys = {}, [], []
    for r in csv.DictReader(open(path), delimiter="\t"):
        name = "glibc" if r["alloc"] == "sys" else r["alloc"]
        key = "%s@%s" % (r["bench"], r["threads"])
        names += [name] if name not in names else []
        keys += [key] if key not in keys else []
        num = lambda x: None if x == "NA" else float(x)
        val[(key, name)] = (num(r["median_wall_s"]), num(r["median_maxrss_kb"]))
    rows = {}
    for i, field in ((0, "time"), (1, "rss")):
        rows[field] = []
        for k in keys:
            base = val.get((k, BASE), (None, None))[i]
            rows[field].append((k, {n: (val[(k, n)][i] / base if base and (k, n) in val and
                                        val[(k, n)][i] else None) for n in names}))
    return names, rows, val, keys


def peer_threads(peer):
    return list(dict.fromkeys(k.rsplit("@", 1)[1] for k in peer[3]))


def draw(out):
    data = json.load(open(os.path.join(out, "compare.json")))
    names = [n for n in data["allocators"] if n != BASE]
    script = bars(out, "time", "Time relative to mimalloc (median; below the dashed line is faster)",
                  "time / mimalloc's", ratio_rows(data, "time_s"), names)
    script += bars(out, "rss", "Peak RSS relative to mimalloc (median; below the line is smaller)",
                   "peak RSS / mimalloc's", ratio_rows(data, "maxrss_kb"), names)
    peer = peer_rows(out)
    if peer:
        pnames = [n for n in peer[0] if n != BASE]
        for t in peer_threads(peer):
            pick = lambda rows: [r for r in rows if r[0].endswith("@" + t)]
            script += bars(out, "peer_time_%s" % t, "Peer benchmarks, %s thread(s): time relative "
                           "to mimalloc" % t, "time / mimalloc's", pick(peer[1]["time"]), pnames)
            script += bars(out, "peer_rss_%s" % t, "Peer benchmarks, %s thread(s): peak RSS "
                           "relative to mimalloc" % t, "peak RSS / mimalloc's",
                           pick(peer[1]["rss"]), pnames)
    phase = os.path.join(out, "phase.json")
    if os.path.exists(phase):
        ph = json.load(open(phase))
        script += lines(out, "phase_rss", "bench_phase: resident set over time (%s)" % ph["command"],
                        ph["series"], data["allocators"])
    gp = os.path.join(out, "plots.gp")
    with open(gp, "w") as f:
        f.write(script)
    if subprocess.call(["gnuplot", gp]) != 0:
        sys.exit("report.py: gnuplot failed on " + gp)


# ---- the page ----------------------------------------------------------------------------------

def table(head, rows):
    h = "<table>\n<tr>" + "".join("<th>%s</th>" % html.escape(c) for c in head) + "</tr>\n"
    for r in rows:
        h += "<tr>" + "".join("<td>%s</td>" % html.escape(str(c)) for c in r) + "</tr>\n"
    return h + "</table>\n"


def fmt(x, f="%.2f"):
    return "-" if x is None else f % x


def clipped(rows):
    return ["%s %s %.2f" % (label, n, v) for label, r in rows for n, v in r.items()
            if v is not None and v > CLIP]


def page(out):
    data = json.load(open(os.path.join(out, "compare.json")))
    names = data["allocators"]
    when = datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(out, "compare.json")))
    h = ["<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hakmem benchmark report"
         "</title>\n<style>body{font-family:sans-serif;max-width:1300px;margin:2em auto;}"
         "table{border-collapse:collapse;margin:1em 0;}td,th{border:1px solid #bbb;"
         "padding:2px 8px;text-align:right;}td:first-child{text-align:left;}"
         "img{max-width:100%;border:1px solid #ddd;}</style></head><body>\n",
         "<h1>hakmem benchmark report</h1>\n",
         "<p>%s; %s, %d CPUs, Linux %s. Every figure is a median over repetitions that ran "
         "interleaved (each repetition runs every allocator, in an order that rotates); ratios "
         "are to mimalloc's median in the same run: below 1 is faster or smaller.</p>\n" % (
             when.strftime("%Y-%m-%d %H:%M"), html.escape(platform.machine()),
             os.cpu_count() or 0, html.escape(platform.release()))]
    for stem, title, field in (("time", "Time", "time_s"), ("rss", "Peak RSS", "maxrss_kb")):
        rows = ratio_rows(data, field)
        h.append("<h2>%s relative to mimalloc: bench/</h2>\n<img src=\"%s.png\" alt=\"%s\">\n"
                 % (title, stem, title))
        h.append(table(["benchmark"] + names,
                       [[label] + [fmt(r.get(n)) for n in names] for label, r in rows]))
        if clipped(rows):
            h.append("<p>Bars cut at %.0f: %s.</p>\n" % (CLIP, html.escape("; ".join(clipped(rows)))))
    h.append("<h2>Absolute medians: bench/</h2>\n")
    absrows = []
    for b in data["benchmarks"]:
        for n in names:
            v = b["results"].get(n)
            if v:
                absrows.append([b["label"], n, "%.4f" % v["time_s"],
                                "%.4f..%.4f" % (v["time_min"], v["time_max"]), v["paired"],
                                "%.1f" % (v["maxrss_kb"] / 1024.0),
                                "%.1f" % (v["final_rss_kb"] / 1024.0), v["runs"]])
            else:
                absrows.append([b["label"], n, "FAIL", "", "", "", "", 0])
    h.append(table(["benchmark", "allocator", "time (s)", "min..max", "paired ratio",
                    "peak RSS (MiB)", "final RSS (MiB)", "runs"], absrows))
    counted = [b for b in data["benchmarks"] if any("gc" in r for v in b["results"].values()
                                                    for r in v["all"])]
    if counted:
        h.append("<h2>Ruby: garbage collections per run (median)</h2>\n")
        rows = []
        for b in counted:
            cells = []
            for n in names:
                gcs = sorted(int(r["gc"]) for r in b["results"].get(n, {}).get("all", []))
                cells.append(gcs[len(gcs) // 2] if gcs else "-")
            rows.append([b["label"]] + cells)
        h.append(table(["benchmark"] + names, rows))
    peer = peer_rows(out)
    if peer:
        pnames, prow, val, keys = peer
        for stem, title, field in (("peer_time", "time", "time"), ("peer_rss", "peak RSS", "rss")):
            h.append("<h2>Peer benchmarks: %s relative to mimalloc</h2>\n" % title)
            for t in peer_threads(peer):
                h.append("<img src=\"%s_%s.png\" alt=\"peer %s, %s thread(s)\"><br>\n"
                         % (stem, t, title, t))
            h.append(table(["benchmark@threads"] + pnames,
                           [[k] + [fmt(r.get(n)) for n in pnames] for k, r in prow[field]]))
            if clipped(prow[field]):
                h.append("<p>Bars cut at %.0f: %s.</p>\n" % (
                    CLIP, html.escape("; ".join(clipped(prow[field])))))
        summary = os.path.join(out, "peer.md")
        if os.path.exists(summary):
            h.append("<h3>summarize.py</h3>\n<pre>%s</pre>\n" % html.escape(open(summary).read()))
    phase = os.path.join(out, "phase.json")
    if os.path.exists(phase):
        ph = json.load(open(phase))
        h.append("<h2>bench_phase: resident set over time</h2>\n<p><code>%s</code>, sampled every "
                 "10 ms from /proc/PID/status (VmRSS): a burst, everything freed, an idle "
                 "period, and again.</p>\n<img src=\"phase_rss.png\" alt=\"RSS over time\">\n"
                 % html.escape(ph["command"]))
    h.append("<h2>Commands</h2>\n<pre>")
    for n in names:
        lib = data["preloads"].get(n)
        env = "".join("%s=%s " % kv for kv in sorted(data["settings"].get(n, {}).items()))
        h.append(html.escape("# %s: %s%s\n" % (n, env, "LD_PRELOAD=" + lib if lib else "no preload")))
    for b in data["benchmarks"]:
        env = "".join("%s=%s " % kv for kv in sorted(b["settings"].items()))
        h.append(html.escape("%s%s   # %s: %s\n" % (env, b["command"], b["label"], b["what"])))
    h.append("</pre>\n<p>The full tables: compare.md and peer.md beside this page.</p>\n"
             "</body></html>\n")
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write("".join(h))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bindir", default="bench", help="directory with the bench_* programs")
    ap.add_argument("--hakmem", default=".libs/libhakmem.so", help="path of libhakmem.so")
    ap.add_argument("--out", default="bench-report", help="directory to write (default %(default)s)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                    help="one more allocator, as compare.py's --extra (hakmem-before=...)")
    ap.add_argument("--extra-env", action="append", default=[], metavar="NAME:VAR=VALUE",
                    help="as compare.py's --extra-env (bench/ only)")
    ap.add_argument("--reps", type=int, default=None, help="compare.py's repetitions")
    ap.add_argument("--quick", action="store_true", help="compare.py --quick, a shorter phase run")
    ap.add_argument("--bench", default=None, help="compare.py's --bench (a subset of rows)")
    default_peer = os.path.join(HERE, "..", "..", "shared", "peer-bench")
    ap.add_argument("--peer", default=default_peer,
                    help="the peer benchmarks (default: ../shared/peer-bench beside the source "
                    "tree); skipped when not there")
    ap.add_argument("--no-peer", action="store_true", help="leave the peer benchmarks out")
    ap.add_argument("--peer-reps", type=int, default=3, help="REPS for run.sh (default 3)")
    ap.add_argument("--peer-threads", default="1 2 4", help="THREADS for run.sh")
    ap.add_argument("--render-only", action="store_true",
                    help="redraw the pictures and the page from the data in --out")
    args = ap.parse_args()
    if not shutil.which("gnuplot"):
        sys.exit("report.py: gnuplot not found (Debian: apt-get install gnuplot-nox)")
    os.makedirs(args.out, exist_ok=True)
    if not args.render_only:
        allocs = allocators(args)
        run_compare(args, args.out)
        sample_phase(args, args.out, allocs)
        if not args.no_peer and os.path.exists(os.path.join(args.peer, "run.sh")):
            run_peer(args, args.out, allocs)
        elif not args.no_peer:
            log("no peer benchmarks at %s; left out" % args.peer)
    draw(args.out)
    page(args.out)
    log("wrote " + os.path.join(args.out, "index.html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
