# make check-tsan: the threaded tests under ThreadSanitizer, a test suite of its own
# (test-suite-tsan.log) so that make check stays fast.
#
# The allocator's sources are built with -fsanitize=thread into a static archive that exports
# none of the malloc family (-DHAK_NO_OVERRIDE: ThreadSanitizer's runtime intercepts malloc,
# free, ...); the test programs are the usual sources with tests/tsan/hak_tsan.h put in front,
# which renames their malloc calls to the allocator's own bodies.  Each program is
# "tests/tsan/NAME.tsan", run as a test of its own or by a wrapper script like those of
# tests/tiers/.  A report fails it: ThreadSanitizer makes the program exit 66 (TSAN_OPTIONS
# exitcode, its default), which the tap driver counts as an error; the reports are in the
# test's .log.  Nothing here is built by make or make check.  CFLAGS comes after the flags
# below and may raise -O1.

hak_tsan_cflags = -fsanitize=thread -g -O1
EXTRA_LIBRARIES = tests/tsan/libhakmem_tsan.a
tests_tsan_libhakmem_tsan_a_SOURCES = $(libhakmem_la_SOURCES)
tests_tsan_libhakmem_tsan_a_CPPFLAGS = $(AM_CPPFLAGS) -DHAK_NO_OVERRIDE
tests_tsan_libhakmem_tsan_a_CFLAGS = $(AM_CFLAGS) $(hak_lib_cflags) $(hak_tsan_cflags)

# Each program is a test of its own, but tiers_thread_exit, tiers_span and tiers_background,
# which their wrappers run with several settings.
hak_tsan_direct = \
	tests/tsan/test_threads_handoff.tsan \
	tests/tsan/test_fork_threads.tsan \
	tests/tsan/test_thread_churn.tsan \
	tests/tsan/fuzz_malloc.tsan
hak_tsan_progs = $(hak_tsan_direct) tests/tsan/tiers_thread_exit.tsan tests/tsan/tiers_span.tsan \
	tests/tsan/tiers_background.tsan
EXTRA_PROGRAMS += $(hak_tsan_progs)
CLEANFILES += $(hak_tsan_progs) $(EXTRA_LIBRARIES)
EXTRA_DIST += tests/tsan/hak_tsan.h tests/tsan/thread_exit.sh tests/tsan/span.sh \
	tests/tsan/background.sh

hak_tsan_tests = $(hak_tsan_direct) tests/tsan/thread_exit.sh tests/tsan/span.sh \
	tests/tsan/background.sh

hak_tsan_prog_cflags = $(AM_CFLAGS) $(hak_tsan_cflags) -include $(srcdir)/tests/tsan/hak_tsan.h
hak_tsan_libs = tests/tsan/libhakmem_tsan.a
hak_tsan_link = -fsanitize=thread

tests_tsan_test_threads_handoff_tsan_SOURCES = tests/test_threads_handoff.c tests/tap.h
tests_tsan_test_threads_handoff_tsan_CFLAGS = $(hak_tsan_prog_cflags)
tests_tsan_test_threads_handoff_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_test_threads_handoff_tsan_LDFLAGS = $(hak_tsan_link)

tests_tsan_test_fork_threads_tsan_SOURCES = tests/test_fork_threads.c tests/tap.h
tests_tsan_test_fork_threads_tsan_CFLAGS = $(hak_tsan_prog_cflags)
tests_tsan_test_fork_threads_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_test_fork_threads_tsan_LDFLAGS = $(hak_tsan_link)

tests_tsan_test_thread_churn_tsan_SOURCES = tests/test_thread_churn.c tests/tap.h
tests_tsan_test_thread_churn_tsan_CFLAGS = $(hak_tsan_prog_cflags)
tests_tsan_test_thread_churn_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_test_thread_churn_tsan_LDFLAGS = $(hak_tsan_link)

tests_tsan_tiers_thread_exit_tsan_SOURCES = tests/tiers/tiers_thread_exit.c tests/tiers/tiers.h tests/tap.h
tests_tsan_tiers_thread_exit_tsan_CFLAGS = $(hak_tsan_prog_cflags) -fno-builtin
tests_tsan_tiers_thread_exit_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_tiers_thread_exit_tsan_LDFLAGS = $(hak_tsan_link)

tests_tsan_tiers_span_tsan_SOURCES = tests/tiers/tiers_span.c tests/tiers/tiers.h tests/tap.h
tests_tsan_tiers_span_tsan_CFLAGS = $(hak_tsan_prog_cflags) -fno-builtin
tests_tsan_tiers_span_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_tiers_span_tsan_LDFLAGS = $(hak_tsan_link)

tests_tsan_tiers_background_tsan_SOURCES = tests/tiers/tiers_background.c tests/tiers/tiers.h tests/tap.h
tests_tsan_tiers_background_tsan_CFLAGS = $(hak_tsan_prog_cflags) -fno-builtin
tests_tsan_tiers_background_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_tiers_background_tsan_LDFLAGS = $(hak_tsan_link)

# The fuzzer runs fewer operations here: ThreadSanitizer makes it some ten times slower.
tests_tsan_fuzz_malloc_tsan_SOURCES = tests/fuzz_malloc.c tests/tap.h
tests_tsan_fuzz_malloc_tsan_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_DEFAULT_OPS=10000
tests_tsan_fuzz_malloc_tsan_CFLAGS = $(hak_tsan_prog_cflags) -Wno-alloc-size-larger-than
tests_tsan_fuzz_malloc_tsan_LDADD = $(hak_tsan_libs)
tests_tsan_fuzz_malloc_tsan_LDFLAGS = $(hak_tsan_link)

TEST_EXTENSIONS += .tsan
TSAN_LOG_DRIVER = $(LOG_DRIVER)
TSAN_LOG_COMPILER = $(LOG_COMPILER)

check-tsan: $(hak_tsan_progs)
	TSAN_OPTIONS="exitcode=66 $${TSAN_OPTIONS-}"; export TSAN_OPTIONS; \
	$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(hak_tsan_tests)' TEST_SUITE_LOG=test-suite-tsan.log

.PHONY: check-tsan
