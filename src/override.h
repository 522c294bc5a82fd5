/* The malloc family's bodies (override.c), hidden.  The exported malloc, free, ... and the
 * hakmem_* API are aliases of these, so each body exists once and costs no extra call.
 *
 * Built with -DHAK_NO_OVERRIDE, the library exports none of the malloc family, only hakmem_*:
 * a build for a runtime that owns malloc itself (ThreadSanitizer's), whose test programs
 * reach the allocator through these names instead (tests/tsan/hak_tsan.h). */
#ifndef HAK_OVERRIDE_H
#define HAK_OVERRIDE_H

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>

void *hak_malloc(size_t n);
void hak_free(void *p);
void *hak_calloc(size_t count, size_t size);
void *hak_realloc(void *p, size_t n);
void *hak_reallocarray(void *p, size_t count, size_t size);
int hak_posix_memalign(void **out, size_t align, size_t n);
void *hak_aligned_alloc(size_t align, size_t n);
void *hak_memalign(size_t align, size_t n);
void *hak_valloc(size_t n);
void *hak_pvalloc(size_t n);
size_t hak_malloc_usable_size(void *p);
void hak_free_sized(void *p, size_t size);
void hak_free_aligned_sized(void *p, size_t align, size_t size);
int hak_mallopt(int param, int value);
int hak_malloc_trim(size_t pad);
struct mallinfo hak_mallinfo(void);
struct mallinfo2 hak_mallinfo2(void);
void hak_malloc_stats(void);
int hak_malloc_info(int options, FILE *fp);

#endif
