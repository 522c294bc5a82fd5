/* Fallbacks for what a CPU shim does not define.  Included at the end of every hak_arch.h. */
#ifndef HAK_ARCH_FALLBACK_H
#define HAK_ARCH_FALLBACK_H

#include <stdint.h>
#include <time.h>

#ifndef HAK_CACHE_LINE
#define HAK_CACHE_LINE 64
#endif

#ifndef HAK_HAVE_CYCLES
/* No cycle counter: nanoseconds from the monotonic clock (a vDSO call, no system call). */
static inline uint64_t hak_cycles(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#ifndef HAK_HAVE_CPU_RELAX
static inline void hak_cpu_relax(void)
{
  __asm__ __volatile__("" ::: "memory");
}
#endif

#endif
