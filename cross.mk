# Other CPUs and page sizes.
#
# make check-cross builds hakmem for aarch64 in $(HAK_CROSS_DIR) (configured with
# --host=$(HAK_CROSS_HOST) and the debug checks on) and runs its whole make check under
# qemu-user three times: with the host's pages, then with 16 KiB and 64 KiB pages.  It needs
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user; see tests/cross/check-cross.sh.
# Remove $(HAK_CROSS_DIR) (make clean-cross) after changing HAK_CROSS_CONFIGURE_FLAGS.

include $(srcdir)/tests/cross/local.mk

# --enable-debug-checks (configure.ac): HAK_DEBUG, the page-alignment checks in os_linux.c.
AM_CPPFLAGS += $(HAK_DEBUG_CPPFLAGS)

HAK_CROSS_HOST = aarch64-linux-gnu
HAK_CROSS_DIR = $(abs_top_builddir)/cross-aarch64
HAK_CROSS_PAGES = default 16384 65536
HAK_CROSS_CONFIGURE_FLAGS = --enable-debug-checks

check-cross:
	@srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' build='$(build)' \
	  host='$(HAK_CROSS_HOST)' dir='$(HAK_CROSS_DIR)' pages='$(HAK_CROSS_PAGES)' \
	  configure_flags='$(HAK_CROSS_CONFIGURE_FLAGS)' MAKE='$(MAKE)' \
	  $(SHELL) $(srcdir)/tests/cross/check-cross.sh

clean-cross:
	-rm -rf '$(HAK_CROSS_DIR)'

EXTRA_DIST += tests/cross/check-cross.sh
.PHONY: check-cross clean-cross
