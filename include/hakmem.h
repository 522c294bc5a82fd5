/* hakmem: a general-purpose malloc for Linux.
 *
 * Loaded with LD_PRELOAD or linked with -lhakmem, the library replaces the whole malloc family
 * (malloc, free, calloc, realloc, posix_memalign, ...).  The hakmem_* functions below reach the
 * allocator by name, for programs that want to call it beside another malloc. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_VERSION "0.1.0"
/* One number that grows with every release: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define HAKMEM_VERSION_NUMBER \
  (HAKMEM_VERSION_MAJOR * 10000 + HAKMEM_VERSION_MINOR * 100 + HAKMEM_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

void *hakmem_malloc(size_t size);
void *hakmem_calloc(size_t count, size_t size);
void *hakmem_realloc(void *ptr, size_t size);
void *hakmem_aligned_alloc(size_t alignment, size_t size);
void hakmem_free(void *ptr);
size_t hakmem_usable_size(const void *ptr);
/* Returns every cached empty region to the OS; the count of bytes released. */
size_t hakmem_trim(void);
/* The version of the library that is running, e.g. "0.1.0". */
const char *hakmem_version(void);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
