/* A fuzzer of the malloc family, checked against a model of every live block.
 *
 *   fuzz_malloc [--seed S] [--ops N] [--threads T]
 *
 * Each of T threads runs N random operations: malloc, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, free,
 * free_sized and free_aligned_sized, in every tier (tiny to 1 KiB, mid to 64 KiB, large to a
 * few MiB, alignments up to 4 MiB), the error cases included.  Blocks also pass to other
 * threads through shared slots, so that many frees are remote.  Each block holds a pattern
 * made from the seed and the block's id, checked before every free and realloc; every answer
 * is checked against the contract (alignment, usable size, zeroed calloc, errno).
 *
 * Thread t draws its operations from a generator seeded with (S, t), so with --threads 1 a
 * seed replays a run exactly; with more threads the choices are the same but which blocks
 * arrive from the others depends on timing.  The seed is printed, and a failure names the
 * thread and the operation. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* C23; glibc 2.38's headers do not declare them yet. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

#ifndef FUZZ_DEFAULT_OPS
#define FUZZ_DEFAULT_OPS 40000
#endif
enum { MAX_THREADS = 64, SLOTS = 128, SHARED = 64, REPORTS_MAX = 10 };
#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
/* Bytes of a block that hold the pattern: all of the first DENSE and the last TAIL, and the
 * first word of every 4 KiB in between, so that a block of megabytes costs little. */
#define DENSE (64 * KiB)
#define TAIL (4 * KiB)
#define STRIDE (4 * KiB)
#define NONE SIZE_MAX

typedef struct {
  unsigned char *p;
  size_t size;  /* bytes that hold the pattern: the request, or the usable size once asked */
  size_t req;   /* the size of the last request, for free_sized */
  size_t align; /* alignment given to aligned_alloc, for free_aligned_sized; else 0 */
  uint64_t id;
} block_t;

enum {
  OP_MALLOC, OP_CALLOC, OP_REALLOC_NULL, OP_REALLOCARRAY_NULL, OP_POSIX_MEMALIGN,
  OP_ALIGNED_ALLOC, OP_MEMALIGN, OP_VALLOC, OP_PVALLOC, OP_FREE, OP_FREE_SIZED,
  OP_FREE_ALIGNED_SIZED, OP_REALLOC, OP_REALLOC_ZERO, OP_REALLOCARRAY, OP_USABLE, OP_HANDOFF,
  OP_CHECK, OP_ERRORS, NOPS
};
static const char *const op_name[NOPS] = {
  "malloc", "calloc", "realloc(NULL)", "reallocarray(NULL)", "posix_memalign",
  "aligned_alloc", "memalign", "valloc", "pvalloc", "free", "free_sized",
  "free_aligned_sized", "realloc", "realloc(p, 0)", "reallocarray", "malloc_usable_size",
  "hand-off", "check", "error cases"};

typedef struct {
  unsigned id;
  uint64_t rng;
  long op; /* the operation running now, for reports */
  uint64_t next_id;
  block_t blk[SLOTS];
  long count[NOPS];
  long allocs, frees;
} thread_t;

static struct {
  pthread_mutex_t lock;
  block_t b;
} shared[SHARED];

static uint64_t seed;
static long ops = FUZZ_DEFAULT_OPS;
static unsigned nthreads = 4;
static size_t page;
static thread_t threads[MAX_THREADS];
static atomic_long corrupt, violations, reports;

static uint64_t mix(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static uint64_t next(thread_t *t)
{
  return mix(t->rng += 0x9e3779b97f4a7c15u);
}

static size_t below(thread_t *t, size_t n)
{
  return (size_t)(next(t) % n);
}

static void report(thread_t *t, atomic_long *counter, const char *what, const block_t *b)
{
  atomic_fetch_add(counter, 1);
  if (atomic_fetch_add(&reports, 1) >= REPORTS_MAX) return;
  diag("seed %llu thread %u op %ld: %s (block %llx, %zu bytes at %p)", (unsigned long long)seed,
       t->id, t->op, what, (unsigned long long)(b ? b->id : 0), b ? b->size : 0,
       b ? (void *)b->p : NULL);
}

/* ---- the pattern ------------------------------------------------------------------------ */

enum { FILL, CHECK, ZERO };

/* Bytes [a, z) of the block's pattern: fills them, or returns the offset of the first that
 * differs from the pattern (CHECK) or from zero (ZERO), or NONE. */
static size_t span(const block_t *b, size_t a, size_t z, int mode)
{
  uint64_t key = mix(seed ^ mix(b->id));
  for (size_t i = a; i < z;) {
    uint64_t v = mode == ZERO ? 0 : key ^ (i / 8 * 0x9e3779b97f4a7c15u), got;
    if (i % 8 == 0 && z - i >= 8) { /* a whole word */
      if (mode == FILL) memcpy(b->p + i, &v, 8);
      else if (memcpy(&got, b->p + i, 8), got != v) return i;
      i += 8;
      continue;
    }
    unsigned char c[8];
    memcpy(c, &v, 8);
    for (size_t end = (i / 8 + 1) * 8; i < end && i < z; i++) {
      if (mode == FILL) b->p[i] = c[i % 8];
      else if (b->p[i] != c[i % 8]) return i;
    }
  }
  return NONE;
}

/* The pattern's bytes of the block that lie in [from, to). */
static size_t walk(const block_t *b, size_t from, size_t to, int mode)
{
  size_t n = b->size, tail = n > TAIL ? n - TAIL : 0, bad;
  size_t dense_end = to < DENSE ? to : DENSE;
  if (from < dense_end && (bad = span(b, from, dense_end, mode)) != NONE) return bad;
  size_t lo = from > DENSE ? from : DENSE, hi = to < tail ? to : tail;
  for (size_t pg = lo / STRIDE * STRIDE; pg < hi; pg += STRIDE) {
    size_t a = pg > lo ? pg : lo, z = pg + 8 < hi ? pg + 8 : hi;
    if (a < z && (bad = span(b, a, z, mode)) != NONE) return bad;
  }
  lo = from > tail ? from : tail;
  if (lo < DENSE) lo = DENSE;
  if (lo < to && (bad = span(b, lo, to, mode)) != NONE) return bad;
  return NONE;
}

/* The pattern after the block changed size from old bytes: what is new, and the new tail. */
static void refill(const block_t *b, size_t old)
{
  size_t from = b->size > TAIL ? b->size - TAIL : 0;
  walk(b, old < from ? old : from, b->size, FILL);
}

static int intact(thread_t *t, const block_t *b, size_t upto)
{
  size_t bad = walk(b, 0, upto, CHECK);
  if (bad == NONE) return 1;
  char what[96];
  snprintf(what, sizeof what, "pattern broken at offset %zu", bad);
  report(t, &corrupt, what, b);
  return 0;
}

/* ---- the contract ----------------------------------------------------------------------- */

static int aligned(const void *p, size_t a)
{
  return ((uintptr_t)p & (a - 1)) == 0;
}

/* A new block of n bytes at p, aligned to align (0: the default): checks what every block
 * must satisfy and takes it into the model. */
static void take(thread_t *t, block_t *b, void *p, size_t n, size_t align, const char *who)
{
  if (!p) {
    char what[64];
    snprintf(what, sizeof what, "%s returned NULL", who);
    report(t, &violations, what, NULL);
    return;
  }
  *b = (block_t){p, n, n, 0, ((uint64_t)t->id << 48) | t->next_id++};
  t->allocs++;
  if (!aligned(p, n < 16 ? 8 : 16) || (align && !aligned(p, align))) report(t, &violations, "misaligned", b);
  if (malloc_usable_size(p) < n) report(t, &violations, "usable size below the request", b);
}

static size_t pow2_at_least(size_t a)
{
  size_t p = 1;
  while (p < a) p <<= 1;
  return p;
}

/* ---- operations ------------------------------------------------------------------------- */

/* A size from every tier: mostly tiny and mid, some large, a few of several MiB. */
static size_t any_size(thread_t *t)
{
  unsigned k = (unsigned)below(t, 100);
  if (k < 3) return (size_t[]){0, 1, 16, 1024, 1025, 65536, 65537}[below(t, 7)];
  if (k < 50) return below(t, 1025);
  if (k < 85) return 1025 + below(t, 64 * KiB - 1024);
  if (k < 98) return 64 * KiB + 1 + below(t, MiB);
  return MiB + below(t, 5 * MiB);
}

/* A power of two from 8 to 4 MiB, mostly small. */
static size_t any_align(thread_t *t)
{
  unsigned k = (unsigned)below(t, 100);
  if (k < 60) return (size_t)8 << below(t, 6);    /* 8..256 */
  if (k < 95) return (size_t)512 << below(t, 8);  /* 512..64 KiB */
  return (size_t)128 * KiB << below(t, 6);        /* 128 KiB..4 MiB */
}

static void alloc_one(thread_t *t, block_t *b)
{
  static const unsigned weight[] = {30, 15, 5, 5, 12, 12, 8, 5, 3};
  unsigned k = (unsigned)below(t, 95), op = 0;
  while (k >= weight[op]) k -= weight[op++];
  t->count[op]++;
  size_t n = any_size(t), align = 0;
  void *p = NULL;
  switch (op) {
  case OP_MALLOC:
    p = malloc(n);
    break;
  case OP_CALLOC: {
    size_t count = 1 + below(t, 8), each = n / count;
    n = count * each;
    p = calloc(count, each);
    take(t, b, p, n, 0, "calloc");
    if (p && walk(b, 0, n, ZERO) != NONE) report(t, &violations, "calloc block not zeroed", b);
    break;
  }
  case OP_REALLOC_NULL:
    p = realloc(NULL, n);
    break;
  case OP_REALLOCARRAY_NULL: {
    size_t count = 1 + below(t, 4), each = n / count;
    n = count * each;
    p = reallocarray(NULL, count, each);
    break;
  }
  case OP_POSIX_MEMALIGN:
    align = any_align(t);
    if (posix_memalign(&p, align, n) != 0) p = NULL;
    break;
  case OP_ALIGNED_ALLOC:
    align = any_align(t);
    p = aligned_alloc(align, n);
    take(t, b, p, n, align, "aligned_alloc");
    b->align = align;
    break;
  case OP_MEMALIGN: {
    size_t asked = 1 + below(t, 70000); /* not a power of two: rounded up */
    align = pow2_at_least(asked);
    p = memalign(asked, n);
    break;
  }
  case OP_VALLOC:
    align = page;
    p = valloc(n);
    break;
  case OP_PVALLOC:
    align = page;
    p = pvalloc(n);
    if (p && malloc_usable_size(p) < ((n ? n : 1) + page - 1) / page * page)
      report(t, &violations, "pvalloc block shorter than whole pages", NULL);
    break;
  }
  if (op != OP_CALLOC && op != OP_ALIGNED_ALLOC) take(t, b, p, n, align, op_name[op]);
  if (b->p) walk(b, 0, b->size, FILL);
}

static void free_one(thread_t *t, block_t *b, unsigned op)
{
  intact(t, b, b->size);
  if (op == OP_FREE_ALIGNED_SIZED && !b->align) op = OP_FREE;
  t->count[op]++;
  if (op == OP_FREE) free(b->p);
  else if (op == OP_FREE_SIZED) free_sized(b->p, b->req);
  else free_aligned_sized(b->p, b->align, b->req);
  b->p = NULL;
  t->frees++;
}

/* realloc and reallocarray to a size of any tier: the block's contents must move with it. */
static void resize_one(thread_t *t, block_t *b, unsigned op)
{
  t->count[op]++;
  size_t n = below(t, 2) ? any_size(t) : b->size + below(t, b->size + 64);
  if (n > 8 * MiB) n = any_size(t);
  size_t count = 1, each = n;
  if (op == OP_REALLOCARRAY) {
    count = 1 + below(t, 4);
    each = n / count;
  }
  if (each == 0) each = 1; /* realloc(p, 0) frees: realloc_zero */
  n = count * each;
  if (!intact(t, b, b->size)) return;
  void *q = op == OP_REALLOC ? realloc(b->p, n) : reallocarray(b->p, count, each);
  if (!q) {
    report(t, &violations, "realloc returned NULL", b);
    return;
  }
  size_t old = b->size;
  b->p = q;
  intact(t, b, old < n ? old : n); /* still the old size's pattern */
  b->size = n;
  if (!aligned(q, n < 16 ? 8 : 16)) report(t, &violations, "realloc misaligned", b);
  if (malloc_usable_size(q) < n) report(t, &violations, "realloc: usable size below the request", b);
  b->req = n;
  b->align = 0;
  refill(b, old);
}

/* realloc(p, 0) frees p (glibc 2.38); a block in its place would be taken as one of 0 bytes. */
static void realloc_zero(thread_t *t, block_t *b)
{
  t->count[OP_REALLOC_ZERO]++;
  if (!intact(t, b, b->size)) return;
  void *q = realloc(b->p, 0);
  b->p = NULL;
  t->frees++;
  if (q) take(t, b, q, 0, 0, "realloc(p, 0)");
}

/* The whole usable size is the block's: it is written and then kept by the pattern. */
static void usable_one(thread_t *t, block_t *b)
{
  t->count[OP_USABLE]++;
  size_t u = malloc_usable_size(b->p);
  if (u < b->size) {
    report(t, &violations, "usable size below the request", b);
    return;
  }
  size_t old = b->size;
  b->size = u;
  refill(b, old);
}

/* Swaps the block with one of the shared slots; what comes back is someone else's. */
static void handoff_one(thread_t *t, block_t *b)
{
  t->count[OP_HANDOFF]++;
  unsigned s = (unsigned)below(t, SHARED);
  pthread_mutex_lock(&shared[s].lock);
  block_t got = shared[s].b;
  shared[s].b = *b;
  pthread_mutex_unlock(&shared[s].lock);
  *b = got;
  if (b->p) intact(t, b, b->size);
}

/* Calls that must fail, or do nothing, and leave the block they were given alone. */
static void errors_one(thread_t *t, block_t *b)
{
  t->count[OP_ERRORS]++;
  void *q = (void *)&q;
  errno = 0;
  if (malloc(SIZE_MAX - below(t, 4096)) || errno != ENOMEM) report(t, &violations, "malloc(huge)", NULL);
  errno = 0;
  if (calloc(SIZE_MAX / 2 + 1, 2 + below(t, 8)) || errno != ENOMEM) report(t, &violations, "calloc overflow", NULL);
  if (posix_memalign(&q, 8 * (3 + 2 * below(t, 100)), 16) != EINVAL || q != (void *)&q)
    report(t, &violations, "posix_memalign(bad alignment)", NULL);
  errno = 0;
  if (aligned_alloc(24, 48) || errno != EINVAL) report(t, &violations, "aligned_alloc(24)", NULL);
  errno = 0;
  if (memalign(SIZE_MAX / 2 + 2, 16) || errno != EINVAL) report(t, &violations, "memalign(huge)", NULL);
  errno = 0;
  if (pvalloc(SIZE_MAX - below(t, 100)) || errno != ENOMEM) report(t, &violations, "pvalloc(huge)", NULL);
  errno = 1234;
  free(NULL);
  free_sized(NULL, 0);
  if (errno != 1234 || malloc_usable_size(NULL) != 0) report(t, &violations, "free(NULL)", NULL);
  if (!b->p) return;
  errno = 0;
  if (reallocarray(b->p, SIZE_MAX / 4 + 1, 8) || errno != ENOMEM)
    report(t, &violations, "reallocarray overflow", b);
  errno = 0;
  if (realloc(b->p, SIZE_MAX - below(t, 4096)) || errno != ENOMEM)
    report(t, &violations, "realloc(huge)", b);
  intact(t, b, b->size);
}

static void step(thread_t *t)
{
  block_t *b = &t->blk[below(t, SLOTS)];
  if (!b->p) {
    if (below(t, 100) < 2) errors_one(t, b);
    else alloc_one(t, b);
    return;
  }
  unsigned k = (unsigned)below(t, 100);
  if (k < 20) free_one(t, b, OP_FREE);
  else if (k < 28) free_one(t, b, OP_FREE_SIZED);
  else if (k < 32) free_one(t, b, OP_FREE_ALIGNED_SIZED);
  else if (k < 50) resize_one(t, b, OP_REALLOC);
  else if (k < 56) resize_one(t, b, OP_REALLOCARRAY);
  else if (k < 57) realloc_zero(t, b);
  else if (k < 67) usable_one(t, b);
  else if (k < 85) handoff_one(t, b);
  else if (k < 98) {
    t->count[OP_CHECK]++;
    intact(t, b, b->size);
  } else errors_one(t, b);
}

static void *run(void *arg)
{
  thread_t *t = arg;
  for (t->op = 0; t->op < ops; t->op++) step(t);
  for (unsigned i = 0; i < SLOTS; i++)
    if (t->blk[i].p) free_one(t, &t->blk[i], OP_FREE);
  return NULL;
}

static int parse(int argc, char **argv)
{
  int seeded = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) return -1;
    char *end;
    unsigned long long v = strtoull(argv[i + 1], &end, 0);
    if (*end || end == argv[i + 1]) return -1;
    if (strcmp(argv[i], "--seed") == 0) seed = v, seeded = 1;
    else if (strcmp(argv[i], "--ops") == 0) ops = (long)v;
    else if (strcmp(argv[i], "--threads") == 0 && v >= 1 && v <= MAX_THREADS) nthreads = (unsigned)v;
    else return -1;
    i++;
  }
  if (!seeded) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = mix((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid();
    seed %= 1000000000000u; /* short enough to type */
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (parse(argc, argv) != 0) {
    tap_line("", "usage: %s [--seed S] [--ops N] [--threads T]", argv[0]);
    return 2;
  }
  page = (size_t)sysconf(_SC_PAGESIZE);
  /* At least 2000 operations a second, and a minute to start and finish. */
  watchdog(60 + (unsigned)(ops * (long)nthreads / 2000));
  plan(4);
  diag("seed %llu: %s --seed %llu --ops %ld --threads %u runs the same operations",
       (unsigned long long)seed, argv[0], (unsigned long long)seed, ops, nthreads);
  for (unsigned s = 0; s < SHARED; s++) pthread_mutex_init(&shared[s].lock, NULL);
  pthread_t th[MAX_THREADS];
  for (unsigned i = 0; i < nthreads; i++) {
    threads[i].id = i;
    threads[i].rng = mix(seed + i * 0x632be59bd9b4e019u);
    if (pthread_create(&th[i], NULL, run, &threads[i]) != 0) bail_out("pthread_create");
  }
  for (unsigned i = 0; i < nthreads; i++) pthread_join(th[i], NULL);

  /* What is left in the shared slots: the main thread checks and frees it. */
  thread_t *last = &threads[0];
  last->op = ops;
  for (unsigned s = 0; s < SHARED; s++)
    if (shared[s].b.p) free_one(last, &shared[s].b, OP_FREE);

  long total = 0, allocs = 0, frees = 0, count[NOPS] = {0};
  for (unsigned i = 0; i < nthreads; i++) {
    allocs += threads[i].allocs;
    frees += threads[i].frees;
    for (unsigned k = 0; k < NOPS; k++) count[k] += threads[i].count[k];
  }
  for (unsigned k = 0; k < NOPS; k++) {
    total += count[k];
    diag("%-20s %ld", op_name[k], count[k]);
  }
  ok(total >= ops * (long)nthreads, "%u threads ran %ld operations (seed %llu)", nthreads, total,
     (unsigned long long)seed);
  ok(atomic_load(&corrupt) == 0, "every block kept its contents (%ld corrupted)", atomic_load(&corrupt));
  ok(atomic_load(&violations) == 0,
     "every answer kept the contract: alignment, usable size, zeroing, errno (%ld violations)",
     atomic_load(&violations));
  ok(allocs == frees && allocs > 0, "every block allocated was freed once (%ld allocated, %ld freed)",
     allocs, frees);
  return exit_status();
}
