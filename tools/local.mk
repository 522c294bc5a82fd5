# Tools (tools/): the hakmem launcher, hakmem-preload, the generator of hakmem(7)'s option list,
# and the scripts behind "make deb" and "make rpm" (packaging.mk).
#
# The two commands are shell scripts made from their .in files by make, not configure, so that the
# library path they carry is $(libdir) as make sees it ("make libdir=..." and DESTDIR both work).
bin_SCRIPTS = tools/hakmem
sbin_SCRIPTS = tools/hakmem-preload
CLEANFILES += tools/hakmem tools/hakmem-preload
EXTRA_DIST += tools/hakmem.in tools/hakmem-preload.in tools/options-man.sh \
	tools/make-deb.sh tools/make-rpm.sh

hak_edit_script = sed -e 's|@libdir[@]|$(libdir)|g' -e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g'

# The launcher's --set knows the variable names: they are read from the rows of src/options.h
# here, not printed by tools/gen-options-man, which a cross build cannot run
# (tests/install/launcher.sh checks that the two agree).
hak_option_rows = sed -n -e 's/^ *X(\([A-Z0-9_]*\),.*/HAKMEM_\1/p' \
	-e 's/^\#define HAK_OPTION_ALIASES(A) A(\([A-Z0-9_]*\),.*/HAKMEM_\1/p' $(srcdir)/src/options.h

tools/hakmem: $(srcdir)/tools/hakmem.in $(srcdir)/src/options.h Makefile
	$(AM_V_GEN)$(MKDIR_P) tools && rm -f $@ $@.tmp && \
	names=`$(hak_option_rows) | tr '\n' ' '` && test -n "$$names" && \
	$(hak_edit_script) -e "s|@OPTION_NAMES[@]|$${names% }|g" $(srcdir)/tools/hakmem.in > $@.tmp && \
	chmod +x $@.tmp && mv -f $@.tmp $@

tools/hakmem-preload: $(srcdir)/tools/hakmem-preload.in Makefile
	$(AM_V_GEN)$(MKDIR_P) tools && rm -f $@ $@.tmp && \
	$(hak_edit_script) $(srcdir)/tools/hakmem-preload.in > $@.tmp && chmod +x $@.tmp && mv -f $@.tmp $@

# A build tool: prints hakmem(7)'s ENVIRONMENT entries, or the variable names, from src/options.h.
noinst_PROGRAMS += tools/gen-options-man
tools_gen_options_man_SOURCES = tools/gen-options-man.c src/options.h
