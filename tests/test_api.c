/* The contract of every exported function, error cases included, as glibc 2.38 defines them:
 * malloc, calloc, realloc, reallocarray, free, free_sized, free_aligned_sized, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, the glibc tuning and reporting
 * calls, and the hakmem_* API. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"
#include "tap.h"

/* C23; glibc 2.38's headers do not declare them yet. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Sizes in every tier: tiny (<= 1 KiB), mid (<= 64 KiB), large, and a large one of exactly
 * one 2 MiB mapping. */
static const size_t tier_sizes[] = {1, 16, 100, 1024, 1025, 4000, 65536, 65537, 300 * KiB,
                                    2 * MiB - 256, 5 * MiB};
#define NTIER (sizeof tier_sizes / sizeof tier_sizes[0])

/* Sizes no machine can serve. */
static const size_t huge_sizes[] = {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2 + 1, (size_t)1 << 62,
                                    (size_t)PTRDIFF_MAX};
#define NHUGE (sizeof huge_sizes / sizeof huge_sizes[0])

static int pattern_ok(const unsigned char *p, size_t n, unsigned char seed)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static void pattern_fill(unsigned char *p, size_t n, unsigned char seed)
{
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}

static int aligned(const void *p, size_t a)
{
  return ((uintptr_t)p & (a - 1)) == 0;
}

static void test_malloc(void)
{
  void *a = malloc(0), *b = malloc(0);
  ok(a && b && a != b, "malloc(0) returns unique non-NULL pointers");
  free(a);
  free(b);

  int all = 1;
  for (size_t i = 0; i < NHUGE; i++) {
    errno = 0;
    void *p = malloc(huge_sizes[i]);
    if (p || errno != ENOMEM) {
      diag("malloc(%zu) = %p, errno %d", huge_sizes[i], p, errno);
      all = 0;
      free(p);
    }
  }
  ok(all, "malloc of impossible sizes returns NULL with ENOMEM");

  int good = 1;
  for (size_t i = 0; i < NTIER; i++) {
    unsigned char *p = malloc(tier_sizes[i]);
    size_t u = p ? malloc_usable_size(p) : 0;
    if (!p || u < tier_sizes[i]) {
      good = 0;
      continue;
    }
    memset(p, 0x5a, u); /* all of the usable size is writable */
    good &= p[0] == 0x5a && p[u - 1] == 0x5a;
    free(p);
  }
  ok(good, "malloc in every tier: usable size >= request and all of it writable");
  ok(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) == 0");

  /* Every small size gets a class that holds it and wastes at most a step: 16 bytes, or a
   * quarter of the size (the classes go by quarters of a power of two). */
  size_t wrong = 0, first = 0;
  for (size_t n = 0; n <= 65536; n++) {
    void *p = malloc(n);
    size_t u = p ? malloc_usable_size(p) : 0;
    if (!p || u < n || u > n + (n / 4 > 16 ? n / 4 : 16)) {
      if (!wrong++) first = n;
    }
    free(p);
  }
  ok(wrong == 0, "malloc(0..65536): usable size at least the request and at most a class step "
     "above it (%zu wrong, the first at %zu)", wrong, first);
}

static void test_alignment16(void)
{
  int good = 1;
  for (size_t n = 0; n <= 70000; n += n < 2048 ? 1 : 97) {
    void *p = malloc(n);
    if (!p || !aligned(p, n >= 16 ? 16 : 8)) {
      diag("malloc(%zu) = %p", n, p);
      good = 0;
    }
    free(p);
  }
  ok(good, "every block of >= 16 bytes is 16-aligned (8 below), sizes 0..70000");
}

static void test_calloc(void)
{
  static const size_t bad[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {(size_t)1 << 32, (size_t)1 << 32},
                                  {SIZE_MAX / 3 + 1, 3}};
  int all = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = calloc(bad[i][0], bad[i][1]);
    if (p || errno != ENOMEM) all = 0;
    free(p);
  }
  ok(all, "calloc with count * size overflowing returns NULL with ENOMEM");

  errno = 0;
  void *p = calloc(SIZE_MAX / 2, 1);
  ok(!p && errno == ENOMEM, "calloc of an impossible size returns NULL with ENOMEM");

  void *a = calloc(0, 0), *b = calloc(0, 8);
  ok(a && b && a != b, "calloc(0, 0) and calloc(0, 8) return unique pointers");
  free(a);
  free(b);

  int zero = 1;
  for (size_t i = 0; i < NTIER; i++) {
    unsigned char *q = calloc(1, tier_sizes[i]);
    if (!q) {
      zero = 0;
      continue;
    }
    for (size_t j = 0; j < tier_sizes[i]; j++) zero &= q[j] == 0;
    free(q);
  }
  ok(zero, "calloc in every tier returns zeroed memory");
}

static void test_realloc(void)
{
  unsigned char *p = realloc(NULL, 100);
  ok(p && malloc_usable_size(p) >= 100, "realloc(NULL, n) allocates like malloc(n)");
  free(p);
  p = realloc(NULL, 0);
  ok(p != NULL, "realloc(NULL, 0) returns a unique pointer like malloc(0)");
  free(p);

  int all = 1;
  for (size_t i = 0; i < NTIER; i++) {
    p = malloc(tier_sizes[i]);
    errno = 0;
    void *r = realloc(p, 0);
    all &= p && r == NULL;
  }
  ok(all, "realloc(p, 0) returns NULL in every tier (frees p; see test_misuse)");

  /* A failed realloc leaves the block where it was, with its contents. */
  int kept = 1, en = 1;
  for (size_t i = 0; i < NTIER; i++) {
    size_t n = tier_sizes[i];
    p = malloc(n);
    if (!p) {
      kept = 0;
      continue;
    }
    size_t u = malloc_usable_size(p);
    pattern_fill(p, n, (unsigned char)i);
    for (size_t h = 0; h < NHUGE; h++) {
      errno = 0;
      void *r = realloc(p, huge_sizes[h]);
      if (r) {
        diag("realloc(%p, %zu) = %p", (void *)p, huge_sizes[h], r);
        kept = 0;
        p = r;
        break;
      }
      en &= errno == ENOMEM;
    }
    kept &= pattern_ok(p, n, (unsigned char)i) && malloc_usable_size(p) == u;
    free(p);
  }
  ok(en, "realloc to an impossible size returns NULL with ENOMEM");
  ok(kept, "a failed realloc keeps the old block and its contents, in every tier");

  p = malloc(64);
  pattern_fill(p, 64, 3);
  unsigned char *q = realloc(p, 64);
  ok(q && pattern_ok(q, 64, 3), "realloc to the same size keeps the contents");
  free(q);
}

static void test_reallocarray(void)
{
  unsigned char *p = reallocarray(NULL, 10, 10);
  ok(p && malloc_usable_size(p) >= 100, "reallocarray(NULL, 10, 10) allocates 100 bytes");
  pattern_fill(p, 100, 9);
  unsigned char *q = reallocarray(p, 100, 10);
  ok(q && malloc_usable_size(q) >= 1000 && pattern_ok(q, 100, 9),
     "reallocarray grows and keeps the contents");
  p = q;
  size_t u = malloc_usable_size(p);
  errno = 0;
  q = reallocarray(p, SIZE_MAX / 2, 3);
  ok(!q && errno == ENOMEM, "reallocarray with an overflowing product returns NULL with ENOMEM");
  ok(pattern_ok(p, 100, 9) && malloc_usable_size(p) == u,
     "reallocarray overflow leaves the original block untouched");
  free(p);
}

static void test_posix_memalign(void)
{
  static const size_t bad[] = {0, 1, 2, 3, 4, 12, 24, 48, 100, 4097, SIZE_MAX};
  int all = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *out = (void *)&all;
    errno = 1234;
    int r = posix_memalign(&out, bad[i], 64);
    if (r != EINVAL || errno != 1234 || (out != (void *)&all && out != NULL)) {
      diag("posix_memalign(align %zu) = %d, errno %d", bad[i], r, errno);
      all = 0;
    }
  }
  ok(all, "posix_memalign with a bad alignment returns EINVAL, errno and *out unchanged");

  int en = 1;
  for (size_t i = 0; i < NHUGE; i++) {
    void *out = NULL;
    errno = 1234;
    int r = posix_memalign(&out, 64, huge_sizes[i]);
    en &= r == ENOMEM && errno == 1234;
    if (r == 0) free(out);
  }
  ok(en, "posix_memalign of an impossible size returns ENOMEM, errno unchanged");

  int good = 1;
  for (size_t a = sizeof(void *); a <= 4 * MiB; a <<= 1) {
    void *out = NULL;
    int r = posix_memalign(&out, a, 100);
    good &= r == 0 && out && aligned(out, a) && malloc_usable_size(out) >= 100;
    free(out);
  }
  ok(good, "posix_memalign succeeds for every power-of-two alignment 8..4 MiB");
  void *z = NULL;
  ok(posix_memalign(&z, 64, 0) == 0 && z, "posix_memalign(64, 0) returns a freeable block");
  free(z);
}

static void test_aligned_alloc(void)
{
  static const size_t bad[] = {0, 3, 24, 100, 4095};
  int all = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = aligned_alloc(bad[i], 64);
    all &= !p && errno == EINVAL;
    free(p);
  }
  ok(all, "aligned_alloc with a non-power-of-two alignment returns NULL with EINVAL");

  errno = 0;
  void *p = aligned_alloc(64, SIZE_MAX - 100);
  ok(!p && errno == ENOMEM, "aligned_alloc of an impossible size returns NULL with ENOMEM");
  errno = 0;
  p = aligned_alloc((size_t)1 << 62, 16);
  ok(!p && errno == ENOMEM, "aligned_alloc with an impossible alignment returns NULL with ENOMEM");
  free(p);

  int good = 1;
  for (size_t a = 1; a <= 4 * MiB; a <<= 1) {
    p = aligned_alloc(a, 3 * a + 1); /* C17: the size need not be a multiple of the alignment */
    good &= p && aligned(p, a) && malloc_usable_size(p) >= 3 * a + 1;
    free(p);
  }
  ok(good, "aligned_alloc honours every power-of-two alignment 1..4 MiB");
}

static void test_memalign_valloc(void)
{
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *p = memalign(4096, 100);
  ok(p && aligned(p, 4096) && malloc_usable_size(p) >= 100, "memalign(4096, 100)");
  free(p);
  p = memalign(24, 100);
  ok(p && aligned(p, 32), "memalign rounds a non-power-of-two alignment up (24 -> 32)");
  free(p);
  p = memalign(1, 10);
  ok(p && malloc_usable_size(p) >= 10, "memalign(1, 10) works");
  free(p);
  errno = 0;
  p = memalign(SIZE_MAX / 2 + 2, 10);
  ok(!p && errno == EINVAL, "memalign with an alignment above SIZE_MAX/2+1 returns NULL with EINVAL");
  errno = 0;
  p = memalign(64, SIZE_MAX - 64);
  ok(!p && errno == ENOMEM, "memalign of an impossible size returns NULL with ENOMEM");

  p = valloc(100);
  ok(p && aligned(p, page) && malloc_usable_size(p) >= 100, "valloc is page-aligned");
  free(p);
  errno = 0;
  p = valloc(SIZE_MAX);
  ok(!p && errno == ENOMEM, "valloc(SIZE_MAX) returns NULL with ENOMEM");

  int good = 1;
  static const size_t sizes[] = {0, 1, 100, 4095, 4097, 65536, 100000, 3 * MiB + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t want = sizes[i] ? (sizes[i] + page - 1) / page * page : page;
    unsigned char *q = pvalloc(sizes[i]);
    if (!q || !aligned(q, page) || malloc_usable_size(q) < want) {
      diag("pvalloc(%zu) = %p, usable %zu, want %zu", sizes[i], (void *)q,
           q ? malloc_usable_size(q) : 0, want);
      good = 0;
    } else {
      memset(q, 1, want); /* the whole rounded-up size is ours */
    }
    free(q);
  }
  ok(good, "pvalloc rounds the size up to whole pages and is page-aligned");
  errno = 0;
  p = pvalloc(SIZE_MAX - 10);
  ok(!p && errno == ENOMEM, "pvalloc of an impossible size returns NULL with ENOMEM");
}

static void test_free(void)
{
  errno = 4321;
  free(NULL);
  free_sized(NULL, 0);
  free_aligned_sized(NULL, 64, 0);
  ok(errno == 4321, "free(NULL), free_sized(NULL), free_aligned_sized(NULL) are no-ops");

  /* Enough blocks that some frees empty slabs and SuperSlabs and overflow the caches. */
  enum { N = 64 };
  void *blocks[NTIER][N];
  for (size_t i = 0; i < NTIER; i++)
    for (int j = 0; j < N; j++) blocks[i][j] = malloc(tier_sizes[i]);
  void *odd[4];
  posix_memalign(&odd[0], 4 * MiB, 100);
  posix_memalign(&odd[1], 64 * KiB, 100);
  odd[2] = aligned_alloc(8192, 8192);
  odd[3] = valloc(3 * MiB);
  errno = 4321;
  int e = 1;
  for (size_t i = 0; i < NTIER; i++)
    for (int j = 0; j < N; j++) {
      free(blocks[i][j]);
      e &= errno == 4321;
    }
  for (int j = 0; j < 4; j++) free(odd[j]);
  e &= errno == 4321;
  ok(e, "free keeps errno, for blocks of every tier and alignment");

  errno = 4321;
  malloc_trim(0);
  void *a = malloc(300), *b = malloc(200 * KiB);
  void *c = aligned_alloc(256, 1000), *d = aligned_alloc(4 * MiB, 1000);
  free_sized(a, 300);
  free_sized(b, 200 * KiB);
  free_aligned_sized(c, 256, 1000);
  free_aligned_sized(d, 4 * MiB, 1000);
  ok(errno == 4321, "free_sized and free_aligned_sized free blocks of every tier, errno kept");
}

static void test_glibc_extras(void)
{
  int r = mallopt(M_ARENA_MAX, 1);
  ok(r == 0 || r == 1, "mallopt answers 0 or 1 (got %d)", r);
  r = mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  ok(r == 0 || r == 1, "mallopt(M_MMAP_THRESHOLD) answers 0 or 1 (got %d)", r);

  void *big = malloc(8 * MiB);
  memset(big, 1, 8 * MiB);
  struct mallinfo2 mi = mallinfo2();
  ok(mi.arena + mi.hblkhd > 0, "mallinfo2 reports memory while 8 MiB is live");
  struct mallinfo m1 = mallinfo();
  ok(m1.arena >= 0 && m1.hblkhd >= 0 && m1.uordblks >= 0, "mallinfo fields are not negative");
  free(big);
  r = malloc_trim(0);
  ok(r == 0 || r == 1, "malloc_trim answers 0 or 1 (got %d)", r);

  FILE *f = tmpfile();
  if (!f) bail_out("tmpfile");
  errno = 0;
  ok(malloc_info(0, f) == 0, "malloc_info(0, fp) returns 0");
  long len = ftell(f);
  char buf[256] = "";
  rewind(f);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  buf[got] = 0;
  ok(len > 0 && strncmp(buf, "<malloc", 7) == 0, "malloc_info writes an XML <malloc> element");
  errno = 0;
  ok(malloc_info(1, f) == -1 && errno == EINVAL, "malloc_info with options != 0 fails with EINVAL");
  fclose(f);

  /* malloc_stats writes to stderr: capture it in a file. */
  fflush(stderr);
  f = tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(f), STDERR_FILENO);
  malloc_stats();
  dup2(saved, STDERR_FILENO);
  close(saved);
  fseek(f, 0, SEEK_END);
  ok(ftell(f) > 0, "malloc_stats writes a report to stderr");
  fclose(f);
}

static void test_hakmem_api(void)
{
  const char *v = hakmem_version();
  ok(v && strcmp(v, HAKMEM_VERSION) == 0, "hakmem_version() \"%s\" == HAKMEM_VERSION \"%s\"",
     v ? v : "(null)", HAKMEM_VERSION);
  char num[32];
  snprintf(num, sizeof num, "%d.%d.%d", HAKMEM_VERSION_MAJOR, HAKMEM_VERSION_MINOR,
           HAKMEM_VERSION_PATCH);
  ok(strcmp(num, HAKMEM_VERSION) == 0 &&
         HAKMEM_VERSION_NUMBER ==
             HAKMEM_VERSION_MAJOR * 10000 + HAKMEM_VERSION_MINOR * 100 + HAKMEM_VERSION_PATCH,
     "HAKMEM_VERSION agrees with MAJOR.MINOR.PATCH and HAKMEM_VERSION_NUMBER");

  unsigned char *p = hakmem_malloc(200);
  ok(p && hakmem_usable_size(p) >= 200 && hakmem_usable_size(p) == malloc_usable_size(p),
     "hakmem_malloc and hakmem_usable_size");
  pattern_fill(p, 200, 1);
  p = hakmem_realloc(p, 100000);
  ok(p && hakmem_usable_size(p) >= 100000 && pattern_ok(p, 200, 1),
     "hakmem_realloc grows and keeps the contents");
  hakmem_free(p);
  unsigned char *z = hakmem_calloc(1000, 3);
  int zero = z != NULL;
  for (size_t i = 0; z && i < 3000; i++) zero &= z[i] == 0;
  ok(zero, "hakmem_calloc zeroes");
  free(z); /* the same allocator behind both names */
  void *a = hakmem_aligned_alloc(4096, 10);
  ok(a && aligned(a, 4096), "hakmem_aligned_alloc aligns");
  hakmem_free(a);
  errno = 0;
  ok(!hakmem_malloc(SIZE_MAX) && errno == ENOMEM, "hakmem_malloc(SIZE_MAX) is NULL with ENOMEM");
  errno = 0;
  ok(!hakmem_calloc(SIZE_MAX, 2) && errno == ENOMEM, "hakmem_calloc overflow is NULL with ENOMEM");
  errno = 0;
  ok(!hakmem_aligned_alloc(3, 8) && errno == EINVAL, "hakmem_aligned_alloc(3, ...) is EINVAL");
  ok(hakmem_usable_size(NULL) == 0, "hakmem_usable_size(NULL) == 0");
  hakmem_free(NULL);
  ok(hakmem_realloc(hakmem_malloc(10), 0) == NULL, "hakmem_realloc(p, 0) frees and returns NULL");

  /* Empty SuperSlabs go to the cache; trimming hands them back to the OS. */
  enum { N = 2000 };
  void *blocks[N];
  for (int i = 0; i < N; i++) blocks[i] = malloc(1000);
  for (int i = 0; i < N; i++) free(blocks[i]);
  size_t released = hakmem_trim();
  ok(released % 4096 == 0, "hakmem_trim returns a count of whole pages (%zu bytes)", released);
  ok(hakmem_trim() == 0, "a second hakmem_trim has nothing left to release");
  p = malloc(1000);
  ok(p != NULL, "malloc works after hakmem_trim");
  free(p);
}

int main(void)
{
  watchdog(60);
  plan(63);
  test_malloc();
  test_alignment16();
  test_calloc();
  test_realloc();
  test_reallocarray();
  test_posix_memalign();
  test_aligned_alloc();
  test_memalign_valloc();
  test_free();
  test_glibc_extras();
  test_hakmem_api();
  return exit_status();
}
