/* Thread churn: 3000 short-lived threads, a few at a time, each allocating and freeing in the
 * tiny and mid tiers and leaving some blocks behind that the main thread frees after the thread
 * has exited.  Memory must not grow with the number of threads (what an exiting thread held
 * goes back for others to use), and the blocks freed after their owner exited must be handed
 * out again. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#if defined(__SANITIZE_THREAD__)
#define HAK_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAK_TEST_TSAN 1
#endif
#endif
#ifndef HAK_TEST_TSAN
#define HAK_TEST_TSAN 0
#endif

enum { THREADS = 3000, WAVE = 6, LEFT = 4, ORPHAN_SIZE = 96 };
#define RSS_GROWTH_MAX ((long)32 << 20)

static void *orphans[THREADS][LEFT];

static long rss_bytes(void)
{
  char buf[128];
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = -1;
  if (fgets(buf, sizeof buf, f) && sscanf(buf, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static void *short_life(void *arg)
{
  size_t id = (size_t)(uintptr_t)arg;
  void *b[64];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 64; i++) {
      size_t n = (size_t)(i * 37 + round * 11 + id) % (i < 48 ? 1024 : 16384) + 1;
      b[i] = malloc(n);
      if (b[i]) memset(b[i], i, n);
    }
    for (int i = 0; i < 64; i++) free(b[i]);
  }
  for (int i = 0; i < LEFT; i++) {
    orphans[id][i] = malloc(ORPHAN_SIZE);
    if (orphans[id][i]) memset(orphans[id][i], (int)id, ORPHAN_SIZE);
  }
  return NULL;
}

static int run_threads(size_t from, size_t to)
{
  for (size_t i = from; i < to; i += WAVE) {
    pthread_t t[WAVE];
    size_t n = to - i < WAVE ? to - i : WAVE;
    for (size_t j = 0; j < n; j++)
      if (pthread_create(&t[j], NULL, short_life, (void *)(uintptr_t)(i + j)) != 0) return 0;
    for (size_t j = 0; j < n; j++) pthread_join(t[j], NULL);
    /* The blocks of the wave before this one: their owners are gone. */
    for (size_t j = i >= WAVE ? i - WAVE : i; j < i; j++)
      for (int k = 0; k < LEFT; k++) {
        const unsigned char *p = orphans[j][k];
        if (!p || p[0] != (unsigned char)j || p[ORPHAN_SIZE - 1] != (unsigned char)j) return 0;
        free(orphans[j][k]);
      }
  }
  return 1;
}

static int cmp_ptr(const void *a, const void *b)
{
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

/* The last wave's orphans, sorted, and what the reuser found. */
enum { LAST = WAVE * LEFT, ASK_MAX = 50000 };
static uintptr_t last[LAST];
static void *got[ASK_MAX];
static int asked, reused;

/* Allocates blocks of the orphans' size until one of the orphans' addresses comes back (or
 * ASK_MAX blocks, far more than the partly used slabs of that size can hold).  Which slab a
 * new thread is given first is the allocator's choice, so the test asks until the orphans'
 * memory must have been reached, instead of expecting it in the first few blocks. */
static void *reuser(void *arg)
{
  (void)arg;
  while (asked < ASK_MAX) {
    void *p = got[asked++] = malloc(ORPHAN_SIZE);
    if (p && bsearch(&p, last, LAST, sizeof last[0], cmp_ptr)) {
      reused = 1;
      break;
    }
  }
  return NULL;
}

int main(void)
{
  watchdog(90);
  plan(6);
  if (!run_threads(0, 300)) bail_out("thread or block lost during warm-up");
  long before = rss_bytes();
  long mapped_before = (long)mallinfo2().arena; /* bytes hakmem has mapped now */
  int all = run_threads(300, THREADS);
  long after = rss_bytes();
  long mapped_after = (long)mallinfo2().arena;
  ok(all, "%d threads ran; every block left behind held its contents until freed", THREADS);
  ok(mapped_after - mapped_before < RSS_GROWTH_MAX,
     "memory hakmem maps grew by %ld KiB over %d threads (bound %ld KiB)",
     (mapped_after - mapped_before) >> 10, THREADS - 300, RSS_GROWTH_MAX >> 10);
  /* Under an emulator the RSS is the emulator's, which keeps memory per guest thread; under
   * ThreadSanitizer it includes the sanitizer's own, whose synchronisation records grow with
   * the number of threads that ever ran.  There the mapped bytes above are hakmem's measure. */
  const char *emu = getenv("HAK_EMULATOR");
  if (emu && *emu) {
    skip(2, "RSS under an emulator is the emulator's own");
  } else if (HAK_TEST_TSAN) {
    skip(2, "RSS under ThreadSanitizer includes the sanitizer's own memory");
  } else {
    ok(before > 0 && after > 0, "RSS read from /proc/self/statm (%ld KiB, then %ld KiB)",
       before >> 10, after >> 10);
    ok(after - before < RSS_GROWTH_MAX, "RSS grew by %ld KiB over %d threads (bound %ld KiB)",
       (after - before) >> 10, THREADS - 300, RSS_GROWTH_MAX >> 10);
  }

  /* The last wave's orphans, freed now that their threads are gone, must be handed out again:
   * a new thread asking for that size gets one of those addresses back. */
  size_t first = THREADS - WAVE, k = 0;
  for (size_t j = first; j < THREADS; j++)
    for (int i = 0; i < LEFT; i++) {
      last[k++] = (uintptr_t)orphans[j][i];
      free(orphans[j][i]);
    }
  qsort(last, LAST, sizeof last[0], cmp_ptr);
  pthread_t t;
  if (pthread_create(&t, NULL, reuser, NULL) != 0) bail_out("pthread_create");
  pthread_join(t, NULL);
  ok(reused, "a new thread reuses blocks freed after their owner exited (after %d blocks)", asked);
  for (int i = 0; i < asked; i++) free(got[i]);

  void *p = malloc(ORPHAN_SIZE);
  ok(p != NULL, "malloc still works");
  free(p);
  return exit_status();
}
