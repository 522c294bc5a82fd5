/* The CPU shim (arch/<cpu>/hak_arch.h) builds for the CPU configure chose, and it ticks:
 * hak_cycles never goes back and moves at a plausible rate; hak_cpu_relax can be called. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "hak_arch.h"
#include "../tap.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
  plan(6);

#if defined(__x86_64__)
  const char *want = "x86_64";
#elif defined(__aarch64__)
  const char *want = "aarch64";
#else
  const char *want = "generic";
#endif
  ok(strcmp(HAK_ARCH_NAME, want) == 0, "the shim is arch/%s (compiled for %s)", HAK_ARCH_NAME,
     want);
  ok(HAK_CACHE_LINE >= 16 && (HAK_CACHE_LINE & (HAK_CACHE_LINE - 1)) == 0,
     "HAK_CACHE_LINE %d is a power of two", HAK_CACHE_LINE);

  /* Monotonic: a run of back-to-back reads never decreases. */
  uint64_t prev = hak_cycles(), first = prev;
  int backwards = 0;
  for (int i = 0; i < 100000; i++) {
    uint64_t t = hak_cycles();
    if (t < prev) backwards++;
    prev = t;
  }
  ok(backwards == 0, "100000 reads of hak_cycles never went back (%d did)", backwards);

  /* It moves: within a second of wall time it must have changed. */
  double t0 = now();
  uint64_t c = hak_cycles();
  while (c == first && now() - t0 < 1.0) c = hak_cycles();
  ok(c > first, "hak_cycles increases (%llu -> %llu)", (unsigned long long)first,
     (unsigned long long)c);

  /* Rate: 20 ms of wall time is at least 2000 ticks (100 kHz), at most 20 G ticks (1 THz). */
  t0 = now();
  uint64_t c0 = hak_cycles();
  while (now() - t0 < 0.02) hak_cpu_relax();
  double dt = now() - t0;
  uint64_t ticks = hak_cycles() - c0;
  ok(ticks >= 2000 && (double)ticks <= dt * 1e12, "hak_cycles runs at %.1f MHz",
     (double)ticks / dt / 1e6);

  for (int i = 0; i < 1000; i++) hak_cpu_relax();
  ok(1, "hak_cpu_relax is callable");
#if defined(__aarch64__)
  uint64_t frq;
  __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(frq));
  diag("CNTFRQ_EL0 = %llu Hz", (unsigned long long)frq);
#endif
  return exit_status();
}
