# make check: TAP test programs and scripts (tests/).
#
# Every test speaks TAP through build-aux/tap-driver.sh.  Test programs are linked with
# libhakmem (-no-install: real binaries, not libtool wrappers), which makes hakmem their malloc;
# they run as "$(HAK_EMULATOR) prog", so a cross build runs them under QEMU.  Scripts run on the
# build machine and get what they need from AM_TESTS_ENVIRONMENT.

# Every test runs through tests/no-system-preload.sh, so that a machine that preloads an installed
# hakmem (/etc/ld.so.preload) tests this build's library all the same.
TEST_EXTENSIONS = .sh
hak_no_preload = $(SHELL) $(top_srcdir)/tests/no-system-preload.sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
LOG_COMPILER = $(hak_no_preload) $(HAK_EMULATOR)
SH_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_COMPILER = $(hak_no_preload) $(SHELL)
EXTRA_DIST += tests/no-system-preload.sh

# HAK_LIB is the shared library as built (libtool keeps it in .libs); empty for static-only builds.
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(top_builddir)'; top_srcdir='$(top_srcdir)'; srcdir='$(srcdir)'; \
	HAK_EMULATOR='$(HAK_EMULATOR)'; NM='$(NM)'; EXEEXT='$(EXEEXT)'; \
	HAK_LIB=`sed -n "s/^dlname='\(.*\)'/\1/p" $(top_builddir)/libhakmem.la`; \
	test -z "$$HAK_LIB" || HAK_LIB=`cd $(top_builddir)/.libs && pwd`/$$HAK_LIB; \
	export top_builddir top_srcdir srcdir HAK_EMULATOR NM EXEEXT HAK_LIB;

hak_test_libs = libhakmem.la
hak_test_link = -no-install

# One concern per program (STYLE.md item 10).
hak_test_progs = \
	tests/test_api \
	tests/test_realloc_tiers \
	tests/test_calloc_reuse \
	tests/test_alignment \
	tests/test_overlap \
	tests/test_threads_handoff \
	tests/test_fork_threads \
	tests/test_thread_churn \
	tests/test_misuse \
	tests/test_dispatch

check_PROGRAMS += $(hak_test_progs)
TESTS += $(hak_test_progs)

tests_test_api_SOURCES = tests/test_api.c tests/tap.h
tests_test_api_LDADD = $(hak_test_libs)
tests_test_api_LDFLAGS = $(hak_test_link)
# The contracts test calls malloc with absurd sizes on purpose.
tests_test_api_CFLAGS = $(AM_CFLAGS) -fno-builtin -Wno-alloc-size-larger-than -Wno-use-after-free \
	-Wno-deprecated-declarations

tests_test_realloc_tiers_SOURCES = tests/test_realloc_tiers.c tests/tap.h
tests_test_realloc_tiers_LDADD = $(hak_test_libs)
tests_test_realloc_tiers_LDFLAGS = $(hak_test_link)

tests_test_calloc_reuse_SOURCES = tests/test_calloc_reuse.c tests/tap.h
tests_test_calloc_reuse_LDADD = $(hak_test_libs)
tests_test_calloc_reuse_LDFLAGS = $(hak_test_link)
tests_test_calloc_reuse_CFLAGS = $(AM_CFLAGS) -fno-builtin

tests_test_dispatch_SOURCES = tests/test_dispatch.c tests/tap.h
tests_test_dispatch_LDADD = $(hak_test_libs)
tests_test_dispatch_LDFLAGS = $(hak_test_link)
tests_test_dispatch_CFLAGS = $(AM_CFLAGS) -fno-builtin

tests_test_alignment_SOURCES = tests/test_alignment.c tests/tap.h
tests_test_alignment_LDADD = $(hak_test_libs)
tests_test_alignment_LDFLAGS = $(hak_test_link)

tests_test_overlap_SOURCES = tests/test_overlap.c tests/tap.h
tests_test_overlap_LDADD = $(hak_test_libs)
tests_test_overlap_LDFLAGS = $(hak_test_link)

tests_test_threads_handoff_SOURCES = tests/test_threads_handoff.c tests/tap.h
tests_test_threads_handoff_LDADD = $(hak_test_libs)
tests_test_threads_handoff_LDFLAGS = $(hak_test_link)

tests_test_fork_threads_SOURCES = tests/test_fork_threads.c tests/tap.h
tests_test_fork_threads_LDADD = $(hak_test_libs)
tests_test_fork_threads_LDFLAGS = $(hak_test_link)

tests_test_thread_churn_SOURCES = tests/test_thread_churn.c tests/tap.h
tests_test_thread_churn_LDADD = $(hak_test_libs)
tests_test_thread_churn_LDFLAGS = $(hak_test_link)

tests_test_misuse_SOURCES = tests/test_misuse.c tests/tap.h
tests_test_misuse_LDADD = $(hak_test_libs)
tests_test_misuse_LDFLAGS = $(hak_test_link)
tests_test_misuse_CFLAGS = $(AM_CFLAGS) -fno-builtin -Wno-free-nonheap-object

# The block test of free's fast path against its definition, over every class: it reads the
# library's hidden class tables, so it is linked with the static library.
if HAK_STATIC
check_PROGRAMS += tests/test_block_check
TESTS += tests/test_block_check
tests_test_block_check_SOURCES = tests/test_block_check.c tests/tap.h
tests_test_block_check_LDADD = $(hak_test_libs)
tests_test_block_check_LDFLAGS = $(hak_test_link) -static
endif

# Helpers the scripts run; not tests themselves.
# test_alloc_probe is linked with hakmem and allocates in every tier (tests/options.sh).
# test_preload_probe is not: it gets hakmem only through LD_PRELOAD (tests/preload_programs.sh).
# Nor is test_secure_probe, which tests/install/preload-secure.sh makes set-user-ID root.
check_PROGRAMS += tests/test_alloc_probe tests/test_preload_probe tests/test_secure_probe
tests_test_alloc_probe_SOURCES = tests/test_alloc_probe.c tests/hakmem_mapped.h
tests_test_alloc_probe_LDADD = $(hak_test_libs)
tests_test_alloc_probe_LDFLAGS = $(hak_test_link)
tests_test_preload_probe_SOURCES = tests/test_preload_probe.c tests/hakmem_mapped.h
tests_test_preload_probe_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_test_secure_probe_SOURCES = tests/test_secure_probe.c tests/hakmem_mapped.h
tests_test_secure_probe_CFLAGS = $(AM_CFLAGS) -fno-builtin

hak_test_scripts = tests/exports.sh tests/options.sh tests/preload_programs.sh
dist_check_SCRIPTS += $(hak_test_scripts) tests/tap.sh
TESTS += $(hak_test_scripts)

# The fuzzer (tests/fuzz_malloc.c): a short run with a new seed each time in make check, a long
# one with make fuzz.  FUZZ_SEED replays a run (its seed is printed), FUZZ_OPS is the count of
# operations per thread, FUZZ_THREADS the threads.
check_PROGRAMS += tests/fuzz_malloc
TESTS += tests/fuzz_malloc
tests_fuzz_malloc_SOURCES = tests/fuzz_malloc.c tests/tap.h
tests_fuzz_malloc_LDADD = $(hak_test_libs)
tests_fuzz_malloc_LDFLAGS = $(hak_test_link)
# The compiler must not drop the calls that must fail, nor a malloc whose block is unused.
hak_fuzz_cflags = -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
	-fno-builtin-aligned_alloc
tests_fuzz_malloc_CFLAGS = $(AM_CFLAGS) $(hak_fuzz_cflags) -Wno-alloc-size-larger-than

FUZZ_OPS = 5000000
FUZZ_THREADS = 4
FUZZ_SEED =
fuzz: tests/fuzz_malloc$(EXEEXT)
	$(HAK_EMULATOR) tests/fuzz_malloc$(EXEEXT) --ops $(FUZZ_OPS) --threads $(FUZZ_THREADS) \
	  $(FUZZ_SEED:%=--seed %)

.PHONY: fuzz
