# Benchmarks: built only by `make bench`, never by `make all` or `make check`.
# `make bench-compare` builds them and the library and runs bench/compare.py against every
# installed allocator (see docs/benchmarks.md); BENCH_ARGS passes options, e.g. BENCH_ARGS=--quick.
# `make bench-callgrind` counts instructions per malloc/free pair with valgrind.
# `make bench-report` runs compare.py, the peer benchmarks when ../shared/peer-bench is there,
# and bench_phase sampled over time, and writes bench-report/index.html with gnuplot's pictures;
# REPORT_ARGS passes options to bench/report.py (e.g. REPORT_ARGS="--quick --no-peer").
BENCH_BINS = bench/bench_random_mixed bench/bench_larson bench/bench_prodcons bench/bench_mid \
	bench/bench_realloc bench/bench_large bench/bench_phase bench/bench_exchange \
	bench/bench_span bench/bench_shift bench/bench_burst bench/bench_sweep
EXTRA_PROGRAMS += $(BENCH_BINS)
CLEANFILES += $(BENCH_BINS)

bench_bench_random_mixed_SOURCES = bench/bench_random_mixed.c bench/bench.h
bench_bench_larson_SOURCES = bench/bench_larson.c bench/bench.h
bench_bench_prodcons_SOURCES = bench/bench_prodcons.c bench/bench.h
bench_bench_mid_SOURCES = bench/bench_random_mixed.c bench/bench.h
bench_bench_mid_CPPFLAGS = $(AM_CPPFLAGS) -DBENCH_NAME='"mid"' -DMIN_SIZE=1024 -DMAX_SIZE=65536 \
	-DDEFAULT_ITERATIONS=2000000 -DDEFAULT_WORKING_SET=1024
bench_bench_realloc_SOURCES = bench/bench_realloc.c bench/bench.h
bench_bench_large_SOURCES = bench/bench_large.c bench/bench.h
bench_bench_phase_SOURCES = bench/bench_phase.c bench/bench.h
bench_bench_exchange_SOURCES = bench/bench_exchange.c bench/bench.h
bench_bench_span_SOURCES = bench/bench_span.c bench/bench.h
bench_bench_shift_SOURCES = bench/bench_shift.c bench/bench.h
bench_bench_burst_SOURCES = bench/bench_burst.c bench/bench.h
bench_bench_sweep_SOURCES = bench/bench_sweep.c bench/bench.h
EXTRA_DIST += bench/compare.py bench/callgrind.sh bench/report.py bench/ruby/report.rb bench/ruby/strings.rb \
	bench/ruby/json.rb bench/ruby/hash.rb bench/ruby/text.rb

PYTHON3 = python3
BENCH_ARGS =

bench: $(BENCH_BINS)

bench-compare: bench libhakmem.la
	$(PYTHON3) $(srcdir)/bench/compare.py --bindir bench --hakmem .libs/libhakmem.so $(BENCH_ARGS)

# Instructions per malloc/free pair under callgrind (needs valgrind); load-independent.
bench-callgrind: bench libhakmem.la
	$(SHELL) $(srcdir)/bench/callgrind.sh --bindir bench --hakmem .libs/libhakmem.so

REPORT_ARGS =
bench-report: bench libhakmem.la
	$(PYTHON3) $(srcdir)/bench/report.py --bindir bench --hakmem .libs/libhakmem.so \
	  --peer $(abs_top_srcdir)/../shared/peer-bench --out bench-report $(REPORT_ARGS)

clean-local: clean-bench-report
clean-bench-report:
	rm -rf bench-report

.PHONY: bench bench-compare bench-callgrind bench-report clean-bench-report
