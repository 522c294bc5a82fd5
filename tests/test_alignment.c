/* Alignment: every size class hands out 16-aligned blocks (8 for requests under 16), and
 * posix_memalign, aligned_alloc and memalign honour every power-of-two alignment from 16 to
 * 4 MiB for sizes in every tier; each block is writable over its whole usable size. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define MiB ((size_t)1 << 20)
enum { LIVE = 3 };

static int aligned(const void *p, size_t a)
{
  return ((uintptr_t)p & (a - 1)) == 0;
}

/* Writes all of the block and reads it back. */
static int writable(unsigned char *p, size_t n)
{
  memset(p, 0xC3, n);
  return p[0] == 0xC3 && p[n / 2] == 0xC3 && p[n - 1] == 0xC3;
}

/* Allocates LIVE blocks with one of the three calls and checks each. */
static int try_align(int how, size_t align, size_t size)
{
  void *b[LIVE] = {0};
  int good = 1;
  for (int i = 0; i < LIVE; i++) {
    if (how == 0) {
      if (posix_memalign(&b[i], align, size) != 0) b[i] = NULL;
    } else if (how == 1) {
      b[i] = aligned_alloc(align, size);
    } else {
      b[i] = memalign(align, size);
    }
    size_t u = b[i] ? malloc_usable_size(b[i]) : 0;
    if (!b[i] || !aligned(b[i], align) || u < size || (u && !writable(b[i], u))) {
      diag("%s(%zu, %zu) = %p, usable %zu",
           how == 0 ? "posix_memalign" : how == 1 ? "aligned_alloc" : "memalign", align, size,
           b[i], u);
      good = 0;
    }
  }
  for (int i = 0; i < LIVE; i++) free(b[i]);
  return good;
}

int main(void)
{
  watchdog(60);
  plan(7);

  /* Every class: enough blocks of each size to fill more than one slab's first batch. */
  int good = 1;
  for (size_t n = 1; n <= 65536 + 4096; n += n < 1024 ? 8 : n < 8192 ? 128 : 2048) {
    enum { PER = 40 };
    void *b[PER];
    for (int i = 0; i < PER; i++) {
      b[i] = malloc(n);
      size_t u = b[i] ? malloc_usable_size(b[i]) : 0;
      if (!b[i] || !aligned(b[i], n >= 16 ? 16 : 8) || u < n || !writable(b[i], u)) {
        diag("malloc(%zu) = %p, usable %zu", n, b[i], u);
        good = 0;
      }
    }
    for (int i = 0; i < PER; i++) free(b[i]);
  }
  ok(good, "blocks of every size class are 16-aligned and writable over their usable size");

  static const size_t sizes[] = {0, 1, 16, 100, 1000, 1024, 1025, 5000, 65536, 65537, MiB, 3 * MiB};
  static const char *const names[] = {"posix_memalign", "aligned_alloc", "memalign"};
  for (int how = 0; how < 3; how++) {
    good = 1;
    for (size_t a = 16; a <= 4 * MiB; a <<= 1) {
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) good &= try_align(how, a, sizes[s]);
      good &= try_align(how, a, a - 1) & try_align(how, a, a) & try_align(how, a, a + 1);
    }
    ok(good, "%s: alignments 16..4 MiB, sizes 0..3 MiB", names[how]);
  }

  /* Many aligned blocks live at once stay distinct and keep their contents. */
  enum { N = 500 };
  unsigned char *b[N];
  good = 1;
  for (int i = 0; i < N; i++) {
    size_t a = (size_t)16 << (i % 10), n = 1 + (size_t)(i * 37) % 9000;
    b[i] = aligned_alloc(a, n);
    good &= b[i] && aligned(b[i], a);
    if (b[i]) memset(b[i], i & 0xff, n);
  }
  for (int i = 0; i < N; i++) {
    size_t n = 1 + (size_t)(i * 37) % 9000;
    for (size_t j = 0; b[i] && j < n; j++) good &= b[i][j] == (i & 0xff);
    free(b[i]);
  }
  ok(good, "%d aligned blocks of mixed alignment live at once keep their contents", N);

  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  good = 1;
  for (size_t n = 1; n < 5 * MiB; n = n * 3 + 1) {
    void *p = valloc(n);
    good &= p && aligned(p, page) && writable(p, n);
    free(p);
  }
  ok(good, "valloc is page-aligned for sizes 1..5 MiB");

  /* realloc of an over-aligned block keeps the contents (the new block need only be 16-aligned). */
  good = 1;
  for (size_t a = 64; a <= 4 * MiB; a <<= 2) {
    unsigned char *p = aligned_alloc(a, 1000);
    memset(p, 0x3c, 1000);
    p = realloc(p, 200000);
    for (size_t j = 0; p && j < 1000; j++) good &= p[j] == 0x3c;
    good &= p && aligned(p, 16);
    free(p);
  }
  ok(good, "realloc of blocks aligned to 64..4 MiB keeps their contents");
  return exit_status();
}
