/* Thread exit.  Blocks outlive the threads that allocated them and memory is reused after.
 *
 * 1. Adoption: thread A allocates small blocks, hands them over and exits; thread B then
 *    allocates the same size and takes over A's slab; while B holds its blocks, thread C frees
 *    A's blocks (its owner dead, its slab adopted).  B's blocks must be intact, and B, reusing
 *    the slab, must get no block that is still live.
 * 2. Hand-off generations: 4 threads allocate blocks of every tier, stamp them, hand them to
 *    the main thread and exit; main checks every stamp after the owners died and frees them.
 *    Repeated for 12 generations: after the first, new regions stay bounded (smblks), because
 *    new threads reuse what dead ones left, and the regions live (hblks) stay where they were
 *    after generation 1 (main, freeing generation 0, takes over and keeps some of its slabs,
 *    which generation 1 cannot use: a step once, not per generation).  The 4 threads of a
 *    generation hold their blocks until all 4 have allocated, so that every generation needs
 *    the memory of 4 live threads at once: how many happen to overlap (few when starting a
 *    thread is slow, as under an emulator) must not set the bound the others are held to.
 * 3. An exited thread's half-free slabs serve a live thread before fresh ones: a thread
 *    allocates 8 MiB of 1 KiB blocks, frees every other one and exits (its heap parked for the
 *    next thread with its current slab, the others given to the shared lists); main allocates
 *    as many again of that size, and no thread comes for the heap: nine in ten of main's blocks
 *    lie in the 64 KiB slabs of the surviving half.
 * 4. Nothing leaks: after all that and malloc_trim(0) as many regions are mapped as at the
 *    start (hblks). */
#include <pthread.h>
#include <semaphore.h>

#include "tiers.h"

#define NT 4
#define NTINY 300
#define NMID 40
#define NLARGE 3
#define NPER (NTINY + NMID + NLARGE)
#define GENS 12

static unsigned char *blk[NT][NPER];
static size_t len[NT][NPER];

static size_t size_for(unsigned t, unsigned i, unsigned g)
{
  unsigned h = (i * 2654435761u) ^ (t * 40503u) ^ (g * 977u);
  if (i < NTINY) return 16 + h % 1009;
  if (i < NTINY + NMID) return 1025 + h % (63 * KiB);
  return 100 * KiB + (size_t)(h % (2 * MiB));
}

static unsigned char stamp_of(unsigned t, unsigned i, unsigned g)
{
  return (unsigned char)(t * 31 + i * 7 + g * 3 + 1);
}

/* Writes the stamp on every page and on the first and last byte. */
static void stamp(unsigned char *p, size_t n, unsigned char v)
{
  touch(p, n, v);
  p[0] = v;
}

static int stamped(const unsigned char *p, size_t n, unsigned char v)
{
  size_t pg = page_size();
  for (size_t o = 0; o < n; o += pg)
    if (p[o] != v) return 0;
  return p[n - 1] == v && p[0] == v;
}

typedef struct {
  unsigned t, g;
} job_t;

static pthread_barrier_t all_allocated;

static void *producer(void *arg)
{
  job_t *j = arg;
  for (unsigned i = 0; i < NPER; i++) {
    size_t n = size_for(j->t, i, j->g);
    blk[j->t][i] = malloc(n);
    len[j->t][i] = n;
    if (blk[j->t][i]) stamp(blk[j->t][i], n, stamp_of(j->t, i, j->g));
  }
  pthread_barrier_wait(&all_allocated);
  return NULL;
}

/* ---- 1. adoption ------------------------------------------------------------------------ */

#define ASIZE 256
#define NA 100
static unsigned char *a_blk[NA], *b_blk[NA], *b_blk2[NA];
static sem_t b_ready, c_done;
static int b_bad, b_shared, b_overlap;

static void *thread_a(void *arg)
{
  (void)arg;
  for (unsigned i = 0; i < NA; i++) {
    a_blk[i] = malloc(ASIZE);
    memset(a_blk[i], 0xa0, ASIZE);
  }
  return NULL;
}

static void *thread_b(void *arg)
{
  (void)arg;
  for (unsigned i = 0; i < NA; i++) {
    b_blk[i] = malloc(ASIZE);
    memset(b_blk[i], 0xb0, ASIZE);
    for (unsigned k = 0; k < NA; k++)
      b_shared += ((uintptr_t)b_blk[i] >> 16) == ((uintptr_t)a_blk[k] >> 16);
  }
  sem_post(&b_ready);
  sem_wait(&c_done); /* C has freed A's blocks into the slab B now owns */
  for (unsigned i = 0; i < NA; i++)
    for (unsigned k = 0; k < ASIZE; k++) b_bad += b_blk[i][k] != 0xb0;
  /* Allocating more drains C's frees: none of the new blocks may be one of B's live ones. */
  for (unsigned i = 0; i < NA; i++) {
    b_blk2[i] = malloc(ASIZE);
    memset(b_blk2[i], 0xb2, ASIZE);
    for (unsigned k = 0; k < NA; k++) b_overlap += b_blk2[i] == b_blk[k];
  }
  for (unsigned i = 0; i < NA; i++)
    for (unsigned k = 0; k < ASIZE; k++) b_bad += b_blk[i][k] != 0xb0;
  for (unsigned i = 0; i < NA; i++) {
    free(b_blk[i]);
    free(b_blk2[i]);
  }
  return NULL;
}

static void *thread_c(void *arg)
{
  (void)arg;
  for (unsigned i = 0; i < NA; i++) free(a_blk[i]);
  return NULL;
}

static void test_adoption(void)
{
  pthread_t a, b, c;
  sem_init(&b_ready, 0, 0);
  sem_init(&c_done, 0, 0);
  pthread_create(&a, NULL, thread_a, NULL);
  pthread_join(a, NULL);
  malloc_trim(0); /* the heap A parked gives its slab up: B adopts it, not A's heap */
  int a_bad = 0;
  for (unsigned i = 0; i < NA; i++)
    for (unsigned k = 0; k < ASIZE; k++) a_bad += a_blk[i][k] != 0xa0;
  ok(a_bad == 0, "A's blocks intact after A exited (%d bad bytes)", a_bad);
  pthread_create(&b, NULL, thread_b, NULL);
  sem_wait(&b_ready);
  ok(b_shared > 0, "B took over A's slab (%d of B's blocks share a slab with A's)", b_shared);
  pthread_create(&c, NULL, thread_c, NULL);
  pthread_join(c, NULL);
  sem_post(&c_done);
  pthread_join(b, NULL);
  ok(b_bad == 0, "B's blocks intact after C freed A's blocks into B's slab (%d bad bytes)", b_bad);
  ok(b_overlap == 0, "B got none of its live blocks again (%d)", b_overlap);
}

/* ---- 3. a parked heap before the pool grows ---------------------------------------------- */

#define HALF_N 8192
static void *half_blk[HALF_N];

static void *half_maker(void *arg)
{
  for (unsigned i = 0; i < HALF_N; i++) {
    half_blk[i] = malloc(1000);
    if (half_blk[i]) memset(half_blk[i], 0x5a, 1000);
  }
  for (unsigned i = 0; i < HALF_N; i += 2) free(half_blk[i]);
  return arg;
}

static void test_parked_grow(void)
{
  pthread_t t;
  pthread_create(&t, NULL, half_maker, NULL);
  pthread_join(t, NULL);
  static void *mine[HALF_N / 2];
  for (unsigned i = 0; i < HALF_N / 2; i++) {
    mine[i] = malloc(1000);
    if (!mine[i]) bail_out("malloc");
    memset(mine[i], 0xa5, 1000);
  }
  static uintptr_t regions[256]; /* the 64 KiB slabs (tiny classes) of the surviving half */
  unsigned nregions = 0, inside = 0;
  int bad = 0;
  for (unsigned i = 1; i < HALF_N; i += 2) {
    const unsigned char *b = half_blk[i];
    bad += !b || b[0] != 0x5a || b[999] != 0x5a;
    uintptr_t r = (uintptr_t)b & ~(uintptr_t)(64 * KiB - 1);
    unsigned k = 0;
    while (k < nregions && regions[k] != r) k++;
    if (k == nregions && nregions < 256) regions[nregions++] = r;
  }
  for (unsigned i = 0; i < HALF_N / 2; i++) {
    uintptr_t r = (uintptr_t)mine[i] & ~(uintptr_t)(64 * KiB - 1);
    for (unsigned k = 0; k < nregions; k++) inside += regions[k] == r;
  }
  for (unsigned i = 1; i < HALF_N; i += 2) free(half_blk[i]);
  for (unsigned i = 0; i < HALF_N / 2; i++) free(mine[i]);
  ok(inside * 10 >= HALF_N / 2 * 9 && bad == 0, "4 MiB allocated again after an exited thread's "
     "8 MiB was half freed by it: %u of %u blocks in the %u slabs of the surviving half (at least "
     "nine in ten), which are intact (%d bad)", inside, HALF_N / 2, nregions, bad);
}

/* ---- 2. generations --------------------------------------------------------------------- */

static int generation(unsigned g)
{
  pthread_t th[NT];
  job_t job[NT];
  for (unsigned t = 0; t < NT; t++) {
    job[t] = (job_t){t, g};
    pthread_create(&th[t], NULL, producer, &job[t]);
  }
  for (unsigned t = 0; t < NT; t++) pthread_join(th[t], NULL);
  int bad = 0;
  for (unsigned t = 0; t < NT; t++)
    for (unsigned i = 0; i < NPER; i++) {
      bad += !blk[t][i] || !stamped(blk[t][i], len[t][i], stamp_of(t, i, g));
      free(blk[t][i]);
    }
  return bad;
}

static void *idle_thread(void *arg)
{
  return arg;
}

int main(void)
{
  plan(10);
  watchdog(120);
  pthread_barrier_init(&all_allocated, NULL, NT);
  /* glibc keeps a few blocks of its own per cached thread stack (the TLS vector): start some
   * threads first, so that the baseline holds them too. */
  pthread_t th[NT + 1];
  for (unsigned t = 0; t <= NT; t++) pthread_create(&th[t], NULL, idle_thread, NULL);
  for (unsigned t = 0; t <= NT; t++) pthread_join(th[t], NULL);
  free(malloc(16));
  malloc_trim(0);
  struct mallinfo2 m0 = mallinfo2();

  test_adoption();

  int bad = generation(0);
  struct mallinfo2 m1 = mallinfo2();
  ok(bad == 0, "generation 0: every block intact when freed after its owner died (%d bad)", bad);
  bad += generation(1);
  struct mallinfo2 m1b = mallinfo2();
  for (unsigned g = 2; g < GENS; g++) bad += generation(g);
  struct mallinfo2 m2 = mallinfo2();
  diag("regions mapped: %zu at start, %zu after generation 0, %zu after %d generations; live "
       "%zu, %zu, %zu", m0.smblks, m1.smblks, m2.smblks, GENS, m0.hblks, m1.hblks, m2.hblks);
  ok(bad == 0, "generations 1..%d: every block intact (%d bad)", GENS - 1, bad);
  size_t first = m1.smblks - m0.smblks, later = m2.smblks - m1.smblks;
  ok(later <= first / 2 + 2, "later generations reuse memory: %zu regions mapped in %d "
     "generations after %zu in the first", later, GENS - 1, first);
  /* hblks counts the empty SuperSlabs the LRU cache keeps, so it is the most the generations
   * ever needed at once, which drifts up by a region or two as slabs land in other SuperSlabs;
   * a leak of a region per generation or per thread is well past the bound. */
  ok(m2.hblks <= m1b.hblks + 4, "regions live stay bounded (%zu after generation 1, %zu after %d)",
     m1b.hblks, m2.hblks, GENS - 1);

  test_parked_grow();
  malloc_trim(0);
  struct mallinfo2 m3 = mallinfo2();
  ok(m3.hblks <= m0.hblks, "after malloc_trim every region is unmapped again (hblks %zu, %zu at "
     "start; arena %zu)", m3.hblks, m0.hblks, m3.arena);
  return exit_status();
}
