/* Misuse is reported, not followed: each case runs in a forked child whose stderr goes to a
 * pipe.  The child must die of SIGABRT after writing one line that starts with "hakmem: " and
 * names the problem ("invalid pointer", "double free", "free list corrupted") — never SIGSEGV,
 * never silence.  Cases: wild, interior, misaligned, stack, global and foreign pointers; double
 * frees in every tier, at and below the head of the thread's cache, across threads, and after
 * the calls that must really free (realloc(p, 0), a moving realloc, free_sized,
 * free_aligned_sized); realloc and malloc_usable_size of invalid pointers; and writes into
 * free blocks (a linear overflow from a live neighbour, a use-after-free write).  Blocks on a
 * remote list hold its links, which the next mallocs must catch when they follow them; blocks
 * on their slab hold nothing of the allocator's (a slab's map says which are free), so there
 * the child must live on, and the blocks the next mallocs return must be distinct and each
 * hold what is written into it. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

static char global_buf[256];
static volatile uintptr_t sink;

static void wild(void) { free((void *)(uintptr_t)0x12345670); }
/* free of a pointer off into a fresh block of size bytes: no block starts there. */
static void free_inside(size_t size, size_t off)
{
  char *p = malloc(size);
  free(p + off);
}
static void small_misaligned(void) { free_inside(64, 1); }
static void span_misaligned(void) { free_inside(300000, 1); }
static void large_misaligned(void) { free_inside(3u << 20, 1); }
static void small_interior(void) { free_inside(100, 16); }
static void small_interior_odd(void) { free_inside(24, 8); }
static void mid_interior(void) { free_inside(5000, 1024); }
static void span_interior(void) { free_inside(300000, 4096); }
static void span_interior_unit(void) { free_inside(300000, 1024); } /* a unit, not a block, starts there */
static void large_interior(void) { free_inside(3u << 20, 4096); }
static void large_far_interior(void) { free_inside(6u << 20, 3u << 20); } /* past its first 2 MiB */
static void stack_addr(void)
{
  char buf[64];
  sink = (uintptr_t)buf;
  free((void *)sink);
}
static void global_addr(void)
{
  sink = (uintptr_t)global_buf;
  free((void *)sink);
}
static void foreign_mmap(void)
{
  void *m = mmap(NULL, 1u << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  free((char *)m + 64);
}
static void double_small(void)
{
  void *p = malloc(32);
  malloc(32); /* keeps the slab from emptying */
  free(p);
  free(p);
}
static void double_immediate(void)
{
  void *p = malloc(32);
  free(p);
  free(p);
}
static void double_below_head(void)
{
  void *p = malloc(80), *q = malloc(80), *r = malloc(80);
  free(p);
  free(q);
  free(r);
  free(p); /* two frees above it */
}
static void double_after_realloc_moved(void)
{
  void *p = malloc(16);
  void *q = realloc(p, 5000); /* another tier: p moves and is freed */
  sink = (uintptr_t)q;
  if (q == p) _exit(3);
  free(p);
}
/* A write after free clears p's tag while p waits in the magazine; 300 more frees of its class
 * push it out to its slab, which must tag it again, so that the second free of p is still
 * seen. */
static void double_after_tag_overwritten(void)
{
  enum { N = 300 };
  static void *more[N];
  void *p = malloc(32);
  for (int i = 0; i < N; i++) more[i] = malloc(32);
  malloc(32); /* keeps the slab from emptying */
  free(p);
  ((volatile uintptr_t *)p)[1] = 0;
  for (int i = 0; i < N; i++) free(more[i]);
  free(p);
}
/* The same with the tag cleared once p is back on its slab, after the flush that rewrote it:
 * free's test passes, and the map catches the block when the next flush brings it back. */
static void double_after_tag_overwritten_on_slab(void)
{
  enum { N = 300 };
  static void *more[N], *again[N];
  void *p = malloc(32);
  for (int i = 0; i < N; i++) more[i] = malloc(32);
  for (int i = 0; i < N; i++) again[i] = malloc(32);
  malloc(32); /* keeps the slab from emptying */
  free(p);
  for (int i = 0; i < N; i++) free(more[i]);
  ((volatile uintptr_t *)p)[1] = 0;
  free(p);
  for (int i = 0; i < N; i++) free(again[i]);
}
static void double_mid(void)
{
  void *p = malloc(3000);
  malloc(3000);
  free(p);
  free(p);
}
static void double_span(void)
{
  void *p = malloc(300000);
  free(p);
  free(p);
}
/* The header of a span region: the 2 MiB boundary below a span block. */
static void span_region_header(void)
{
  char *p = malloc(300000);
  free((void *)((uintptr_t)p & ~(((uintptr_t)2 << 20) - 1)));
}
static void double_large(void)
{
  void *p = malloc(1u << 20);
  free(p);
  free(p);
}
static void *free_in_thread(void *p)
{
  free(p);
  return NULL;
}
/* A block of n bytes freed by another thread, then by its owner (the thread that made it). */
static void remote_then_owner(size_t n)
{
  void *p = malloc(n);
  malloc(n);
  pthread_t t;
  pthread_create(&t, NULL, free_in_thread, p);
  pthread_join(t, NULL);
  free(p);
}
static void double_after_remote(void)
{
  remote_then_owner(64);
}
static void *sleep_then_free(void *p)
{
  usleep(1000);
  free(p);
  return NULL;
}
static void double_remote_second(void)
{
  void *p = malloc(64);
  malloc(64);
  free(p); /* by its owner first, then again by another thread */
  pthread_t t;
  pthread_create(&t, NULL, sleep_then_free, p);
  pthread_join(t, NULL);
}
/* An L2.5 block freed twice by a thread that does not allocate from its region, while the
 * owner lives: the first marks it pending in the region, and the second finds it marked. */
static void *free_twice_in_thread(void *p)
{
  free(p);
  free(p);
  return NULL;
}
/* An L2.5 block handed to fn on another thread, then an allocation by its owner. */
static void span_by_thread_then_alloc(void *(*fn)(void *))
{
  void *p = malloc(300000);
  malloc(300000);
  pthread_t t;
  pthread_create(&t, NULL, fn, p);
  pthread_join(t, NULL);
  sink = (uintptr_t)malloc(300000);
}
static void double_span_remote(void)
{
  span_by_thread_then_alloc(free_twice_in_thread);
}
/* The interior of an L2.5 block freed by another thread while its owner lives: nothing is
 * written, and the owner's next allocation from the region reports it. */
static void *free_interior_in_thread(void *p)
{
  free((char *)p + 1024);
  return NULL;
}
static void span_interior_remote(void)
{
  span_by_thread_then_alloc(free_interior_in_thread);
}
/* Freed by another thread (marked pending in its region), then by its owner. */
static void double_span_remote_then_owner(void)
{
  remote_then_owner(300000);
}
static void double_after_realloc0(void)
{
  void *p = malloc(48);
  malloc(48);
  sink = (uintptr_t)realloc(p, 0);
  free(p);
}
static void double_after_free_sized(void)
{
  void *p = malloc(200);
  malloc(200);
  free_sized(p, 200);
  free(p);
}
static void double_after_free_aligned_sized(void)
{
  void *p = aligned_alloc(64, 640);
  aligned_alloc(64, 640);
  free_aligned_sized(p, 64, 640);
  free(p);
}
/* ---- writes into free blocks ----------------------------------------------------------------
 * N blocks of one size, more than a thread's cache of that class holds, so that most of the
 * freed ones lie on their slab (or its remote list), where the next mallocs take them. */
#define NB 1024
static char *blocks[NB];

static int by_address(const void *a, const void *b)
{
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

static void alloc_sorted(size_t size)
{
  for (int i = 0; i < NB; i++) blocks[i] = malloc(size);
  qsort(blocks, NB, sizeof blocks[0], by_address);
}

static void malloc_many(size_t size)
{
  for (int i = 0; i < 2 * NB; i++) sink = (uintptr_t)malloc(size);
}

/* The same, each block filled with a byte of its own and all of them read back afterwards:
 * two mallocs that returned one block, or a block that overlaps another, leave a wrong byte
 * (exit status 1). */
static void malloc_many_checked(size_t size)
{
  static unsigned char *got[2 * NB];
  for (int i = 0; i < 2 * NB; i++) {
    if (!(got[i] = malloc(size))) _exit(2);
    memset(got[i], (unsigned char)(i * 7 + 1), size);
  }
  for (int i = 0; i < 2 * NB; i++)
    for (size_t k = 0; k < size; k++)
      if (got[i][k] != (unsigned char)(i * 7 + 1)) _exit(1);
}

/* Every other block is freed; each live one then writes 16 bytes past its end, over the first
 * two words of its freed neighbour, where a list's link and the tag lie (a linear overflow). */
static void overflow_into(size_t size)
{
  alloc_sorted(size);
  for (int i = 1; i < NB; i += 2) free(blocks[i]);
  for (int i = 0; i + 1 < NB; i += 2)
    if (blocks[i + 1] == blocks[i] + size) memset(blocks[i] + size, 'A', 16);
  malloc_many_checked(size);
}
static void overflow_small(void) { overflow_into(64); }
static void overflow_mid(void) { overflow_into(4096); }

/* Freed blocks are written through stale pointers: one word, where a link would be. */
static void uaf_write_local(void)
{
  alloc_sorted(48);
  for (int i = 0; i < NB; i++) free(blocks[i]);
  for (int i = 0; i < NB; i++) memcpy(blocks[i], "\x41\x41\x41\x41\x41\x41\x41\x41", 8);
  malloc_many_checked(48);
}

static void *free_all(void *arg)
{
  (void)arg;
  for (int i = 0; i < NB; i++) free(blocks[i]);
  return NULL;
}
/* The same, into blocks another thread freed: they wait on their slabs' remote lists. */
static void uaf_write_remote(void)
{
  alloc_sorted(48);
  pthread_t t;
  pthread_create(&t, NULL, free_all, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < NB; i++) memcpy(blocks[i] + 8, "\x42\x42\x42\x42\x42\x42\x42\x42", 8);
  for (int i = 0; i < NB; i++) memcpy(blocks[i], "\x41\x41\x41\x41\x41\x41\x41\x41", 8);
  malloc_many(48);
}

static void realloc_wild(void) { sink = (uintptr_t)realloc((void *)(uintptr_t)0x12345670, 10); }
static void realloc_interior(void)
{
  char *p = malloc(100);
  sink = (uintptr_t)realloc(p + 16, 200);
}
static void usable_size_wild(void) { sink = malloc_usable_size((void *)(uintptr_t)0x7654320); }
static void realloc_freed_small(void)
{
  char *p = malloc(40);
  free(p);
  sink = (uintptr_t)realloc(p, 400);
}
static void usable_size_freed_small(void)
{
  char *p = malloc(3000);
  free(p);
  sink = malloc_usable_size(p);
}
/* A block with an alignment past half a SuperSlab has a mapping of its own, in no region. */
static void double_huge_aligned(void)
{
  void *p = NULL;
  if (posix_memalign(&p, (size_t)4 << 20, 100) != 0) return;
  free(p);
  free(p);
}

/* The start of a freed large block's mapping (the 2 MiB boundary below the block, superslab.h)
 * waits in the BigCache and is no block: accepting a free of it would cache the mapping twice
 * and hand one block out to two later mallocs. */
static char *freed_large_base(void)
{
  char *p = malloc(1u << 20);
  char *base = (char *)((uintptr_t)p & ~(((uintptr_t)2 << 20) - 1));
  free(p);
  return base;
}
static void free_cached_large_base(void)
{
  free(freed_large_base());
  void *a = malloc(1u << 20), *b = malloc(1u << 20);
  sink = a == b; /* one block from two mallocs, had the free been accepted */
}
static void usable_size_cached_large_base(void) { sink = malloc_usable_size(freed_large_base()); }

static const char LIVES[] = "";
static const struct {
  const char *name;
  void (*fn)(void);
  const char *want; /* in the message; NULL: either "invalid pointer" or "double free"; LIVES:
                     * no message, and the child exits 0 */
} cases[] = {
    {"free(wild pointer)", wild, "invalid pointer"},
    {"free(small block + 1, misaligned)", small_misaligned, "invalid pointer"},
    {"free(L2.5 block + 1, misaligned)", span_misaligned, "invalid pointer"},
    {"free(large block + 1, misaligned)", large_misaligned, "invalid pointer"},
    {"free(start of a freed large block's mapping)", free_cached_large_base, "invalid pointer"},
    {"malloc_usable_size(start of a freed large block's mapping)", usable_size_cached_large_base,
     "invalid pointer"},
    {"free(interior of a 100-byte block)", small_interior, "invalid pointer"},
    {"free(interior of a 24-byte block, 8 in)", small_interior_odd, "invalid pointer"},
    {"free(interior of a mid block)", mid_interior, "invalid pointer"},
    {"free(interior of an L2.5 block, a page in)", span_interior, "invalid pointer"},
    {"free(interior of an L2.5 block, 1 KiB in)", span_interior_unit, "invalid pointer"},
    {"free(header of an L2.5 block's region)", span_region_header, "invalid pointer"},
    {"free(interior of a large block)", large_interior, "invalid pointer"},
    {"free(interior of a large block, 3 MiB in)", large_far_interior, "invalid pointer"},
    {"free(stack address)", stack_addr, "invalid pointer"},
    {"free(address of a global)", global_addr, "invalid pointer"},
    {"free(pointer into a foreign mmap)", foreign_mmap, "invalid pointer"},
    {"double free of a small block", double_small, "double free"},
    {"double free, the second at once", double_immediate, "double free"},
    {"double free of a block below the head of the cache", double_below_head, "double free"},
    {"free of the old pointer after realloc moved the block", double_after_realloc_moved,
     "double free"},
    {"double free, the second by another thread", double_remote_second, "double free"},
    {"double free after a write after free cleared the tag", double_after_tag_overwritten,
     "double free"},
    {"double free after a write after free cleared the tag of a block on its slab",
     double_after_tag_overwritten_on_slab, "double free"},
    {"double free of a mid block", double_mid, "double free"},
    {"double free of an L2.5 block", double_span, NULL},
    {"double free of an L2.5 block by another thread, its owner alive", double_span_remote,
     "double free"},
    {"free(interior of an L2.5 block) by another thread, its owner alive", span_interior_remote,
     "invalid pointer"},
    {"free of an L2.5 block by its owner after another thread freed it",
     double_span_remote_then_owner, NULL},
    {"double free of a large block", double_large, NULL},
    {"double free after another thread freed the block", double_after_remote, "double free"},
    {"free after realloc(p, 0) (realloc freed p)", double_after_realloc0, "double free"},
    {"free after free_sized", double_after_free_sized, "double free"},
    {"free after free_aligned_sized", double_after_free_aligned_sized, "double free"},
    {"realloc(wild pointer)", realloc_wild, "invalid pointer"},
    {"realloc(interior pointer)", realloc_interior, "invalid pointer"},
    {"malloc_usable_size(wild pointer)", usable_size_wild, "invalid pointer"},
    {"realloc of a freed small block", realloc_freed_small, "invalid pointer"},
    {"malloc_usable_size of a freed mid block", usable_size_freed_small, "invalid pointer"},
    {"double free of a huge-aligned block", double_huge_aligned, "invalid pointer"},
    {"16-byte overflow into freed small neighbours, then mallocs", overflow_small, LIVES},
    {"16-byte overflow into freed mid neighbours, then mallocs", overflow_mid, LIVES},
    {"use-after-free writes into the first words of freed blocks, then mallocs", uaf_write_local,
     LIVES},
    {"use-after-free writes into blocks on remote lists, then mallocs", uaf_write_remote,
     "free list corrupted"},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* Runs one case in a child; fills msg with its stderr and returns its wait status. */
static int run_case(int i, char *msg, size_t cap)
{
  int fd[2];
  if (pipe(fd) != 0) bail_out("pipe");
  pid_t pid = fork();
  if (pid < 0) bail_out("fork");
  if (pid == 0) {
    alarm(10);
    signal(SIGABRT, SIG_DFL);
    dup2(fd[1], STDERR_FILENO);
    close(fd[0]);
    close(fd[1]);
    cases[i].fn();
    _exit(0); /* not caught */
  }
  close(fd[1]);
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd[0], msg + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == cap - 1) break;
  }
  msg[len] = 0;
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

int main(void)
{
  watchdog(60);
  plan(NCASES);
  for (int i = 0; i < NCASES; i++) {
    char msg[1024];
    int st = run_case(i, msg, sizeof msg);
    int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
    /* The first line that starts with "hakmem: ". */
    const char *line = NULL;
    for (const char *l = msg; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
      if (strncmp(l, "hakmem: ", 8) == 0) {
        line = l;
        break;
      }
    int pass;
    if (cases[i].want == LIVES) {
      pass = WIFEXITED(st) && WEXITSTATUS(st) == 0 && !line;
      ok(pass, "%s: no report, and the blocks malloc returns next are distinct and whole",
         cases[i].name);
    } else {
      int named = line && (cases[i].want ? strstr(line, cases[i].want) != NULL
                                         : strstr(line, "invalid pointer") ||
                                               strstr(line, "double free"));
      pass = aborted && named;
      ok(pass, "%s: SIGABRT and a \"hakmem: ...%s\" line", cases[i].name,
         cases[i].want ? cases[i].want : "");
    }
    if (!pass) {
      char *nl = strchr(msg, '\n');
      if (nl) *nl = 0;
      diag("status: %s %d; stderr: %s", WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), msg[0] ? msg : "(nothing)");
    }
  }
  return exit_status();
}
