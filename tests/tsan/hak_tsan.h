/* Put in front of every test program of make check-tsan (-include).  ThreadSanitizer's
 * runtime owns malloc, so those programs are linked with a build of the allocator that
 * exports none of the malloc family (-DHAK_NO_OVERRIDE) and reach it through the hidden
 * bodies of src/override.h instead: the same test sources serve both builds.  The system
 * headers come first, so that only the test's own calls are renamed. */
#ifndef HAK_TSAN_H
#define HAK_TSAN_H

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "override.h"

/* For what a test must do otherwise under ThreadSanitizer. */
#define HAK_TEST_TSAN 1

#define malloc hak_malloc
#define free hak_free
#define calloc hak_calloc
#define realloc hak_realloc
#define reallocarray hak_reallocarray
#define posix_memalign hak_posix_memalign
#define aligned_alloc hak_aligned_alloc
#define memalign hak_memalign
#define valloc hak_valloc
#define pvalloc hak_pvalloc
#define malloc_usable_size hak_malloc_usable_size
#define free_sized hak_free_sized
#define free_aligned_sized hak_free_aligned_sized
#define malloc_trim hak_malloc_trim
/* Function-like: struct mallinfo2 keeps its name. */
#define mallinfo2() hak_mallinfo2()

#endif
