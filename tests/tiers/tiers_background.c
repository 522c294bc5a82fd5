/* Test n: the background thread (HAKMEM_BACKGROUND).  background.sh runs this with the option
 * on or off and the delays shortened; the first argument says what to check:
 *   threads N  no thread named hakmem-bg at the start of main (no constructor starts one), and
 *              N of them once the program has allocated;
 *   idle       two threads each allocate 256 MiB in mixed sizes (16 B..64 KiB, every page
 *              written), each frees the other's blocks, and both stay alive without another
 *              call, as a server's workers after a spike.  Within a few times the purge delay
 *              the process is back within max(10% of its starting RSS, 8 MiB): the thread gave
 *              the memory back while nothing called hakmem;
 *   kept       the same without the thread: RSS stays 24 MiB or more above the start (what the
 *              bound HAKMEM_EMPTY_MAX_MB leaves), which shows the thread is what did it;
 *   fork       a process whose thread runs forks: the child has no such thread until it
 *              allocates (a 64 MiB burst, which takes slow paths), then has one, and the burst
 *              comes back while it sleeps.
 *   race       four threads hand bursts of 8..32 KiB blocks round a ring, each freeing the
 *              next one's in steps with pauses between, and all pausing between rounds, while
 *              the thread (purge delay 10 ms) purges the insides of idle threads' remote lists
 *              as blocks keep coming: every block must keep what was written at its ends and
 *              in its first words until freed, and be whole again when handed out anew (also
 *              under ThreadSanitizer, tests/tsan/background.sh).
 *   churn MS   one thread replaces 16..32 KiB blocks at random in a set of 256 for MS
 *              milliseconds, the slow paths of those classes frequent all along, which makes
 *              the learner (HAKMEM_LEARN) raise their batches as far as its bounds allow; its
 *              decisions, printed (HAKMEM_LEARN_LOG), are checked by background.sh.  With
 *              "thread" the churn runs on a thread that then exits: after malloc_trim(0)
 *              hakmem maps little, so its larger magazines went back whole.
 *   borrow MS  one thread, for MS milliseconds, allocates rounds of 1025..4096-byte blocks
 *              (mid classes that the learner may raise to 32 blocks per refill), some sizes
 *              just below a class so that an empty class borrows a ready block of the next
 *              (with HAKMEM_W_MAX=1.25), and frees each round whole on its fast path: with batches
 *              raised under it, no magazine may run past its limit, and every block must keep
 *              its pattern.
 *   bursts N MS  N bursts of 16 MiB in mixed sizes (as idle's, every page written), each freed
 *              whole and followed by MS milliseconds without a call, as a server between
 *              requests: with the purge delay shorter than MS, each burst takes back the pages
 *              the last one gave back, which makes the learner raise the delay; its decisions
 *              are checked by background.sh.
 *   large MS   one thread keeps 32 blocks of 1..8 MiB (every page written) and replaces them at
 *              random for MS milliseconds: more cached mappings than the BigCache's default
 *              bound holds would serve the requests, so the bound throws cached pages away
 *              all along and the learner raises it; every block must keep its first and last
 *              byte, and its decisions are checked by background.sh.
 * Threads are counted from /proc/self/task with system calls only, so that counting never
 * allocates. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tiers.h"

#define BURST (256 * MiB)
#define MAXBLOCKS (BURST / 2048) /* blocks average about 7 KiB */

/* How many threads of this process are named hakmem-bg (-1 if /proc cannot tell). */
static int bg_threads(void)
{
  char buf[8192], path[64], comm[32];
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY), found = 0;
  if (fd < 0) return -1;
  long n;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      snprintf(path, sizeof path, "/proc/self/task/%s/comm", d->d_name);
      int cf = open(path, O_RDONLY);
      if (cf < 0) continue;
      ssize_t m = read(cf, comm, sizeof comm - 1);
      close(cf);
      if (m > 0 && (size_t)m >= 10 && memcmp(comm, "hakmem-bg\n", 10) == 0) found++;
    }
  }
  close(fd);
  return found;
}

static void **v[2];
static size_t count[2];
static pthread_barrier_t made, measured, freed, done;

/* Allocates about bytes in sizes of 16 B .. 64 KiB, a power of two picked at random and then a
 * size below it, every page written. */
static size_t burst(void **out, size_t bytes, unsigned x)
{
  size_t n = 0, total = 0;
  while (total < bytes && n < MAXBLOCKS / 2) {
    x = x * 1103515245u + 12345u;
    size_t top = (size_t)16 << ((x >> 8) % 13);
    x = x * 1103515245u + 12345u;
    size_t size = top / 2 + 1 + (x >> 8) % (top / 2);
    out[n] = malloc(size);
    if (!out[n]) break;
    touch(out[n], size, 1);
    total += size;
    n++;
  }
  return n;
}

static void *exchanger(void *arg)
{
  int me = (int)(intptr_t)arg;
  count[me] = burst(v[me], BURST / 2, 7u + (unsigned)me);
  pthread_barrier_wait(&made);
  pthread_barrier_wait(&measured); /* main reads the peak before anything is freed */
  for (size_t i = 0; i < count[1 - me]; i++) free(v[1 - me][i]);
  pthread_barrier_wait(&freed);
  pthread_barrier_wait(&done); /* alive and idle while main watches */
  return NULL;
}

/* The RSS after waiting up to ms for it to come within slack of base (polled every 50 ms);
 * *waited gets how long that took. */
static size_t settle(size_t base, size_t slack, unsigned ms, unsigned *waited)
{
  size_t r = rss_bytes();
  unsigned t = 0;
  for (; t < ms && r > base + slack; t += 50) {
    sleep_ms(50);
    r = rss_bytes();
  }
  if (waited) *waited = t;
  return r;
}

static size_t slack_of(size_t base)
{
  return HAK_TIERS_MAX(base / 10, 8 * MiB) + (emulated() ? 32 * MiB : 0);
}

/* The exchange burst, then up to ms of watching: back within the slack, or (!expect_back) still
 * up after ms. */
static void exchange(unsigned ms, int expect_back, const char *what)
{
  for (int i = 0; i < 2; i++) {
    v[i] = malloc(MAXBLOCKS / 2 * sizeof(void *));
    if (!v[i]) bail_out("malloc");
    memset(v[i], 0, MAXBLOCKS / 2 * sizeof(void *)); /* resident before the baseline */
  }
  size_t base = rss_bytes(), slack = slack_of(base);
  pthread_t t[2];
  pthread_barrier_init(&made, NULL, 3);
  pthread_barrier_init(&measured, NULL, 3);
  pthread_barrier_init(&freed, NULL, 3);
  pthread_barrier_init(&done, NULL, 3);
  for (intptr_t i = 0; i < 2; i++) pthread_create(&t[i], NULL, exchanger, (void *)i);
  pthread_barrier_wait(&made);
  size_t peak = rss_bytes();
  pthread_barrier_wait(&measured);
  pthread_barrier_wait(&freed);
  size_t freed_rss = rss_bytes();
  unsigned waited = ms;
  size_t after = expect_back ? settle(base, slack, ms, &waited) : (sleep_ms(ms), rss_bytes());
  diag("%s: RSS MiB at the start %.1f, at the peak %.1f, at the last free %.1f, %u ms later "
       "%.1f", what, mib(base), mib(peak), mib(freed_rss), waited, mib(after));
  ok(peak >= base + BURST * 8 / 10, "%s: the burst was resident (+%.0f MiB)", what,
     mib(peak - base));
  if (expect_back)
    ok(after <= base + slack, "%s: back within %.1f MiB of the start with no call made (+%.1f)",
       what, mib(slack), after > base ? mib(after - base) : 0.0);
  else
    ok(after >= base + 24 * MiB, "%s: without the thread RSS stays up (+%.1f MiB)", what,
       after > base ? mib(after - base) : 0.0);
  pthread_barrier_wait(&done);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
}

#define RING 4
#define ROUNDS 12
#define PER_ROUND 600
static unsigned char *ring[RING][PER_ROUND];
static size_t ring_len[RING][PER_ROUND];
static pthread_barrier_t round_made, round_freed;
static _Atomic(int) ring_bad;

static unsigned char mark_of(int who, size_t i, size_t at)
{
  return (unsigned char)(who * 31 + i * 7 + at * 13 + 1);
}

static void *ringer(void *arg)
{
  int me = (int)(intptr_t)arg, next = (me + 1) % RING;
  unsigned x = 99u + (unsigned)me;
  for (int r = 0; r < ROUNDS; r++) {
    for (size_t i = 0; i < PER_ROUND; i++) {
      x = x * 1103515245u + 12345u;
      size_t n = 8 * KiB + (x >> 8) % (24 * KiB);
      unsigned char *p = malloc(n);
      if (!p) bail_out("malloc");
      for (size_t at = 0; at < n; at += 4096) p[at] = mark_of(me, i, at); /* every page */
      p[n - 1] = mark_of(me, i, n - 1);
      ring[me][i] = p;
      ring_len[me][i] = n;
    }
    pthread_barrier_wait(&round_made);
    for (size_t i = 0; i < PER_ROUND; i++) { /* the next thread's, in four steps */
      unsigned char *p = ring[next][i];
      size_t n = ring_len[next][i];
      int bad = p[n - 1] != mark_of(next, i, n - 1);
      for (size_t at = 0; at < n; at += 4096) bad |= p[at] != mark_of(next, i, at);
      if (bad) atomic_fetch_add(&ring_bad, 1);
      free(p);
      if (i % (PER_ROUND / 4) == PER_ROUND / 4 - 1) sleep_ms(15);
    }
    pthread_barrier_wait(&round_freed);
    sleep_ms(30); /* everyone idle past the delay */
  }
  return NULL;
}

static void race(void)
{
  plan(1);
  pthread_t t[RING];
  pthread_barrier_init(&round_made, NULL, RING);
  pthread_barrier_init(&round_freed, NULL, RING);
  for (intptr_t i = 0; i < RING; i++) pthread_create(&t[i], NULL, ringer, (void *)i);
  for (int i = 0; i < RING; i++) pthread_join(t[i], NULL);
  ok(atomic_load(&ring_bad) == 0, "%d rounds of %d blocks per thread: every block intact until "
     "freed (%d bad)", ROUNDS, PER_ROUND, atomic_load(&ring_bad));
}

static void churn_for(unsigned ms);

/* churn on a thread of its own, which then exits; everything it held must come back. */
static void *churn_thread(void *arg)
{
  churn_for((unsigned)(uintptr_t)arg);
  return NULL;
}

static void churn(unsigned ms, int on_thread)
{
  plan(on_thread ? 2 : 1);
  if (!on_thread) {
    churn_for(ms);
    return;
  }
  pthread_t t;
  pthread_create(&t, NULL, churn_thread, (void *)(uintptr_t)ms);
  pthread_join(t, NULL);
  malloc_trim(0);
  struct mallinfo2 m = mallinfo2();
  ok(m.arena <= 8 * MiB, "the thread exited and malloc_trim(0): %.1f MiB still mapped (at most 8)",
     mib(m.arena));
}

static void churn_for(unsigned ms)
{
  static unsigned char *set[256];
  unsigned x = 5;
  size_t bad = 0, rounds = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    for (unsigned i = 0; i < 4096; i++) {
      x = x * 1103515245u + 12345u;
      unsigned k = (x >> 8) % 256;
      if (set[k]) {
        bad += set[k][0] != (unsigned char)k;
        free(set[k]);
      }
      x = x * 1103515245u + 12345u;
      set[k] = malloc(16 * KiB + (x >> 8) % (16 * KiB));
      if (!set[k]) bail_out("malloc");
      set[k][0] = (unsigned char)k;
    }
    rounds++;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= (long)ms) break;
  }
  for (unsigned k = 0; k < 256; k++) free(set[k]);
  ok(bad == 0, "%zu rounds of 4096 replacements, every block intact (%zu bad)", rounds, bad);
}

static void borrow(unsigned ms)
{
  plan(1);
  enum { ROUND = 3000 };
  static unsigned char *b[ROUND];
  static size_t len[ROUND];
  unsigned x = 11;
  size_t bad = 0, rounds = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    size_t n = 500 + rounds % 5 * 600; /* rounds of different lengths */
    for (size_t i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      size_t size = 1025 + (x >> 8) % 3072;
      if ((x >> 4) % 3 == 0) size = 1700 + (x >> 8) % 90; /* just under 1792: borrows 2048 */
      b[i] = malloc(size);
      if (!b[i]) bail_out("malloc");
      memset(b[i], (int)(i & 0xff), size);
      len[i] = size;
    }
    for (size_t i = 0; i < n; i++) {
      bad += b[i][0] != (unsigned char)(i & 0xff) || b[i][len[i] - 1] != (unsigned char)(i & 0xff);
      free(b[i]);
    }
    rounds++;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= (long)ms) break;
  }
  ok(bad == 0, "%zu rounds, every block kept its pattern (%zu bad)", rounds, bad);
}

static void bursts(unsigned n, unsigned ms)
{
  plan(1);
  static void *b[MAXBLOCKS / 2];
  size_t bad = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t k = burst(b, 16 * MiB, i + 1);
    bad += k == 0 || k == MAXBLOCKS / 2; /* a malloc failed, or the sizes were not mixed */
    for (size_t j = 0; j < k; j++) {
      bad += *(unsigned char *)b[j] != 1;
      free(b[j]);
    }
    sleep_ms(ms);
  }
  ok(bad == 0, "%u bursts of 16 MiB, %u ms apart, every block allocated and intact (%zu bad)", n,
     ms, bad);
}

static void large(unsigned ms)
{
  plan(1);
  enum { SLOTS = 32 };
  static unsigned char *slot[SLOTS];
  static size_t len[SLOTS];
  unsigned x = 7;
  size_t bad = 0, made = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    x = x * 1103515245u + 12345u;
    unsigned k = (x >> 8) % SLOTS;
    if (slot[k]) {
      bad += slot[k][0] != (unsigned char)k || slot[k][len[k] - 1] != (unsigned char)k;
      free(slot[k]);
    }
    x = x * 1103515245u + 12345u;
    len[k] = MiB + 1 + (size_t)(x >> 4) % (7 * MiB);
    if (!(slot[k] = malloc(len[k]))) bail_out("malloc");
    for (size_t o = 0; o < len[k]; o += 4096) slot[k][o] = (unsigned char)k;
    slot[k][len[k] - 1] = (unsigned char)k;
    made++;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= (long)ms) break;
  }
  for (unsigned k = 0; k < SLOTS; k++) {
    if (slot[k]) bad += slot[k][0] != (unsigned char)k || slot[k][len[k] - 1] != (unsigned char)k;
    free(slot[k]);
  }
  ok(bad == 0, "%zu blocks of 1..8 MiB, %d live at a time, every one intact (%zu bad)", made,
     SLOTS, bad);
}

/* A producer and a consumer that lags: the consumer frees a block only once the producer has
 * made LAG more after it, so that the producer's filled slabs all wait for it at once. */
enum { LAG = 4000, LAG_RING = 8192 };
static unsigned char *lag_ring[LAG_RING];
static _Atomic(size_t) lag_made, lag_freed;
static _Atomic(int) lag_stop;

static void *lag_consumer(void *arg)
{
  size_t *bad = arg, at = 0;
  for (;;) {
    int stop = atomic_load_explicit(&lag_stop, memory_order_acquire); /* then made: all of it */
    size_t made = atomic_load_explicit(&lag_made, memory_order_acquire);
    if (made <= at + LAG && !(stop && made > at)) {
      if (stop) break;
      sched_yield();
      continue;
    }
    unsigned char *p = lag_ring[at % LAG_RING];
    *bad += p[0] != (unsigned char)at;
    free(p);
    atomic_store_explicit(&lag_freed, ++at, memory_order_release);
  }
  return NULL;
}

static void lag(unsigned ms)
{
  plan(1);
  size_t bad = 0, at = 0;
  unsigned x = 3;
  pthread_t t;
  pthread_create(&t, NULL, lag_consumer, &bad);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    while (at - atomic_load_explicit(&lag_freed, memory_order_acquire) == LAG_RING) sched_yield();
    x = x * 1103515245u + 12345u;
    unsigned char *p = malloc(4097 + (x >> 8) % 4096);
    if (!p) bail_out("malloc");
    p[0] = (unsigned char)at;
    lag_ring[at % LAG_RING] = p;
    atomic_store_explicit(&lag_made, ++at, memory_order_release);
    if (at % 1024) continue;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= (long)ms) break;
  }
  atomic_store_explicit(&lag_stop, 1, memory_order_release);
  pthread_join(t, NULL);
  ok(bad == 0, "%zu blocks of 4..8 KiB freed %d blocks late by another thread, all intact "
     "(%zu bad)", at, LAG, bad);
}

int main(int argc, char **argv)
{
  int at_start = bg_threads(); /* before anything in main allocates */
  if (argc < 2)
    bail_out("usage: tiers_background threads N | idle | kept | race | fork | churn MS | "
             "borrow MS | bursts N MS | lag MS | large MS");
  watchdog(120);
  if (!strcmp(argv[1], "threads") && argc > 2) {
    plan(2);
    int want = atoi(argv[2]);
    ok(at_start == 0, "no background thread at the start of main (%d)", at_start);
    free(malloc(100));
    free(malloc(100000));
    ok(bg_threads() == want, "%d background thread(s) once the program allocates (%d)", want,
       bg_threads());
  } else if (!strcmp(argv[1], "idle") || !strcmp(argv[1], "kept")) {
    plan(2);
    int back = !strcmp(argv[1], "idle");
    exchange(back ? 5000 : 1500, back, back ? "with the thread" : "without it");
  } else if (!strcmp(argv[1], "pagesize")) { /* for background.sh, not a test */
    printf("%zu\n", page_size());
    return 0;
  } else if (!strcmp(argv[1], "churn") && argc > 2) {
    churn((unsigned)atoi(argv[2]), argc > 3 && !strcmp(argv[3], "thread"));
  } else if (!strcmp(argv[1], "borrow") && argc > 2) {
    borrow((unsigned)atoi(argv[2]));
  } else if (!strcmp(argv[1], "bursts") && argc > 3) {
    bursts((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
  } else if (!strcmp(argv[1], "large") && argc > 2) {
    large((unsigned)atoi(argv[2]));
  } else if (!strcmp(argv[1], "lag") && argc > 2) {
    lag((unsigned)atoi(argv[2]));
  } else if (!strcmp(argv[1], "race")) {
    race();
  } else if (!strcmp(argv[1], "fork")) {
    /* qemu-user asserts when the child of a threaded process starts a thread */
    if (emulated()) skip_all("under an emulator a forked child cannot start threads");
    plan(6);
    free(malloc(100));
    ok(bg_threads() == 1, "the parent runs the thread (%d)", bg_threads());
    int fds[2];
    if (pipe(fds) != 0) bail_out("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      int before = bg_threads(); /* nothing allocated in the child yet */
      size_t base = rss_bytes(), slack = slack_of(base);
      void **blocks = malloc(8192 * sizeof *blocks);
      for (int i = 0; i < 8192; i++) {
        blocks[i] = malloc(8 * KiB);
        touch(blocks[i], 8 * KiB, 2);
      }
      size_t peak = rss_bytes();
      int after = bg_threads(); /* the burst took slow paths */
      for (int i = 0; i < 8192; i++) free(blocks[i]);
      free(blocks);
      size_t back = settle(base, slack, 5000, NULL);
      char line[160];
      int len = snprintf(line, sizeof line, "%d %d %zu %zu %zu %zu\n", before, after, base, peak,
                         back, slack);
      ssize_t w = write(fds[1], line, (size_t)len);
      _exit(w == len ? 0 : 1);
    }
    close(fds[1]);
    char line[160] = {0};
    ssize_t got = read(fds[0], line, sizeof line - 1);
    int st = -1;
    waitpid(pid, &st, 0);
    int before = -1, after = -1;
    size_t base = 0, peak = 0, back = 0, slack = 0;
    int fields = got > 0 ? sscanf(line, "%d %d %zu %zu %zu %zu", &before, &after, &base, &peak,
                                  &back, &slack)
                         : 0;
    ok(fields == 6 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child ran and reported");
    ok(before == 0, "the child has no background thread before it allocates (%d)", before);
    ok(after == 1, "the child starts its own once it allocates (%d)", after);
    ok(peak >= base + 48 * MiB, "the child's 64 MiB burst was resident (+%.1f MiB)",
       peak > base ? mib(peak - base) : 0.0);
    ok(back <= base + slack, "the child's burst came back while it slept (+%.1f MiB, at most %.1f)",
       back > base ? mib(back - base) : 0.0, mib(slack));
  } else {
    bail_out("unknown mode");
  }
  return exit_status();
}
