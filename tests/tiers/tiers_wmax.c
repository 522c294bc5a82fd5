/* The waste of every mid size stays under W_MAX: for every n in 1025..65536,
 * malloc_usable_size(malloc(n)) is n's own class (at most 1.25 n), or a larger class that is at
 * most W_MAX * n (W_MAX from HAKMEM_W_MAX, default 1.0: the own class only).  Passes:
 * descending first, in a fresh process (larger classes have ready blocks when a smaller class
 * is first asked for, so it borrows one: the case W_MAX bounds), then ascending, random sizes
 * with a window of live blocks, and descending with overlap.  With W_MAX 1.0 nothing may be
 * borrowed: usable must be exactly the own class. */
#include "tiers.h"

#define LO 1025
#define HI 65536

/* The mid class of n: four per doubling, 1280 .. 65536. */
static size_t class_of(size_t n)
{
  size_t p = 1024;
  while (p * 2 < n) p *= 2;
  size_t q = p / 4, c = p + q;
  while (c < n) c += q;
  return c;
}

static double wmax;
static int exact; /* W_MAX 1.0: only the own class */
static size_t nbad, borrowed, first_n, first_u;

static void check(size_t n, void *p)
{
  size_t u = p ? malloc_usable_size(p) : 0;
  size_t c = class_of(n);
  /* its own class, or a larger one within W_MAX */
  int good = p && u >= n && u == class_of(u) && (u == c || (u > c && (double)u <= wmax * (double)n));
  if (p && u > c) borrowed++;
  if (!good && nbad++ == 0) {
    first_n = n;
    first_u = u;
  }
  if (p && u) {
    ((unsigned char *)p)[0] = 1;
    ((unsigned char *)p)[u - 1] = 1;
  }
}

static void report(const char *pass)
{
  ok(nbad == 0, "%s: usable within [class, %.2f n] for every size (%zu bad; first n=%zu usable "
     "%zu; %zu borrowed a larger class)", pass, wmax, nbad, first_n, first_u, borrowed);
  nbad = borrowed = 0;
}

int main(void)
{
  const char *w = getenv("HAKMEM_W_MAX");
  wmax = w ? strtod(w, NULL) : 1.0; /* the default in src/options.h */
  exact = wmax < 1.0 + 1e-9;
  plan(5);
  watchdog(120);

  size_t borrowed_down;
  for (size_t n = HI; n >= LO; n--) {
    void *p = malloc(n);
    check(n, p);
    free(p);
  }
  borrowed_down = borrowed;
  report("descending");
  if (exact)
    ok(borrowed_down == 0, "W_MAX 1.0: no size took a larger class (%zu)", borrowed_down);
  else
    ok(borrowed_down > 0, "W_MAX %.2f: the descending pass did borrow larger classes (%zu sizes)",
       wmax, borrowed_down);

  for (size_t n = LO; n <= HI; n++) {
    void *p = malloc(n);
    check(n, p);
    free(p);
  }
  report("ascending");

  /* Random sizes, 64 live at a time. */
  void *live[64] = {0};
  uint64_t x = 12345;
  for (unsigned i = 0; i < 200000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned k = (unsigned)(x >> 58);
    free(live[k]);
    size_t n = LO + (size_t)((x >> 20) % (HI - LO + 1));
    live[k] = malloc(n);
    check(n, live[k]);
  }
  for (unsigned k = 0; k < 64; k++) free(live[k]);
  report("random, 64 live");

  /* Every size once more, each freed only after the next is allocated. */
  void *prev = NULL;
  for (size_t n = HI; n >= LO; n -= 7) {
    void *p = malloc(n);
    check(n, p);
    free(prev);
    prev = p;
  }
  free(prev);
  report("descending, step 7, overlapping");
  return exit_status();
}
