/* The malloc family and the hakmem_* API.  Semantics follow glibc 2.38: NULL with ENOMEM for
 * any size that cannot be served, EINVAL for a bad alignment, realloc(p, 0) frees and returns
 * NULL, free keeps errno.
 *
 * Each body is a hidden hak_* function (override.h); the exported names are aliases of it, the
 * malloc family's only where HAK_NO_OVERRIDE is not defined. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "free.h"
#include "hakmem.h"
#include "large.h"
#include "os.h"
#include "override.h"
#include "small.h"
#include "span.h"

HAK_INLINE void *hak_alloc(size_t n)
{
  if (hak_likely(n <= HAK_SMALL_MAX)) return hak_small_alloc(hak_class_of(n), n);
  bool zeroed;
  return hak_large_alloc(n, 0, false, &zeroed);
}

/* free(NULL) needs no test of its own: NULL lies in no region, and the slow path returns. */
HAK_INLINE void hak_dealloc(void *p)
{
  hak_small_free(p);
}

/* Alignment above 16: a small class whose blocks all fall on the boundary (a class size with
 * that power of two in it; slab starts are aligned to 8 KiB or more), else a large block. */
static void *hak_alloc_aligned(size_t align, size_t n)
{
  if (align <= 16) return hak_alloc(n);
  if (n <= HAK_SMALL_MAX && align <= HAK_SS_HDR) {
    for (unsigned c = hak_class_of(HAK_MAX(n, align)); c < HAK_NCLASSES; c++)
      if ((hak_class_size[c] & (align - 1)) == 0) return hak_small_alloc(c, 0);
  }
  bool zeroed;
  return hak_large_alloc(n, align, false, &zeroed);
}

void *hak_malloc(size_t n)
{
  return hak_alloc(n);
}

void hak_free(void *p)
{
  hak_dealloc(p);
}

void *hak_calloc(size_t count, size_t size)
{
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  if (n > HAK_SMALL_MAX) {
    bool zeroed;
    void *p = hak_large_alloc(n, 0, false, &zeroed);
    if (p && !zeroed) memset(p, 0, n);
    return p;
  }
  void *p = hak_small_alloc(hak_class_of(n), n);
  if (p) memset(p, 0, n);
  return p;
}

/* What p is, for a p that must be a live block: free's fast test first (hak_small_usable). */
HAK_INLINE hak_block_t block_or_die(const void *p, const char *who)
{
  size_t n = hak_small_usable(p);
  if (hak_likely(n != 0)) return (hak_block_t){HAK_BLOCK_SMALL, hak_ss_of(p), n};
  return hak_block_or_die(p, who);
}

/* The bytes usable at a live block p; 0 for NULL. */
HAK_INLINE size_t usable_or_die(const void *p, const char *who)
{
  return p ? block_or_die(p, who).usable : 0;
}

void *hak_realloc(void *p, size_t n)
{
  if (!p) { /* a buffer that realloc makes is likely to grow: see hak_large_alloc */
    bool zeroed;
    return n > HAK_SMALL_MAX ? hak_large_alloc(n, 0, true, &zeroed) : hak_alloc(n);
  }
  if (n == 0) {
    hak_dealloc(p);
    return NULL;
  }
  hak_block_t b = block_or_die(p, "realloc");
  size_t old = b.usable;
  /* A block stays where it is unless that would waste more than half of it. */
  if (n <= old && (n >= old / 2 || (old <= HAK_SMALL_MAX && hak_class_of(n) == hak_class_of(old))))
    return p;
  if (b.kind == HAK_BLOCK_SPAN && n > HAK_SMALL_MAX && hak_span_resize(b.ss, p, n)) return p;
  if (b.kind == HAK_BLOCK_LARGE && n > HAK_SMALL_MAX) {
    /* A large block shrinks in place and grows by moving its pages, not its bytes. */
    void *q = hak_large_resize(b.ss, p, n);
    if (q) return q;
  }
  bool zeroed;
  void *q = n > old && n > HAK_SMALL_MAX ? hak_large_alloc(n, 0, true, &zeroed) : hak_alloc(n);
  if (!q) return NULL;
  memcpy(q, p, HAK_MIN(old, n));
  hak_dealloc(p);
  return q;
}

void *hak_reallocarray(void *p, size_t count, size_t size)
{
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return hak_realloc(p, n);
}

int hak_posix_memalign(void **out, size_t align, size_t n)
{
  if (!hak_is_pow2(align) || align % sizeof(void *) != 0) return EINVAL;
  int e = errno;
  void *p = hak_alloc_aligned(align, n);
  if (!p) {
    errno = e;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

void *hak_aligned_alloc(size_t align, size_t n)
{
  if (!hak_is_pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return hak_alloc_aligned(align, n);
}

void *hak_memalign(size_t align, size_t n)
{
  /* glibc: a too-large alignment is EINVAL; one that is not a power of two is rounded up. */
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  if (!hak_is_pow2(align)) {
    size_t a = 1;
    while (a < align) a <<= 1;
    align = a;
  }
  return hak_alloc_aligned(align, n);
}

void *hak_valloc(size_t n)
{
  hak_ensure_init();
  return hak_alloc_aligned(hak_os_page, n);
}

void *hak_pvalloc(size_t n)
{
  hak_ensure_init();
  if (n > SIZE_MAX - hak_os_page) {
    errno = ENOMEM;
    return NULL;
  }
  return hak_alloc_aligned(hak_os_page, hak_align_up(n ? n : 1, hak_os_page));
}

size_t hak_malloc_usable_size(void *p)
{
  return usable_or_die(p, "malloc_usable_size");
}

void hak_free_sized(void *p, size_t size)
{
  (void)size;
  hak_dealloc(p);
}

void hak_free_aligned_sized(void *p, size_t align, size_t size)
{
  (void)align;
  (void)size;
  hak_dealloc(p);
}

/* ---- glibc's tuning and reporting calls: harmless answers -------------------------------- */

int hak_mallopt(int param, int value)
{
  (void)param;
  (void)value;
  return 1; /* accepted; hakmem is tuned with HAKMEM_* variables instead */
}

int hak_malloc_trim(size_t pad)
{
  (void)pad;
  return hakmem_trim() > 0;
}

/* glibc's fields, given hakmem's meanings (hakmem(3) lists them):
 *   arena     bytes mapped now (SuperSlabs and large blocks)
 *   usmblks   peak of arena
 *   hblks     regions mapped now (SuperSlabs and large blocks)
 *   hblkhd    bytes held in caches: LRU-cached SuperSlabs plus the BigCache
 *   ordblks   empty SuperSlabs in the LRU cache with their pages
 *   uordblks  empty SuperSlabs in the LRU cache that gave their pages back
 *   smblks    regions mapped since start; fsmblks: regions unmapped since start
 *   fordblks  bytes of large blocks in the BigCache; keepcost: BigCache hits since start */
struct mallinfo2 hak_mallinfo2(void)
{
  hak_ensure_init();
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  hak_pool_counts_t pc;
  hak_pool_counts(&pc);
  size_t bc_bytes, bc_hits, bc_misses;
  hak_bigcache_counts(&bc_bytes, &bc_hits, &bc_misses);
  mi.arena = pc.bytes_mapped;
  mi.usmblks = pc.bytes_peak;
  mi.hblks = pc.ss_live;
  mi.ordblks = pc.ss_cached;
  mi.uordblks = pc.ss_purged;
  mi.hblkhd = (pc.ss_cached + pc.ss_purged) * HAK_SS_SIZE + bc_bytes;
  mi.smblks = pc.ss_mapped_total;
  mi.fsmblks = pc.ss_unmapped_total;
  mi.fordblks = bc_bytes;
  mi.keepcost = bc_hits;
  return mi;
}

struct mallinfo hak_mallinfo(void)
{
  struct mallinfo2 m2 = hak_mallinfo2();
  struct mallinfo mi;
#define HAK_CLAMP_INT(v) (int)HAK_MIN((v), (size_t)0x7fffffff)
  mi.arena = HAK_CLAMP_INT(m2.arena);
  mi.ordblks = HAK_CLAMP_INT(m2.ordblks);
  mi.smblks = HAK_CLAMP_INT(m2.smblks);
  mi.hblks = HAK_CLAMP_INT(m2.hblks);
  mi.hblkhd = HAK_CLAMP_INT(m2.hblkhd);
  mi.usmblks = HAK_CLAMP_INT(m2.usmblks);
  mi.fsmblks = HAK_CLAMP_INT(m2.fsmblks);
  mi.uordblks = HAK_CLAMP_INT(m2.uordblks);
  mi.fordblks = HAK_CLAMP_INT(m2.fordblks);
  mi.keepcost = HAK_CLAMP_INT(m2.keepcost);
#undef HAK_CLAMP_INT
  return mi;
}

void hak_malloc_stats(void)
{
  hak_pool_counts_t pc;
  hak_pool_counts(&pc);
  hak_msg("hakmem %s: %zu bytes mapped, %zu regions live, %zu SuperSlabs cached (%zu of them "
          "purged)", HAKMEM_VERSION, pc.bytes_mapped, pc.ss_live, pc.ss_cached + pc.ss_purged,
          pc.ss_purged);
}

int hak_malloc_info(int options, FILE *fp)
{
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  hak_pool_counts_t pc;
  hak_pool_counts(&pc);
  fprintf(fp, "<malloc version=\"hakmem-%s\">\n<system type=\"current\" size=\"%zu\"/>\n</malloc>\n",
          HAKMEM_VERSION, pc.bytes_mapped);
  return 0;
}

/* ---- the hakmem_* API -------------------------------------------------------------------- */

HAK_EXPORT size_t hakmem_usable_size(const void *p) { return usable_or_die(p, "hakmem_usable_size"); }
HAK_EXPORT const char *hakmem_version(void) { return HAKMEM_VERSION; }

HAK_EXPORT size_t hakmem_trim(void)
{
  hak_ensure_init();
  hak_heap_unpark(0, -1, UINT_MAX); /* what exited threads left */
  hak_heap_trim();
  if (hak_tls_heap != &hak_heap_empty) hak_span_release(hak_tls_heap);
  size_t spans = hak_span_purge(0, true); /* before the pool: its kept regions go to the cache */
  return spans + hak_pool_trim() + hak_bigcache_trim();
}

/* ---- the exported names: aliases of the bodies -------------------------------------------- */

#define HAK_ALIAS(name, body) \
  extern __typeof__(body) name __attribute__((alias(#body), visibility("default")))

#ifndef HAK_NO_OVERRIDE
HAK_ALIAS(malloc, hak_malloc);
HAK_ALIAS(free, hak_free);
HAK_ALIAS(calloc, hak_calloc);
HAK_ALIAS(realloc, hak_realloc);
HAK_ALIAS(reallocarray, hak_reallocarray);
HAK_ALIAS(posix_memalign, hak_posix_memalign);
HAK_ALIAS(aligned_alloc, hak_aligned_alloc);
HAK_ALIAS(memalign, hak_memalign);
HAK_ALIAS(valloc, hak_valloc);
HAK_ALIAS(pvalloc, hak_pvalloc);
HAK_ALIAS(malloc_usable_size, hak_malloc_usable_size);
HAK_ALIAS(free_sized, hak_free_sized);
HAK_ALIAS(free_aligned_sized, hak_free_aligned_sized);
HAK_ALIAS(mallopt, hak_mallopt);
HAK_ALIAS(malloc_trim, hak_malloc_trim);
HAK_ALIAS(mallinfo, hak_mallinfo);
HAK_ALIAS(mallinfo2, hak_mallinfo2);
HAK_ALIAS(malloc_stats, hak_malloc_stats);
HAK_ALIAS(malloc_info, hak_malloc_info);
#endif

HAK_ALIAS(hakmem_malloc, hak_malloc);
HAK_ALIAS(hakmem_free, hak_free);
HAK_ALIAS(hakmem_calloc, hak_calloc);
HAK_ALIAS(hakmem_realloc, hak_realloc);
HAK_ALIAS(hakmem_aligned_alloc, hak_aligned_alloc);
