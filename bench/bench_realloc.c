/* Realloc growth, single thread: B buffers grow by small appends (1..256 bytes, written) up to
 * a maximum size, then are freed and started again.  Even-numbered buffers grow like a string
 * builder (realloc to exactly the new length on every append); odd ones like a vector (realloc
 * to twice the capacity when an append does not fit, from 16 bytes).  Each realloc is checked
 * to have kept the last byte written.  Blocks pass through every tier on their way up, so the
 * cost of moving between classes, and of growing large blocks (copy or remap), shows here.
 *
 * usage: bench_realloc [appends [buffers [max_size [seed]]]]   (default 3000000 16 4194304 1) */
#include "bench.h"

static const char usage[] = "bench_realloc [appends [buffers [max_size [seed]]]]";

typedef struct {
  unsigned char *p;
  size_t len, cap;
} buf_t;

int main(int argc, char **argv)
{
  unsigned long long appends = argc > 1 ? bench_arg(argv[1], "appends", usage) : 3000000;
  unsigned long long nbuf = argc > 2 ? bench_arg(argv[2], "buffers", usage) : 16;
  unsigned long long max = argc > 3 ? bench_arg(argv[3], "max size", usage) : 4194304;
  unsigned long long seed = argc > 4 ? bench_arg(argv[4], "seed", usage) : 1;
  if (nbuf == 0 || max < 512 || argc > 5) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  buf_t *b = calloc(nbuf, sizeof *b);
  if (!b) {
    perror("calloc");
    return 1;
  }
  bench_rng_t rng;
  bench_rng_seed(&rng, seed);
  unsigned long long reallocs = 0, restarts = 0, bad = 0;

  double t0 = bench_now();
  for (unsigned long long i = 0; i < appends; i++) {
    uint64_t r = bench_rng_next(&rng);
    size_t k = (size_t)(r % nbuf);
    size_t add = 1 + (size_t)((r >> 32) % 256);
    buf_t *x = &b[k];
    if (x->len + add > max) {
      free(x->p);
      x->p = NULL;
      x->len = x->cap = 0;
      restarts++;
    }
    size_t need = x->len + add;
    if (need > x->cap) {
      size_t cap = need;
      if (k & 1) {
        cap = x->cap ? x->cap : 16;
        while (cap < need) cap *= 2;
      }
      unsigned char last = x->len ? x->p[x->len - 1] : 0;
      unsigned char *q = realloc(x->p, cap);
      if (!q) {
        fprintf(stderr, "realloc(%zu) failed\n", cap);
        return 1;
      }
      bad += x->len && q[x->len - 1] != last;
      x->p = q;
      x->cap = cap;
      reallocs++;
    }
    memset(x->p + x->len, (int)(i & 0xff), add);
    x->len = need;
  }
  for (size_t k = 0; k < nbuf; k++) free(b[k].p);
  double t = bench_now() - t0;
  free(b);
  long final_kb = bench_rss_kb();
  if (bad) {
    fprintf(stderr, "realloc lost data %llu times\n", bad);
    return 1;
  }
  printf("bench=realloc appends=%llu buffers=%llu max_size=%llu seed=%llu time_s=%.6f ops=%llu "
         "ops_per_s=%.0f reallocs=%llu restarts=%llu maxrss_kb=%ld malloc=%s check=%llu "
         "ru_maxrss_kb=%ld final_rss_kb=%ld\n",
         appends, nbuf, max, seed, t, appends, (double)appends / t, reallocs, restarts,
         bench_maxrss_kb(), bench_malloc_provider(), reallocs, bench_ru_maxrss_kb(), final_kb);
  return 0;
}
