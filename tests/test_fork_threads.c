/* fork while other threads allocate: three threads run malloc/free loops in every tier while the
 * main thread forks again and again.  Each child allocates and frees a lot in every tier (and
 * from a new thread, except under an emulator), frees blocks it inherited, and exits 0.  No
 * child may hang or crash: alarm() turns a deadlock into a failure. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#ifndef HAK_TEST_TSAN
#define HAK_TEST_TSAN 0
#endif

enum { THREADS = 3, FORKS = 24, INHERITED = 64 };

static atomic_int stop;
static atomic_long loops;

static const size_t tier_sizes[] = {8, 48, 200, 1000, 3000, 20000, 65536, 100000, 1u << 20,
                                    (2u << 20) - 256};
#define NTIER (sizeof tier_sizes / sizeof tier_sizes[0])

static void *churn(void *arg)
{
  uint64_t r = (uintptr_t)arg * 2654435761u + 1;
  void *keep[32] = {0};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    r = r * 6364136223846793005u + 1442695040888963407u;
    unsigned slot = (unsigned)(r >> 59);
    size_t n = tier_sizes[(r >> 40) % NTIER] - (size_t)(r >> 20) % 7;
    free(keep[slot]);
    keep[slot] = malloc(n);
    if (keep[slot]) memset(keep[slot], (int)slot, n < 256 ? n : 256);
    atomic_fetch_add_explicit(&loops, 1, memory_order_relaxed);
  }
  for (unsigned i = 0; i < 32; i++) free(keep[i]);
  return NULL;
}

static void *child_thread(void *arg)
{
  for (int i = 0; i < 2000; i++) free(malloc(tier_sizes[i % NTIER] / 2 + 1));
  return arg;
}

/* The child: returns its exit status. */
static int child_work(unsigned char **inherited)
{
  alarm(20);
  int status = 0;
  for (int i = 0; i < INHERITED; i++) {
    for (size_t j = 0; j < 8; j++)
      if (inherited[i][j] != (unsigned char)i) status = 2;
    free(inherited[i]);
  }
  void *b[256];
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 256; i++) {
      size_t n = tier_sizes[(unsigned)(i + round) % NTIER] + (size_t)i;
      b[i] = malloc(n);
      if (!b[i]) return 3;
      memset(b[i], i, n < 4096 ? n : 4096);
    }
    for (int i = 0; i < 256; i++) {
      size_t n = tier_sizes[(unsigned)(i + round) % NTIER] + (size_t)i;
      const unsigned char *p = b[i];
      for (size_t j = 0; j < (n < 4096 ? n : 4096); j++)
        if (p[j] != (unsigned char)i) status = 4;
      free(b[i]);
    }
  }
  /* qemu-user cannot start a thread in a child forked from a multi-threaded process, nor can
   * ThreadSanitizer (make check-tsan). */
  const char *emu = getenv("HAK_EMULATOR");
  if ((emu && *emu) || HAK_TEST_TSAN) return status;
  pthread_t t;
  if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, NULL) != 0) return 5;
  return status;
}

int main(void)
{
  watchdog(60);
  plan(4);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0) bail_out("pthread_create");

  unsigned char *inherited[INHERITED];
  for (int i = 0; i < INHERITED; i++) {
    inherited[i] = malloc(tier_sizes[i % NTIER]);
    memset(inherited[i], i, 8);
  }

  int exited0 = 0, crashed = 0, hung = 0;
  for (int f = 0; f < FORKS; f++) {
    pid_t pid = fork();
    if (pid < 0) bail_out("fork");
    if (pid == 0) _exit(child_work(inherited));
    int st;
    if (waitpid(pid, &st, 0) != pid) bail_out("waitpid");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      exited0++;
    } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
      hung++;
    } else {
      crashed++;
      if (crashed == 1)
        diag("child %d: %s %d", f, WIFSIGNALED(st) ? "killed by signal" : "exit status",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < INHERITED; i++) free(inherited[i]);

  ok(hung == 0, "no child hung (%d of %d)", hung, FORKS);
  ok(crashed == 0, "no child crashed or found bad memory (%d of %d)", crashed, FORKS);
  ok(exited0 == FORKS, "all %d children exited 0", FORKS);
  ok(atomic_load(&loops) > 0, "the parent's threads kept allocating (%ld loops)", atomic_load(&loops));
  return exit_status();
}
