# tests/cross: what matters most on other CPUs and page sizes.  They run in every make check,
# and under QEMU with 4, 16 and 64 KiB pages in make check-cross (cross.mk).
#   test_arch_shim: arch/<cpu>/hak_arch.h builds, hak_cycles ticks, hak_cpu_relax runs.
#   test_pagesize:  the page size seen is the one asked for, and hakmem's page-sized and large
#                   blocks follow it.

HAK_CROSS_TESTS = tests/cross/test_arch_shim tests/cross/test_pagesize
check_PROGRAMS += $(HAK_CROSS_TESTS)
TESTS += $(HAK_CROSS_TESTS)

tests_cross_test_arch_shim_SOURCES = tests/cross/test_arch_shim.c tests/tap.h

tests_cross_test_pagesize_SOURCES = tests/cross/test_pagesize.c tests/tap.h
tests_cross_test_pagesize_LDADD = libhakmem.la
tests_cross_test_pagesize_LDFLAGS = -no-install
tests_cross_test_pagesize_CFLAGS = $(AM_CFLAGS) -fno-builtin
