/* CPU shim for x86_64: what differs from the generic fallbacks. */
#ifndef HAK_ARCH_H
#define HAK_ARCH_H

#include <stdint.h>

#define HAK_ARCH_NAME "x86_64"
#define HAK_CACHE_LINE 64

/* Time-stamp counter: constant-rate on every CPU of the last decade; not serialising, which
 * is what a profile of slow paths wants (a few cycles, no pipeline flush). */
static inline uint64_t hak_cycles(void)
{
  uint32_t lo, hi;
  __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
#define HAK_HAVE_CYCLES 1

static inline void hak_cpu_relax(void)
{
  __asm__ __volatile__("pause" ::: "memory");
}
#define HAK_HAVE_CPU_RELAX 1

#include "generic/hak_arch_fallback.h"
#endif
