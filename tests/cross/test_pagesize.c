/* The page size the program sees is the one asked for (HAK_TEST_PAGESIZE, else QEMU_PAGESIZE:
 * make check-cross runs the suite under QEMU with 16 and 64 KiB pages), and hakmem follows it:
 * page-aligned calls are aligned to that page, and large blocks that grow and shrink by whole
 * pages do so without tripping the alignment checks of a HAK_DEBUG build. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap.h"

static int aligned(const void *p, size_t a)
{
  return p && ((uintptr_t)p & (a - 1)) == 0;
}

static int fill_check(unsigned char *p, size_t n, unsigned char v)
{
  memset(p, v, n);
  for (size_t i = 0; i < n; i += 4093)
    if (p[i] != v) return 0;
  return p[n - 1] == v;
}

int main(void)
{
  plan(12);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const char *want = getenv("HAK_TEST_PAGESIZE");
  if (!want || !*want) want = getenv("QEMU_PAGESIZE");
  if (want && *want) {
    ok(page == strtoul(want, NULL, 0), "the page size is %zu, as requested (%s)", page, want);
  } else {
    ok(page >= 4096 && (page & (page - 1)) == 0, "the page size is %zu (none requested)", page);
  }
  ok((size_t)getpagesize() == page && getauxval(AT_PAGESZ) == page,
     "getpagesize() %d and AT_PAGESZ %lu agree", getpagesize(), getauxval(AT_PAGESZ));

  void *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ok(m != MAP_FAILED && aligned(m, page), "mmap returns page-aligned memory (%p)", m);
  if (m != MAP_FAILED) munmap(m, page);

  void *v = valloc(1);
  ok(aligned(v, page) && malloc_usable_size(v) >= 1, "valloc(1) is page-aligned (%p)", v);
  void *pv = pvalloc(1);
  ok(aligned(pv, page) && malloc_usable_size(pv) >= page &&
         fill_check(pv, malloc_usable_size(pv), 0x5a),
     "pvalloc(1) gives a whole writable page (%zu bytes)", pv ? malloc_usable_size(pv) : 0);
  void *pm = NULL;
  int rc = posix_memalign(&pm, page, 3 * page + 1);
  ok(rc == 0 && aligned(pm, page) && fill_check(pm, 3 * page + 1, 0xa5),
     "posix_memalign(page, 3 pages + 1) is aligned and writable");
  void *big = NULL;
  rc = posix_memalign(&big, 4 * page, 5 * page);
  ok(rc == 0 && aligned(big, 4 * page) && fill_check(big, 5 * page, 0x11),
     "posix_memalign(4 pages, 5 pages) is aligned and writable");
  free(v);
  free(pv);
  free(pm);
  free(big);

  /* A large block: grown (mremap), shrunk to a size that is not a page multiple (unmaps a
   * tail), grown again; the contents survive each step. */
  size_t n = 3 * 1024 * 1024 + 5;
  unsigned char *p = malloc(n);
  int good = p && fill_check(p, n, 0x3c);
  ok(good, "malloc(3 MiB + 5) is writable");
  unsigned char *q = good ? realloc(p, 9 * 1024 * 1024 + page / 2) : NULL;
  good = q && q[0] == 0x3c && q[n - 1] == 0x3c && malloc_usable_size(q) >= 9 * 1024 * 1024;
  ok(good, "realloc grows it to 9 MiB + half a page, contents kept");
  unsigned char *r = good ? realloc(q, 1024 * 1024 + 7) : NULL;
  good = r && r[0] == 0x3c && r[1024 * 1024 + 6] == 0x3c &&
         malloc_usable_size(r) >= 1024 * 1024 + 7;
  ok(good, "realloc shrinks it to 1 MiB + 7, contents kept");
  unsigned char *s = good ? realloc(r, 5 * 1024 * 1024) : NULL;
  ok(s && s[0] == 0x3c && fill_check(s, 5 * 1024 * 1024, 0x77), "and grows it again to 5 MiB");
  free(s ? s : r ? r : q ? q : p);

  /* Large blocks just past the mid tier land in the BigCache's smallest buckets, whose sizes
   * (80, 96, 112 KiB...) are not multiples of a 64 KiB page: each must still be mapped, shrunk
   * (the tail unmapped) and freed by whole pages. */
  good = 1;
  for (size_t m = 66 << 10; m <= 256 << 10 && good; m += 8 << 10) {
    unsigned char *a = malloc(m);
    good = a && fill_check(a, m, 0x42);
    unsigned char *b = good ? realloc(a, 1 << 20) : NULL;
    unsigned char *c = b ? realloc(b, m) : NULL;
    good = c && c[0] == 0x42 && c[m - 1] == 0x42 && fill_check(c, m, 0x24);
    free(c ? c : b ? b : a);
  }
  ok(good, "large blocks of 66..256 KiB grow to 1 MiB and shrink back");
  return exit_status();
}
