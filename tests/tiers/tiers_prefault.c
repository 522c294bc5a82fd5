/* HAKMEM_SS_PREFAULT=1: the first small malloc maps a SuperSlab and faults all of it in, so RSS
 * grows by about a SuperSlab (2 MiB) at once; without it only the pages touched so far are
 * resident.  Argument: 1 if the wrapper set HAKMEM_SS_PREFAULT=1, 0 if not.  Prints
 * "# rss_delta=BYTES" for the wrapper to compare the two runs. */
#include <errno.h>
#include <sys/mman.h>

#include "tiers.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Whether this kernel has MADV_POPULATE_WRITE (5.14+); hakmem skips it silently if not. */
static int kernel_can_populate(void)
{
  size_t pg = page_size();
  void *m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 0;
  int r = madvise(m, pg, MADV_POPULATE_WRITE);
  munmap(m, pg);
  return r == 0;
}

/* With transparent huge pages always on, the first touch of a SuperSlab may fault in 2 MiB. */
static int thp_always(void)
{
  char buf[128];
  int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return strstr(buf, "[always]") != NULL;
}

int main(int argc, char **argv)
{
  int prefault = argc > 1 && atoi(argv[1]) == 1;
  plan(4);
  watchdog(30);
  struct mallinfo2 m0 = mallinfo2();
  /* A size whose kind has no SuperSlab yet, so that this malloc maps one. */
  size_t n = m0.smblks == 0 ? 16 : 8 * KiB;
  size_t r0 = rss_bytes();
  char *p = malloc(n);
  size_t r1 = rss_bytes();
  struct mallinfo2 m1 = mallinfo2();
  ok(p != NULL, "malloc(%zu) works with HAKMEM_SS_PREFAULT=%d", n, prefault);
  memset(p, 7, n);
  free(p);
  ok(m1.smblks == m0.smblks + 1, "that malloc mapped one SuperSlab (smblks %zu -> %zu)", m0.smblks,
     m1.smblks);
  size_t delta = r1 > r0 ? r1 - r0 : 0;
  diag("rss_delta=%zu", delta);
  if (emulated()) {
    skip(2, "RSS of an emulated process does not show the guest's page faults");
  } else if (prefault && !kernel_can_populate()) {
    skip(2, "the kernel has no MADV_POPULATE_WRITE");
  } else if (prefault) {
    ok(delta >= SS_SIZE - SS_SIZE / 8, "RSS grew by about a SuperSlab (%.2f MiB)", mib(delta));
    ok(delta <= SS_SIZE + SS_SIZE / 2, "and not by much more (%.2f MiB)", mib(delta));
  } else if (thp_always()) {
    skip(2, "transparent huge pages are always on: a first touch may fault 2 MiB");
  } else {
    ok(delta < SS_SIZE / 2, "without prefault RSS grew by less than half a SuperSlab (%.2f MiB)",
       mib(delta));
    skip(1, "only with prefault");
  }
  return exit_status();
}
