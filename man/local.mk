# Manual pages (man/).  The ENVIRONMENT entries of hakmem(7) are generated from the options table
# (src/options.h) by tools/gen-options-man: "make update-man" rewrites them in the source tree, and
# tests/install/man-options.sh fails when the committed page and the table differ.  Every variable
# also gets a page of its own name, HAKMEM_NAME(7), made at install time from the table: a one-line
# ".so man7/hakmem.7", so that "man HAKMEM_NAME" opens hakmem(7).
dist_man_MANS = man/hakmem.1 man/hakmem.3 man/hakmem.7 man/hakmem-preload.8

hak_option_names = $(HAK_EMULATOR) ./tools/gen-options-man$(EXEEXT) --names

install-data-local: install-hak-man-links
uninstall-local: uninstall-hak-man-links

install-hak-man-links: tools/gen-options-man$(EXEEXT)
	@$(NORMAL_INSTALL)
	$(MKDIR_P) '$(DESTDIR)$(man7dir)'
	@names=`$(hak_option_names)` || exit 1; \
	for n in $$names; do \
	  echo " $(DESTDIR)$(man7dir)/$$n.7 -> hakmem.7"; \
	  printf '.so man7/hakmem.7\n' > "$(DESTDIR)$(man7dir)/$$n.7" && \
	  chmod 644 "$(DESTDIR)$(man7dir)/$$n.7" || exit 1; \
	done

uninstall-hak-man-links: tools/gen-options-man$(EXEEXT)
	@$(NORMAL_UNINSTALL)
	@names=`$(hak_option_names)` || exit 1; \
	for n in $$names; do rm -f "$(DESTDIR)$(man7dir)/$$n.7"; done

update-man: tools/gen-options-man$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(HAK_EMULATOR) ./tools/gen-options-man$(EXEEXT) > man/options.roff.tmp && \
	$(SHELL) $(srcdir)/tools/options-man.sh splice $(srcdir)/man/hakmem.7 man/options.roff.tmp \
	  > man/hakmem.7.tmp && \
	rm -f man/options.roff.tmp && mv -f man/hakmem.7.tmp $(srcdir)/man/hakmem.7

.PHONY: install-hak-man-links uninstall-hak-man-links update-man
