# Distribution: Debian and RPM packages (debian/, rpm/), and the tests of what gets installed
# (tests/install/).
#
#   make check           also runs the quick tests below: manual pages, options table, launcher,
#                        hakmem-preload on throwaway trees and in a private mount namespace, and
#                        a set-user-ID program under /etc/ld.so.preload there, and the tests'
#                        own isolation from a hakmem the machine preloads
#   make deb             Debian packages from the dist tarball, into build-packages/deb/
#   make rpm             RPM packages from the dist tarball, into build-packages/rpm/
#   make lintian         lintian --fail-on error,warning on the Debian upload
#   make check-packages  all of the above, then the package tests: install into throwaway roots,
#                        run programs under the installed library, build against it
#
# DEB_BUILD_OPTIONS and RPMBUILD_FLAGS reach the package builds.  The builds run "make check"
# inside unless told not to.  check-packages lets the Debian build run it, as Debian builds the
# package (its configure flags, the multiarch libdir), and tells the RPM build not to
# (--nocheck) unless RPMBUILD_FLAGS is set: it would run the same tests once more.

hak_install_tests = \
	tests/install/man-lint.sh \
	tests/install/man-options.sh \
	tests/install/code-options.sh \
	tests/install/launcher.sh \
	tests/install/preload-root.sh \
	tests/install/preload-ns.sh \
	tests/install/preload-secure.sh \
	tests/install/system-preload.sh
TESTS += $(hak_install_tests)
dist_check_SCRIPTS += $(hak_install_tests)

hak_package_tests = \
	tests/install/pkg-destdir.sh \
	tests/install/pkg-deb.sh \
	tests/install/pkg-rpm.sh

# debian/ stays out of the release tarball, as Debian asks of upstream tarballs: "make deb" adds it
# from the source tree to the unpacked tarball, whose contents are then the 3.0 (quilt) upstream.
EXTRA_DIST += tests/install/tap-lib.sh $(hak_package_tests) rpm/hakmem.spec

# Under build*, which git ignores, in an in-tree build as in a VPATH one.
hak_pkgdir = build-packages

deb: dist-gzip
	$(SHELL) $(srcdir)/tools/make-deb.sh $(distdir).tar.gz $(srcdir)/debian $(hak_pkgdir)/deb

rpm: dist-gzip
	$(SHELL) $(srcdir)/tools/make-rpm.sh $(distdir).tar.gz $(hak_pkgdir)/rpm

lintian:
	@test -n "`ls $(hak_pkgdir)/deb/*.changes 2>/dev/null`" || $(MAKE) $(AM_MAKEFLAGS) deb
	lintian --fail-on error,warning --info $(hak_pkgdir)/deb/*.changes

# The package tests print TAP; each runs through the same driver as "make check".
check-packages:
	DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS-parallel=2}" $(MAKE) $(AM_MAKEFLAGS) deb
	RPMBUILD_FLAGS="$${RPMBUILD_FLAGS---nocheck}" $(MAKE) $(AM_MAKEFLAGS) rpm
	$(MAKE) $(AM_MAKEFLAGS) lintian
	@fail=0; for t in $(hak_package_tests); do \
	  b=$(hak_pkgdir)/`basename $$t .sh`; \
	  env srcdir='$(srcdir)' top_builddir='$(top_builddir)' HAK_PKG_DIR='$(hak_pkgdir)' \
	    HAK_TARBALL='$(distdir).tar.gz' MAKE='$(MAKE)' \
	    $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh --test-name $$t \
	    --log-file $$b.log --trs-file $$b.trs --color-tests no --enable-hard-errors yes \
	    --expect-failure no -- $(SHELL) $(srcdir)/$$t || fail=1; \
	  grep -q '^:global-test-result: \(PASS\|SKIP\)' $$b.trs || fail=1; \
	done; \
	if test $$fail = 0; then echo "check-packages: all passed"; \
	else echo "check-packages: FAILED; see $(hak_pkgdir)/*.log"; exit 1; fi

clean-local: clean-hak-packages
clean-hak-packages:
	-rm -rf $(hak_pkgdir)

.PHONY: deb rpm lintian check-packages clean-hak-packages
