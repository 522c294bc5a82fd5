/* CPU shim for aarch64. */
#ifndef HAK_ARCH_H
#define HAK_ARCH_H

#include <stdint.h>

#define HAK_ARCH_NAME "aarch64"
/* Most cores have 64-byte lines; some (Apple, A64FX) 128.  Spacing by 64 is what matters. */
#define HAK_CACHE_LINE 64

/* The virtual counter: readable from EL0 on Linux, constant rate (CNTFRQ_EL0), not cycles. */
static inline uint64_t hak_cycles(void)
{
  uint64_t v;
  __asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
  return v;
}
#define HAK_HAVE_CYCLES 1

static inline void hak_cpu_relax(void)
{
  __asm__ __volatile__("yield" ::: "memory");
}
#define HAK_HAVE_CPU_RELAX 1

#include "generic/hak_arch_fallback.h"
#endif
