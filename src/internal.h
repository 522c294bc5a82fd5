/* Definitions every part of hakmem shares: attributes, branch hints, small helpers. */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hak_arch.h"

#define HAK_EXPORT __attribute__((visibility("default")))
#define HAK_INLINE static inline __attribute__((always_inline))
#define hak_likely(x) __builtin_expect(!!(x), 1)
#define hak_unlikely(x) __builtin_expect(!!(x), 0)

#define HAK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HAK_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline uintptr_t hak_align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
static inline bool hak_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Messages: formatted on the stack, written with write(2) (DESIGN invariant 2).
 * hak_msg understands %s, %d, %u, %zu, %p and %x, which is all the allocator prints. */
void hak_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes one formatted line (a newline is added) to fd; errno is kept. */
void hak_vmsg_fd(int fd, const char *fmt, __builtin_va_list ap);
_Noreturn void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats into buf (always NUL-terminated); returns the length written. */
size_t hak_vformat(char *buf, size_t cap, const char *fmt, __builtin_va_list ap);
size_t hak_format(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Set once by hak_init (init.c); everything that needs the options or the OS facts calls
 * hak_ensure_init first on its slow path. */
extern bool hak_initialized;
void hak_init_slow(void);
HAK_INLINE void hak_ensure_init(void)
{
  if (hak_unlikely(!__atomic_load_n(&hak_initialized, __ATOMIC_ACQUIRE))) hak_init_slow();
}

/* Housekeeping (init.c): at most every 100 ms, the calling thread gives its wholly free slabs
 * back to the pool and the caches' time bounds are applied, so that memory goes back to the OS
 * on time in a program that still allocates a little, not only in one that frees and maps
 * SuperSlabs.  Called from slow paths. */
void hak_maintain(void);
/* Its part that no thread owns (pools, LRU cache, span regions, BigCache), by the clock now:
 * also what the background thread runs. */
void hak_maintain_shared(double now);

/* Fork and thread exit (init.c). */
void hak_thread_done(void *heap);

#endif
