/* A wild free of the first byte of a freed large block's mapping must be reported.  A freed
 * large mapping waits in the BigCache; its start (the 2 MiB boundary below the block) is no
 * block, so free() and malloc_usable_size() of it must abort with "hakmem: ... invalid
 * pointer" -- if free() accepts it, the mapping is cached twice and two later mallocs return
 * the same block. */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define SS_BYTES ((uintptr_t)2 << 20) /* large mappings start on this boundary (superslab.h) */

static volatile uintptr_t sink;

static char *freed_large_base(void)
{
  char *p = malloc(1u << 20);
  char *base = (char *)((uintptr_t)p & ~(SS_BYTES - 1));
  free(p);
  return base;
}

/* In the child: exits 0 if the misuse went unnoticed, 3 if it also handed out one block twice. */
static void free_base(void)
{
  free(freed_large_base());
  void *a = malloc(1u << 20), *b = malloc(1u << 20);
  _exit(a == b ? 3 : 0);
}

static void usable_base(void)
{
  sink = malloc_usable_size(freed_large_base());
  _exit(0);
}

static void run(void (*fn)(void), const char *what)
{
  int fd[2];
  if (pipe(fd) != 0) bail_out("pipe");
  pid_t pid = fork();
  if (pid < 0) bail_out("fork");
  if (pid == 0) {
    alarm(10);
    dup2(fd[1], STDERR_FILENO);
    close(fd[0]);
    close(fd[1]);
    fn();
  }
  close(fd[1]);
  char msg[512];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof msg - 1 && (n = read(fd[0], msg + len, sizeof msg - 1 - len)) > 0) len += (size_t)n;
  msg[len] = 0;
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
  const char *line = strstr(msg, "hakmem: ");
  ok(aborted && line && (line == msg || line[-1] == '\n') && strstr(line, "invalid pointer"),
     "%s: SIGABRT and a \"hakmem: ... invalid pointer\" line", what);
  if (!aborted)
    diag("the child %s", WIFEXITED(st) && WEXITSTATUS(st) == 3 ? "went on and got one block from two mallocs"
                         : WIFEXITED(st) ? "went on as if nothing happened" : "died otherwise");
}

int main(void)
{
  watchdog(30);
  plan(2);
  run(free_base, "free(start of a freed large block's mapping)");
  run(usable_base, "malloc_usable_size(start of a freed large block's mapping)");
  return exit_status();
}
