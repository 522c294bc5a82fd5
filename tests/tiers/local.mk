# Tests of the mid pool, L2.5, BigCache, LRU cache, trim, memory return and thread exit.
#
# Each concern is a TAP program (tests/tiers/tiers_*.c, linked with libhakmem like the tests in
# tests/local.mk) run by a wrapper script (tests/tiers/*.sh) that sets its HAKMEM_* options,
# often several settings in a row, and merges their TAP (tests/tiers/run.sh): hakmem reads its
# options once, at start-up.  The programs run as "$(HAK_EMULATOR) prog", so a cross build runs
# them under QEMU.  -fno-builtin: the compiler must not drop a malloc/free pair whose block is
# never used, which these tests do on purpose.
#
#   reuse.sh        a. mid and large blocks reuse memory: smblks flat, BigCache hits grow
#   bigcache.sh     b. BigCache bounds: MAX_MB, TTL_MS, MAX_MB=0
#   lru.sh          c. LRU cache of empty SuperSlabs: MAX_CACHED, MAX_MEMORY_MB, TTL_SEC
#   trim.sh         d. malloc_trim(0) empties the caches and lowers RSS
#   return.sh       e. ~1 GiB burst: RSS back near the baseline after trim, or after idling
#   thread_exit.sh  f. blocks outlive their threads; slabs of dead threads adopted and reused
#   wmax.sh         g. every mid size 1025..65536 wastes at most W_MAX
#   prefault.sh     h. HAKMEM_SS_PREFAULT=1 faults a new SuperSlab in at once
#   stats.sh        i. HAKMEM_STATS(_FILE) table and HAKMEM_PROFILE section
#   exchange.sh     j. a consumer frees an idle producer's burst: its slabs come back at the last free
#   empty.sh        k. HAKMEM_EMPTY_MAX_MB bounds the empty memory resident after a burst is freed
#   giveback.sh     l. a thread's slabs that others emptied serve its other classes first
#   span.sh         m. L2.5 spans: few mappings, purge and bound, aligned requests, threads
#   background.sh   n. HAKMEM_BACKGROUND: started lazily, memory back with no call, fork
#   locked.sh       o. under mlockall, where purges are refused, calloc still reads zero
#   refused.sh      p. a refused munmap of a large mapping's tail leaves it whole and counted

hak_tiers_progs = \
	tests/tiers/tiers_reuse \
	tests/tiers/tiers_bigcache \
	tests/tiers/tiers_lru \
	tests/tiers/tiers_trim \
	tests/tiers/tiers_return \
	tests/tiers/tiers_thread_exit \
	tests/tiers/tiers_wmax \
	tests/tiers/tiers_prefault \
	tests/tiers/tiers_stats_probe \
	tests/tiers/tiers_exchange \
	tests/tiers/tiers_empty \
	tests/tiers/tiers_giveback \
	tests/tiers/tiers_span \
	tests/tiers/tiers_background \
	tests/tiers/tiers_locked \
	tests/tiers/tiers_refused

check_PROGRAMS += $(hak_tiers_progs)
hak_tiers_cflags = $(AM_CFLAGS) -fno-builtin

tests_tiers_tiers_reuse_SOURCES = tests/tiers/tiers_reuse.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_reuse_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_reuse_LDADD = $(hak_test_libs)
tests_tiers_tiers_reuse_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_bigcache_SOURCES = tests/tiers/tiers_bigcache.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_bigcache_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_bigcache_LDADD = $(hak_test_libs)
tests_tiers_tiers_bigcache_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_lru_SOURCES = tests/tiers/tiers_lru.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_lru_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_lru_LDADD = $(hak_test_libs)
tests_tiers_tiers_lru_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_trim_SOURCES = tests/tiers/tiers_trim.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_trim_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_trim_LDADD = $(hak_test_libs)
tests_tiers_tiers_trim_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_return_SOURCES = tests/tiers/tiers_return.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_return_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_return_LDADD = $(hak_test_libs)
tests_tiers_tiers_return_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_thread_exit_SOURCES = tests/tiers/tiers_thread_exit.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_thread_exit_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_thread_exit_LDADD = $(hak_test_libs)
tests_tiers_tiers_thread_exit_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_wmax_SOURCES = tests/tiers/tiers_wmax.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_wmax_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_wmax_LDADD = $(hak_test_libs)
tests_tiers_tiers_wmax_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_prefault_SOURCES = tests/tiers/tiers_prefault.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_prefault_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_prefault_LDADD = $(hak_test_libs)
tests_tiers_tiers_prefault_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_stats_probe_SOURCES = tests/tiers/tiers_stats_probe.c
tests_tiers_tiers_stats_probe_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_stats_probe_LDADD = $(hak_test_libs)
tests_tiers_tiers_stats_probe_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_exchange_SOURCES = tests/tiers/tiers_exchange.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_exchange_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_exchange_LDADD = $(hak_test_libs)
tests_tiers_tiers_exchange_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_empty_SOURCES = tests/tiers/tiers_empty.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_empty_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_empty_LDADD = $(hak_test_libs)
tests_tiers_tiers_empty_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_giveback_SOURCES = tests/tiers/tiers_giveback.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_giveback_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_giveback_LDADD = $(hak_test_libs)
tests_tiers_tiers_giveback_LDFLAGS = $(hak_test_link)
tests_tiers_tiers_span_SOURCES = tests/tiers/tiers_span.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_span_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_span_LDADD = $(hak_test_libs)
tests_tiers_tiers_span_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_background_SOURCES = tests/tiers/tiers_background.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_background_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_background_LDADD = $(hak_test_libs)
tests_tiers_tiers_background_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_locked_SOURCES = tests/tiers/tiers_locked.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_locked_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_locked_LDADD = $(hak_test_libs)
tests_tiers_tiers_locked_LDFLAGS = $(hak_test_link)

tests_tiers_tiers_refused_SOURCES = tests/tiers/tiers_refused.c tests/tiers/tiers.h tests/tap.h
tests_tiers_tiers_refused_CFLAGS = $(hak_tiers_cflags)
tests_tiers_tiers_refused_LDADD = $(hak_test_libs)
tests_tiers_tiers_refused_LDFLAGS = $(hak_test_link)

hak_tiers_scripts = \
	tests/tiers/reuse.sh \
	tests/tiers/bigcache.sh \
	tests/tiers/lru.sh \
	tests/tiers/trim.sh \
	tests/tiers/return.sh \
	tests/tiers/thread_exit.sh \
	tests/tiers/wmax.sh \
	tests/tiers/prefault.sh \
	tests/tiers/stats.sh \
	tests/tiers/exchange.sh \
	tests/tiers/empty.sh \
	tests/tiers/giveback.sh \
	tests/tiers/span.sh \
	tests/tiers/background.sh \
	tests/tiers/locked.sh \
	tests/tiers/refused.sh

dist_check_SCRIPTS += $(hak_tiers_scripts) tests/tiers/run.sh
TESTS += $(hak_tiers_scripts)
