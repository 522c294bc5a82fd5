/* Test o: a process whose memory is locked (mlockall with MCL_FUTURE) gets calloc'd memory that
 * reads as zero, also where hakmem took a purge for a zeroing: MADV_DONTNEED fails with EINVAL
 * on locked pages, so a purged page keeps what it held.  A large block written full and freed
 * stays in the BigCache; after the purge delay (0 here) a purge is tried and refused; calloc of
 * the same size takes the cached mapping back and must clear it.  The same for L2.5 blocks that
 * start on a page (after a live block that ends on one), whose pages are their own, freed and
 * purged past a bound of 0 MiB.
 * Without the right to lock that much memory (RLIMIT_MEMLOCK for a user), it is skipped. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include "tiers.h"

#define LARGE (3 * MiB)
#define SPAN (256 * KiB)
#define NSPAN 4

static size_t nonzero(const unsigned char *p, size_t n)
{
  size_t bad = 0;
  for (size_t i = 0; i < n; i += 512) bad += p[i] != 0;
  return bad + (p[n - 1] != 0);
}

int main(void)
{
  watchdog(60);
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    char why[128];
    snprintf(why, sizeof why, "mlockall: %s (no right to lock memory here)", strerror(errno));
    skip_all(why);
  }
  /* where the locked-memory limit is small (RLIMIT_MEMLOCK, without CAP_IPC_LOCK), the
   * mappings the test needs cannot be locked: malloc fails, and there is nothing to test */
  void *probe = malloc(16 * MiB);
  if (!probe) {
    munlockall();
    skip_all("the locked-memory limit is too small for the test's mappings");
  }
  free(probe);
  plan(3);
  unsigned char *p = malloc(LARGE);
  if (!p) bail_out("malloc failed");
  memset(p, 0xaa, LARGE);
  free(p);
  struct mallinfo2 m = mallinfo2();
  sleep_ms(150); /* housekeeping runs at most every 100 ms */
  unsigned char *q = calloc(1, LARGE);
  if (!q) bail_out("calloc failed");
  struct mallinfo2 m2 = mallinfo2();
  diag("BigCache hits %zu before the calloc, %zu after; same block %s", m.keepcost, m2.keepcost,
       p == q ? "yes" : "no");
  ok(m2.keepcost > m.keepcost, "calloc took the cached mapping back (hits %zu -> %zu)",
     m.keepcost, m2.keepcost);
  ok(nonzero(q, LARGE) == 0, "calloc'd memory from a mapping whose purge was refused reads as "
     "zero (%zu bytes looked at were not)", nonzero(q, LARGE));
  free(q);

  /* a live block of 126 KiB after the region's 2 KiB header: what follows starts on a page */
  void *pad = malloc(126 * KiB);
  if (!pad) bail_out("malloc failed");
  void *s[NSPAN];
  for (int i = 0; i < NSPAN; i++) {
    if (posix_memalign(&s[i], 64 * KiB, SPAN) != 0) bail_out("posix_memalign failed");
    memset(s[i], 0xaa, SPAN);
  }
  for (int i = 0; i < NSPAN; i++) free(s[i]);
  size_t bad = 0;
  for (int i = 0; i < NSPAN; i++) {
    unsigned char *c = calloc(1, SPAN);
    if (!c) bail_out("calloc failed");
    bad += nonzero(c, SPAN);
    s[i] = c;
  }
  ok(bad == 0, "calloc'd L2.5 blocks over pages whose purge was refused read as zero (%zu not)",
     bad);
  for (int i = 0; i < NSPAN; i++) free(s[i]);
  free(pad);
  return exit_status();
}
