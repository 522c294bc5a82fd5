/* Test p: a munmap the kernel refuses (ENOMEM, as for a cut that would need a map entry past
 * vm.max_map_count) leaves a large block's mapping whole and counted, where hakmem cuts off a
 * tail: a realloc that shrinks a block in place, and a cached mapping taken for a much smaller
 * request.  This program defines munmap, so that libhakmem's calls come here; while `refuse`
 * is set every one fails.  Once it is cleared, the block is freed and malloc_trim(0) gives the
 * cache back: the whole mapping must then be gone (mincore fails on the block's last page) and
 * the bytes hakmem counts as mapped (mallinfo2's arena) back where they were.
 *
 * Where the munmap of a whole mapping is refused (a large block past the BigCache's largest
 * bucket, which free gives back at once), its pages must go back all the same, the bytes stop
 * counting, and its regions serve as the next SuperSlabs, which need no new mapping. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "tiers.h"

#define BIG (16 * MiB)
#define SMALL (5 * MiB) /* a shrink to it gives back more than half, and its BigCache bucket
                          * is more than 4 (BC_KEEP_UP) below BIG's */

static volatile int refuse; /* volatile: set around calls the compiler may think cannot read it */
static volatile unsigned refused;

int munmap(void *addr, size_t len)
{
  if (refuse) {
    refused++;
    errno = ENOMEM;
    return -1;
  }
  return (int)syscall(SYS_munmap, addr, len);
}

/* 1 if the page at p holds memory, 0 if not, -1 if it is not mapped. */
static int resident(const void *p)
{
  /* room for a byte per 4 KiB: QEMU passes the call to a host whose pages may be smaller than
   * the guest's (16 bytes for one 64 KiB guest page) */
  unsigned char v[64];
  void *page = (void *)((uintptr_t)p & ~(uintptr_t)(page_size() - 1));
  return mincore(page, page_size(), v) == 0 ? v[0] & 1 : -1;
}

static int mapped(const void *p)
{
  return resident(p) >= 0;
}

static size_t arena(void)
{
  return mallinfo2().arena;
}

/* The last byte of a large block p of BIG bytes: in the tail that a cut to SMALL gives back. */
static const char *last_byte(const void *p)
{
  return (const char *)p + BIG - 1;
}

static void after(const char *what, const char *end, size_t before)
{
  malloc_trim(0);
  ok(!mapped(end), "%s: the mapping's tail is unmapped once the block is freed and trimmed",
     what);
  ok(arena() == before, "%s: bytes mapped back to %zu (now %zu)", what, before, arena());
}

int main(void)
{
  watchdog(60);
  plan(12);
  size_t before = arena();

  /* realloc that shrinks in place */
  char *p = malloc(BIG);
  touch(p, BIG, 1);
  const char *end = last_byte(p);
  size_t with = arena();
  refuse = 1;
  char *q = realloc(p, SMALL);
  refuse = 0;
  ok(q != NULL && refused > 0, "realloc to %zu MiB tried a munmap (%u refused)", SMALL / MiB,
     refused);
  ok(arena() == with && mapped(end), "realloc: a refused cut leaves the mapping whole and counted");
  free(q);
  after("realloc", end, before);

  /* a cached mapping taken for a request of a bucket much lower */
  p = malloc(BIG);
  touch(p, BIG, 2);
  end = last_byte(p);
  free(p);
  with = arena();
  refused = 0;
  refuse = 1;
  q = malloc(SMALL);
  refuse = 0;
  ok(q == p && refused > 0, "malloc(%zu MiB) took the cached %zu MiB mapping (%u refused)",
     SMALL / MiB, BIG / MiB, refused);
  ok(arena() == with && mapped(end), "cache: a refused cut leaves the mapping whole and counted");
  free(q);
  after("cache", end, before);

  /* a whole mapping: free of a block larger than any cached one (HUGE maps exactly 33 regions,
   * its header included) */
  size_t huge = 66 * MiB - 256;
  p = malloc(huge);
  touch(p, huge, 3);
  char *region = (char *)((uintptr_t)p & ~(uintptr_t)(SS_SIZE - 1));
  refused = 0;
  refuse = 1;
  free(p);
  refuse = 0;
  ok(refused > 0, "free of a %zu MiB block tried a munmap (%u refused)", huge / MiB + 1, refused);
  ok(arena() == before, "whole: a refused unmap stops counting the bytes (%zu, before %zu)",
     arena(), before);
  ok(resident(region + 8 * MiB) == 0 && resident(p + huge - 1) == 0,
     "whole: the pages of a mapping whose unmap was refused went back (%d, %d)",
     resident(region + 8 * MiB), resident(p + huge - 1));
  enum { N = 16384 }; /* 1000-byte blocks: 8 SuperSlabs' worth */
  static char *small[N];
  unsigned inside = 0, zero = 1;
  for (unsigned i = 0; i < N; i++) {
    small[i] = malloc(1000);
    if ((uintptr_t)(small[i] - region) < 66 * MiB) {
      inside++;
      zero &= small[i][999] == 0; /* carved from a region that reads as zero */
    }
    memset(small[i], 4, 1000);
  }
  ok(inside > 0 && zero, "whole: its regions serve as SuperSlabs again (%u of %u blocks there)",
     inside, (unsigned)N);
  for (unsigned i = 0; i < N; i++) free(small[i]);
  return exit_status();
}
