/* HAKMEM_STATS and HAKMEM_PROFILE: counting, and the tables printed at exit. */
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "background.h"
#include "large.h"
#include "learn.h"
#include "options.h"
#include "os.h"
#include "stats.h"
#include "small.h"
#include "span.h"

bool hak_stats_on, hak_prof_on;

static struct {
  _Atomic(uint64_t) large_requests, large_hits, large_bytes;
  _Atomic(uint64_t) span_requests, span_bytes;
  _Atomic(uint64_t) remote_unowned[HAK_NCLASSES]; /* remote frees by threads without a heap */
  _Atomic(uint64_t) partial_reclaimed, partial_emptied, owned_emptied;
  _Atomic(uint64_t) prof[HAK_PROF_NPATHS][64];    /* log2 buckets of cycles */
  _Atomic(uint64_t) prof_total[HAK_PROF_NPATHS];
} st;

void hak_stats_init(void)
{
  hak_stats_on = hak_opt.STATS != 0;
  hak_prof_on = hak_opt.PROFILE != 0;
}

void hak_prof_record(enum hak_prof_path path, uint64_t cycles)
{
  unsigned b = cycles ? 63 - (unsigned)__builtin_clzll(cycles) : 0;
  atomic_fetch_add_explicit(&st.prof[path][b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st.prof_total[path], cycles, memory_order_relaxed);
}

void hak_stats_span_alloc(size_t size)
{
  atomic_fetch_add_explicit(&st.span_requests, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st.span_bytes, size, memory_order_relaxed);
}

void hak_stats_large_alloc(size_t size, bool cache_hit)
{
  atomic_fetch_add_explicit(&st.large_requests, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st.large_hits, cache_hit, memory_order_relaxed);
  atomic_fetch_add_explicit(&st.large_bytes, size, memory_order_relaxed);
}

void hak_stats_remote_free_unowned(unsigned cls)
{
  atomic_fetch_add_explicit(&st.remote_unowned[cls], 1, memory_order_relaxed);
}

void hak_stats_partial(bool reclaimed)
{
  atomic_fetch_add_explicit(reclaimed ? &st.partial_reclaimed : &st.partial_emptied, 1,
                            memory_order_relaxed);
}

void hak_stats_owned_emptied(void)
{
  atomic_fetch_add_explicit(&st.owned_emptied, 1, memory_order_relaxed);
}

/* ---- output: formatted on the stack, written with write(2) ------------------------------- */

static int out_fd = STDERR_FILENO;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  hak_vmsg_fd(out_fd, fmt, ap);
  va_end(ap);
}

/* Right-aligns the decimal v in a field of width w (our formatter has no widths). */
static const char *col(char *buf, unsigned long long v, unsigned w)
{
  char tmp[24];
  size_t n = hak_format(tmp, sizeof tmp, "%lu", (unsigned long)v);
  size_t pad = n < w ? w - n : 0;
  for (size_t i = 0; i < pad; i++) buf[i] = ' ';
  for (size_t i = 0; i <= n; i++) buf[pad + i] = tmp[i];
  return buf;
}

static void report_classes(void)
{
  static hak_class_stats_t cs[HAK_NCLASSES]; /* static: no large frame at exit */
  hak_heap_stats(cs);
  char a[24], b[24], c[24], d[24], e[24], f[24];
  out("hakmem: statistics (pid %d)", (int)getpid());
  out("hakmem:    class     requests         hits      refills remote-frees  tier");
  uint64_t tot[2][4] = {{0}};
  for (unsigned k = 0; k < HAK_NCLASSES; k++) {
    hak_class_stats_t *x = &cs[k];
    x->remote_frees += atomic_load(&st.remote_unowned[k]);
    if (!x->requests && !x->remote_frees) continue;
    unsigned t = k < HAK_TINY_CLASSES ? 0 : 1;
    tot[t][0] += x->requests, tot[t][1] += x->hits, tot[t][2] += x->refills, tot[t][3] += x->remote_frees;
    out("hakmem: %s %s %s %s %s  %s", col(a, hak_class_size[k], 8), col(b, x->requests, 12),
        col(c, x->hits, 12), col(d, x->refills, 12), col(e, x->remote_frees, 12),
        t ? "mid" : "tiny");
  }
  static const char *const tier[2] = {"tiny", "mid"};
  for (unsigned t = 0; t < 2; t++)
    out("hakmem: %s total %s %s %s %s  (hit rate %s%%)", tier[t], col(a, tot[t][0], 12),
        col(b, tot[t][1], 12), col(c, tot[t][2], 12), col(d, tot[t][3], 12),
        col(f, tot[t][0] ? tot[t][1] * 100 / tot[t][0] : 0, 3));
  size_t span_regions, span_blocks;
  hak_span_counts(&span_regions, &span_blocks);
  out("hakmem: L2.5: %lu requests, %lu bytes; %zu span regions live, holding %zu blocks",
      (unsigned long)atomic_load(&st.span_requests), (unsigned long)atomic_load(&st.span_bytes),
      span_regions, span_blocks);
  size_t bc_bytes, bc_hits, bc_misses;
  uint64_t bc_lost, bc_requests;
  hak_bigcache_counts(&bc_bytes, &bc_hits, &bc_misses);
  hak_bigcache_learn_counts(&bc_lost, &bc_requests);
  out("hakmem: large: %lu requests, %lu bytes, %lu BigCache hits, %lu misses, %lu bytes cached, "
      "%lu bytes of cached pages thrown away by its bounds (bound %u MiB)",
      (unsigned long)atomic_load(&st.large_requests), (unsigned long)atomic_load(&st.large_bytes),
      (unsigned long)bc_hits, (unsigned long)bc_misses, (unsigned long)bc_bytes,
      (unsigned long)bc_lost, hak_bigcache_bound_mb());
  hak_pool_counts_t pc;
  hak_pool_counts(&pc);
  out("hakmem: slabs active: %zu tiny, %zu mid; regions live: %zu (SuperSlabs and large blocks), "
      "%zu empty SuperSlabs cached with their pages and %zu without", pc.slabs_active[0],
      pc.slabs_active[1], pc.ss_live, pc.ss_cached, pc.ss_purged);
  if (pc.unmaps_refused)
    out("hakmem: unmaps the kernel refused: %zu, their pages given back and their %zu regions "
        "kept to be mapped again as SuperSlabs (%zu not yet)",
        pc.unmaps_refused, pc.regions_refused, pc.regions_refused_left);
  out("hakmem: shared slabs: %lu reclaimed by a refill, %lu emptied by a remote free; "
      "owned slabs: %lu emptied by a remote free",
      (unsigned long)st.partial_reclaimed, (unsigned long)st.partial_emptied,
      (unsigned long)st.owned_emptied);
  out("hakmem: regions mapped %zu, unmapped %zu; bytes mapped now %zu, peak %zu", pc.ss_mapped_total,
      pc.ss_unmapped_total, pc.bytes_mapped, pc.bytes_peak);
  out("hakmem: empty memory counted against HAKMEM_EMPTY_MAX_MB: now %zu bytes, peak %zu",
      hak_empty_resident(), hak_empty_peak());
  bool bg;
  uint64_t wakeups, slabs, lists;
  hak_background_counts(&bg, &wakeups, &slabs, &lists);
  if (bg || wakeups)
    out("hakmem: background thread: %lu wakeups; for idle threads %lu slabs given back, %lu "
        "remote lists purged", (unsigned long)wakeups, (unsigned long)slabs, (unsigned long)lists);
  if (hak_opt.LEARN) hak_learn_report(out);
}

static void report_profile(void)
{
  static const char *const name[HAK_PROF_NPATHS] = {"refill", "remote drain", "OS map", "OS unmap"};
  out("hakmem: slow-path profile (%s counter ticks)", HAK_ARCH_NAME);
  for (unsigned p = 0; p < HAK_PROF_NPATHS; p++) {
    uint64_t n = 0;
    for (unsigned b = 0; b < 64; b++) n += atomic_load(&st.prof[p][b]);
    out("hakmem: %s: %lu calls, mean %lu ticks", name[p], (unsigned long)n,
        (unsigned long)(n ? atomic_load(&st.prof_total[p]) / n : 0));
    for (unsigned b = 0; b < 64; b++) {
      uint64_t v = atomic_load(&st.prof[p][b]);
      if (v) out("hakmem:   [2^%u, 2^%u) ticks: %lu", b, b + 1, (unsigned long)v);
    }
  }
}

void hak_stats_report(void)
{
  if (!hak_stats_on && !hak_prof_on) return;
  out_fd = STDERR_FILENO;
  int fd = -1;
  if (hak_opt.STATS_FILE && *hak_opt.STATS_FILE) {
    fd = open(hak_opt.STATS_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) out_fd = fd;
    else hak_msg("hakmem: warning: cannot open HAKMEM_STATS_FILE '%s'; statistics go to stderr",
                 hak_opt.STATS_FILE);
  }
  if (hak_stats_on) report_classes();
  if (hak_prof_on) report_profile();
  if (fd >= 0) close(fd);
}
