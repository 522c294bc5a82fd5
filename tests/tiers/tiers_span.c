/* The L2.5 tier (blocks above 64 KiB up to about 1 MiB, and alignments up to 1 MiB), one
 * concern per mode (the wrapper sets the options):
 *   live     many live blocks of 70 KB and 300 KB take few mappings (lines of /proc/self/maps),
 *            do not overlap, keep their contents, and all go back when freed;
 *   purge    the free pages of a region that still holds blocks go back to the OS once they
 *            have been free for HAKMEM_SLAB_PURGE_MS (checked by the next L2.5 request);
 *   young    a block freed into a region that has had free pages for a while keeps its pages
 *            for the whole delay too, not only until the region's older free pages go;
 *   bound    with a long purge delay, HAKMEM_EMPTY_MAX_MB bounds them right after the frees;
 *   share    holes in a heap much larger than HAKMEM_EMPTY_MAX_MB keep their pages within
 *            HAKMEM_EMPTY_MAX_PERCENT of it, and the heap freed whole comes back to the bound;
 *   packing  blocks of 64 KiB..1 MB replaced at random fill the regions they take: a request takes
 *            the shortest free run that fits, within a quarter, not a run twice its size or a
 *            fresh region;
 *   align    posix_memalign, aligned_alloc and memalign from 64 KiB to 1 MiB alignment, small
 *            and L2.5 sizes, served from spans (few mappings), and beyond, from the large tier;
 *   threads  blocks freed by other threads than the one that made them, the threads exiting:
 *            nothing is lost and the regions go back. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>

#include "tiers.h"

static long count_maps(void)
{
  static char buf[1 << 16];
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return -1;
  long lines = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
  close(fd);
  return lines;
}

static int cmp_ptr(const void *a, const void *b)
{
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

/* n blocks of size bytes, first and last byte stamped: few mappings, disjoint, intact. */
static void live(size_t n, size_t size)
{
  unsigned char **v = calloc(n, sizeof *v);
  uintptr_t *sorted = calloc(n, sizeof *sorted);
  if (!v || !sorted) bail_out("calloc for the test's own arrays failed");
  long maps0 = count_maps();
  size_t got = 0, small = 0;
  for (size_t i = 0; i < n; i++) {
    if (!(v[i] = malloc(size))) break;
    got++;
    small += malloc_usable_size(v[i]) < size || ((uintptr_t)v[i] & 15);
    v[i][0] = (unsigned char)i;
    v[i][size - 1] = (unsigned char)(i >> 8);
  }
  long maps1 = count_maps();
  ok(got == n, "%zu blocks of %zu B allocated (%zu)", n, size, got);
  ok(small == 0, "each is 16-byte aligned with a usable size of at least %zu B (%zu not)", size,
     small);
  ok(maps1 - maps0 < 100, "they added %ld mappings (fewer than 100)", maps1 - maps0);
  for (size_t i = 0; i < got; i++) sorted[i] = (uintptr_t)v[i];
  qsort(sorted, got, sizeof *sorted, cmp_ptr);
  size_t overlaps = 0;
  for (size_t i = 1; i < got; i++)
    overlaps += sorted[i - 1] + malloc_usable_size((void *)sorted[i - 1]) > sorted[i];
  ok(overlaps == 0, "no two blocks overlap (%zu do)", overlaps);
  size_t bad = 0;
  for (size_t i = 0; i < got; i++) {
    bad += v[i][0] != (unsigned char)i || v[i][size - 1] != (unsigned char)(i >> 8);
    free(v[i]);
  }
  ok(bad == 0, "every block kept both of its stamped bytes (%zu did not)", bad);
  free(v);
  free(sorted);
}

#define NB 64
#define BSIZE (256 * KiB)

/* NB blocks of BSIZE written through, then every other one freed: half the bytes are free
 * pages of regions that still hold blocks.  Returns the RSS drop the frees made at once. */
static long half_free(unsigned char **v, size_t *before, size_t *after)
{
  for (unsigned i = 0; i < NB; i++) {
    if (!(v[i] = malloc(BSIZE))) bail_out("malloc of a 256 KiB block failed");
    memset(v[i], (int)i + 1, BSIZE);
  }
  *before = rss_bytes();
  for (unsigned i = 0; i < NB; i += 2) free(v[i]);
  *after = rss_bytes();
  return (long)*before - (long)*after;
}

static size_t kept_intact(unsigned char **v)
{
  size_t bad = 0;
  for (unsigned i = 1; i < NB; i += 2) {
    bad += v[i][0] != (unsigned char)(i + 1) || v[i][BSIZE - 1] != (unsigned char)(i + 1);
    free(v[i]);
  }
  return bad;
}

static void purge(unsigned delay_ms)
{
  unsigned char *v[NB];
  size_t r0, r1;
  half_free(v, &r0, &r1);
  size_t freed = NB / 2 * BSIZE;
  sleep_ms(delay_ms * 2 + 200);
  size_t r2 = rss_bytes();
  free(malloc(100 * KiB)); /* an L2.5 request: the time bounds are checked */
  size_t r3 = rss_bytes();
  diag("RSS %.1f MiB written, %.1f after freeing %.1f MiB, %.1f after %u ms, %.1f after one "
       "more request", mib(r0), mib(r1), mib(freed), mib(r2), delay_ms * 2 + 200, mib(r3));
  check_purge_delay(r0, r1, r2, r3, freed, "freed spans");
  ok(kept_intact(v) == 0, "the blocks left kept their contents");
}

/* Pages wholly inside [p, p + n) that the kernel holds, and how many there are. */
static size_t held_pages(const void *p, size_t n, size_t *pages)
{
  size_t pg = page_size();
  uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(pg - 1), hi = ((uintptr_t)p + n) & ~(pg - 1);
  unsigned char vec[256];
  *pages = (hi - lo) / pg;
  if (*pages > sizeof vec || mincore((void *)lo, hi - lo, vec) != 0)
    bail_out(errno ? "mincore of a freed block failed" : "a freed block has too many pages");
  size_t held = 0;
  for (size_t i = 0; i < *pages; i++) held += vec[i] & 1;
  return held;
}

/* Block a is freed, and most of a delay later block b of the same region; past the delay after
 * a's free (b's a fifth of it: a stall of 0.8 delays would be needed to make b due), an L2.5
 * request purges a's pages and leaves b's; past b's delay, b's go. */
static void young(unsigned delay_ms)
{
  unsigned char *v[6];
  for (unsigned i = 0; i < 6; i++) {
    if (!(v[i] = malloc(BSIZE))) bail_out("malloc of a 256 KiB block failed");
    memset(v[i], (int)i + 1, BSIZE);
  }
  unsigned char *a = v[1], *b = v[3];
  if ((uintptr_t)a / SS_SIZE != (uintptr_t)b / SS_SIZE)
    bail_out("the first and fourth 256 KiB blocks are not in one region");
  size_t pages;
  free(a);
  sleep_ms(delay_ms * 9 / 10);
  free(b);
  sleep_ms(delay_ms * 2 / 10);
  free(malloc(100 * KiB)); /* an L2.5 request: the time bounds are checked */
  size_t held_a = held_pages(a, BSIZE, &pages), held_b = held_pages(b, BSIZE, &pages);
  diag("1.1 delays after the first free: %zu of %zu pages held of the first block, %zu of the "
       "second", held_a, pages, held_b);
  ok(held_a == 0, "the block freed a delay ago gave its pages back (%zu of %zu held)", held_a,
     pages);
  ok(held_b == pages, "the block freed since kept its pages (%zu of %zu held)", held_b, pages);
  sleep_ms(delay_ms * 12 / 10);
  free(malloc(100 * KiB));
  held_b = held_pages(b, BSIZE, &pages);
  ok(held_b == 0, "past its own delay it gave them back too (%zu of %zu held)", held_b, pages);
  for (unsigned i = 0; i < 6; i++)
    if (i != 1 && i != 3) free(v[i]);
}

static void bound(size_t max_mb)
{
  unsigned char *v[NB];
  size_t r0, r1;
  long drop = half_free(v, &r0, &r1);
  size_t freed = NB / 2 * BSIZE;
  diag("RSS %.1f MiB written, %.1f right after freeing %.1f MiB; bound %zu MiB", mib(r0), mib(r1),
       mib(freed), max_mb);
  if (emulated())
    skip(1, "an emulator's RSS includes its own translated code");
  else
    ok(drop >= (long)(freed - max_mb * MiB - MiB), "right after the frees at most the bound stays "
       "(RSS -%.1f MiB)", mib(drop > 0 ? (size_t)drop : 0));
  ok(kept_intact(v) == 0, "the blocks left kept their contents");
}

/* 64 MiB of 256 KiB blocks, written; every fourth freed (16 MiB of holes), then the rest, with
 * a long purge delay and a bound of max_mb: with a share of pct percent of the memory in use,
 * the holes stay if they are within it, and go past the bound if not; right after the last
 * free, at most the bound stays. */
static void share(size_t max_mb, unsigned pct)
{
  enum { N = 256 };
  static unsigned char *v[N];
  size_t r0 = rss_bytes();
  for (unsigned i = 0; i < N; i++) {
    if (!(v[i] = malloc(BSIZE))) bail_out("malloc of a 256 KiB block failed");
    memset(v[i], (int)i + 1, BSIZE);
  }
  size_t r1 = rss_bytes(), mapped = mallinfo2().arena;
  for (unsigned i = 0; i < N; i += 4) free(v[i]);
  size_t r2 = rss_bytes(), holes = N / 4 * BSIZE;
  size_t bad = 0;
  for (unsigned i = 0; i < N; i++)
    if (i % 4) {
      bad += v[i][0] != (unsigned char)(i + 1) || v[i][BSIZE - 1] != (unsigned char)(i + 1);
      free(v[i]);
    }
  size_t r3 = rss_bytes();
  diag("RSS %.1f MiB at the start, %.1f written, %.1f after freeing %.1f MiB of holes, %.1f after "
       "the rest; bound %zu MiB, share %u%%", mib(r0), mib(r1), mib(r2), mib(holes), mib(r3),
       max_mb, pct);
  ok(bad == 0, "the blocks kept their contents");
  if (emulated()) {
    skip(2, "an emulator's RSS includes its own translated code");
    return;
  }
  long drop = (long)r1 - (long)r2;
  /* The memory in use is at least the blocks left, and at most what is mapped but the holes. */
  size_t least = HAK_TIERS_MAX(max_mb * MiB, (N - N / 4) * BSIZE / 100 * pct);
  size_t most = HAK_TIERS_MAX(max_mb * MiB, (mapped - holes) / 100 * pct);
  if (least >= holes + 2 * MiB)
    ok(drop < (long)(4 * MiB), "the holes, within the share, kept their pages (RSS -%.1f MiB)",
       mib(drop > 0 ? (size_t)drop : 0));
  else
    ok(drop >= (long)holes - (long)most - (long)MiB, "the holes, past the share, went back to "
       "the bound (RSS -%.1f MiB)", mib(drop > 0 ? (size_t)drop : 0));
  ok(r3 <= r0 + max_mb * MiB + 4 * MiB, "right after the last free at most the bound stays "
     "(%.1f MiB above the start)", mib(r3 > r0 ? r3 - r0 : 0));
}

/* Live bytes over the bytes mapped, with n blocks of 64 KiB..1 MB live after `churn` random
 * replacements (one thread, a fixed seed: the same layout every run). */
static void packing(unsigned n, unsigned churn)
{
  unsigned char **v = calloc(n, sizeof *v);
  size_t *size = calloc(n, sizeof *size), live = 0;
  uint64_t x = 88172645463325252ull;
  if (!v || !size) bail_out("out of memory");
  for (unsigned i = 0; i < n + churn; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned k = i < n ? i : (unsigned)(x % n);
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (v[k]) {
      free(v[k]);
      live -= size[k];
    }
    size[k] = 65537 + (size_t)(x % (1000000 - 65537));
    if (!(v[k] = malloc(size[k]))) bail_out("malloc of an L2.5 block failed");
    v[k][0] = v[k][size[k] - 1] = 1;
    live += size[k];
  }
  size_t mapped = mallinfo2().arena;
  double fill = (double)live / (double)mapped;
  ok(fill >= 0.82, "%u live blocks of 64 KiB..1 MB after %u replacements: %.1f MiB in %.1f MiB "
     "mapped (%.0f%%, at least 82%%)", n, churn, mib(live), mib(mapped), 100 * fill);
  for (unsigned i = 0; i < n; i++) free(v[i]);
  free(v);
  free(size);
}

static void align(void)
{
  static const size_t sizes[] = {1, 1000, 64 * KiB, 100 * KiB, 300 * KiB};
  size_t bad = 0, tried = 0;
  long maps0 = count_maps();
  void *keep[200];
  for (size_t a = 64 * KiB; a <= MiB; a *= 2)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      void *p = NULL;
      int e = posix_memalign(&p, a, n);
      tried++;
      if (e || !p || ((uintptr_t)p & (a - 1)) || malloc_usable_size(p) < n) {
        diag("posix_memalign(%zu, %zu) = %d, %p", a, n, e, p);
        bad++;
        continue;
      }
      memset(p, 0x5a, n);
      free(p);
    }
  ok(bad == 0, "posix_memalign: %zu of %zu alignment/size pairs came back aligned and usable",
     tried - bad, tried);
  for (unsigned i = 0; i < 200; i++) {
    keep[i] = aligned_alloc(64 * KiB, 64 * KiB);
    if (!keep[i] || ((uintptr_t)keep[i] & (64 * KiB - 1))) bad++;
    else memset(keep[i], (int)i, 64 * KiB);
  }
  long maps1 = count_maps();
  ok(bad == 0 && maps1 - maps0 < 20, "200 live 64 KiB blocks aligned to 64 KiB (as interpreters "
     "ask for heap pages) added %ld mappings", maps1 - maps0);
  size_t broken = 0;
  for (unsigned i = 0; i < 200; i++) {
    if (keep[i]) broken += ((unsigned char *)keep[i])[64 * KiB - 1] != (unsigned char)i;
    free(keep[i]);
  }
  ok(broken == 0, "and kept their contents");
  void *m = memalign(MiB, 900 * KiB), *h = NULL, *g = NULL;
  ok(m && !((uintptr_t)m & (MiB - 1)), "memalign(1 MiB, 900 KiB) is aligned (%p)", m);
  free(m);
  int e2 = posix_memalign(&h, 2 * MiB, 100 * KiB), e4 = posix_memalign(&g, 4 * MiB, 3 * MiB);
  ok(!e2 && h && !((uintptr_t)h & (2 * MiB - 1)) && malloc_usable_size(h) >= 100 * KiB,
     "posix_memalign(2 MiB, 100 KiB) is aligned and usable (%p)", h);
  ok(!e4 && g && !((uintptr_t)g & (4 * MiB - 1)) && malloc_usable_size(g) >= 3 * MiB,
     "posix_memalign(4 MiB, 3 MiB) is aligned and usable (%p)", g);
  if (h) memset(h, 1, 100 * KiB);
  if (g) memset(g, 1, 3 * MiB);
  free(h);
  free(g);
}

#define NT 4
#define PER 300
static unsigned char *handed[NT][PER];
static size_t handed_size[NT][PER];
static pthread_barrier_t made;
static size_t thread_bad[NT];

static void *worker(void *arg)
{
  unsigned me = (unsigned)(uintptr_t)arg;
  uint64_t x = 0x9e3779b97f4a7c15ull * (me + 1);
  for (unsigned i = 0; i < PER; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t n = 64 * KiB + 1 + (size_t)(x % (960 * KiB));
    unsigned char *p = malloc(n);
    if (p) {
      p[0] = (unsigned char)(me + i);
      p[n - 1] = (unsigned char)(me ^ i);
    }
    handed[me][i] = p;
    handed_size[me][i] = n;
  }
  pthread_barrier_wait(&made);
  unsigned from = (me + 1) % NT; /* free the next thread's blocks */
  for (unsigned i = 0; i < PER; i++) {
    unsigned char *p = handed[from][i];
    size_t n = handed_size[from][i];
    thread_bad[me] +=
        !p || p[0] != (unsigned char)(from + i) || p[n - 1] != (unsigned char)(from ^ i);
    free(p);
  }
  return NULL;
}

static void threads(void)
{
  free(malloc(100 * KiB)); /* this thread's region exists before the baseline */
  struct mallinfo2 m0 = mallinfo2();
  pthread_t t[NT];
  pthread_barrier_init(&made, NULL, NT);
  for (unsigned i = 0; i < NT; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i)) bail_out("pthread_create");
  for (unsigned i = 0; i < NT; i++) pthread_join(t[i], NULL);
  size_t bad = 0;
  for (unsigned i = 0; i < NT; i++) bad += thread_bad[i];
  struct mallinfo2 m1 = mallinfo2();
  diag("regions mapped now %zu before, %zu after; %.1f MiB mapped before, %.1f after", m0.hblks,
       m1.hblks, mib(m0.arena), mib(m1.arena));
  ok(bad == 0, "%d threads each freed another's %d blocks, all intact (%zu not)", NT, PER, bad);
  /* The wrapper keeps no empty SuperSlab cached: the regions go back to the OS, all but the
   * few wholly free ones the tier keeps (4) and one SuperSlab that the threads' small requests
   * may have needed; malloc_trim gives back those too. */
  ok(m1.arena <= m0.arena + 5 * SS_SIZE, "once the threads are gone their regions went back "
     "but a few (%.1f MiB mapped, was %.1f)", mib(m1.arena), mib(m0.arena));
  malloc_trim(0);
  struct mallinfo2 m2 = mallinfo2();
  ok(m2.arena <= m0.arena + SS_SIZE, "after malloc_trim those too (%.1f MiB mapped)",
     mib(m2.arena));
}
/* malloc_trim gives back the free pages of regions that still hold blocks (the delay and the
 * bound far off: nothing else would). */
static void trim(void)
{
  unsigned char *v[NB];
  size_t r0, r1;
  half_free(v, &r0, &r1);
  size_t freed = NB / 2 * BSIZE;
  malloc_trim(0);
  size_t r2 = rss_bytes();
  diag("RSS %.1f MiB written, %.1f after freeing %.1f MiB, %.1f after malloc_trim", mib(r0),
       mib(r1), mib(freed), mib(r2));
  if (emulated())
    skip(1, "an emulator's RSS includes its own translated code");
  else
    ok(r1 > r2 && r1 - r2 >= freed / 2, "malloc_trim gave back the freed spans' pages (RSS -%.1f "
       "MiB of %.1f)", mib(r1 > r2 ? r1 - r2 : 0), mib(freed));
  ok(kept_intact(v) == 0, "the blocks left kept their contents");
}

int main(int argc, char **argv)
{
  watchdog(120);
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "live")) {
    size_t n = emulated() ? 4000 : 20000;
    plan(10);
    live(n, 70000);
    live(n / 4, 300000);
  } else if (!strcmp(mode, "purge") && argc > 2) {
    plan(3);
    purge((unsigned)atoi(argv[2]));
  } else if (!strcmp(mode, "young") && argc > 2) {
    plan(3);
    young((unsigned)atoi(argv[2]));
  } else if (!strcmp(mode, "bound") && argc > 2) {
    plan(2);
    bound((size_t)atoi(argv[2]));
  } else if (!strcmp(mode, "share") && argc > 3) {
    plan(3);
    share((size_t)atoi(argv[2]), (unsigned)atoi(argv[3]));
  } else if (!strcmp(mode, "trim")) {
    plan(2);
    trim();
  } else if (!strcmp(mode, "packing")) {
    plan(1);
    packing(2000, 40000);
  } else if (!strcmp(mode, "align")) {
    plan(6);
    align();
  } else if (!strcmp(mode, "threads")) {
    plan(3);
    threads();
  } else {
    bail_out("usage: tiers_span live | purge MS | young MS | bound MB | share MB PCT | trim | "
             "packing | align | threads");
  }
  return exit_status();
}
