/* No two live blocks overlap: 100,000 blocks of sizes in every tier, with a third freed and
 * allocated again in between so that reused blocks are among them.  The intervals
 * [p, p + malloc_usable_size(p)) are sorted and must be disjoint, and every block must still
 * hold the pattern written into it. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

enum { N = 100000 };

typedef struct {
  unsigned char *p;
  size_t size, usable;
} block_t;

static block_t blocks[N];
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Mostly tiny, some mid, a few large: about 150 MiB in all. */
static size_t random_size(void)
{
  uint64_t r = next_random(), k = r % 1000;
  r >>= 10;
  if (k < 900) return 1 + r % 1024;
  if (k < 995) return 1025 + r % 7168;
  if (k < 999) return 8193 + r % 57344;
  return 65537 + r % (2u << 20);
}

static unsigned char byte_for(size_t i, size_t j)
{
  return (unsigned char)(i * 2654435761u + j * 31 + (j >> 8));
}

static void make_block(size_t i)
{
  block_t *b = &blocks[i];
  b->size = random_size();
  b->p = malloc(b->size);
  if (!b->p) bail_out("malloc failed");
  b->usable = malloc_usable_size(b->p);
  for (size_t j = 0; j < b->size; j++) b->p[j] = byte_for(i, j);
}

static int by_address(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t)((const block_t *)a)->p, y = (uintptr_t)((const block_t *)b)->p;
  return x < y ? -1 : x > y;
}

int main(void)
{
  watchdog(60);
  plan(4);
  for (size_t i = 0; i < N; i++) make_block(i);
  /* A third are freed, then allocated again (free first, so that the new ones reuse them). */
  static unsigned char again[N];
  for (size_t i = 0; i < N; i++)
    if (next_random() % 3 == 0) {
      free(blocks[i].p);
      again[i] = 1;
    }
  for (size_t i = 0; i < N; i++)
    if (again[i]) make_block(i);

  int usable = 1, pattern = 1;
  for (size_t i = 0; i < N; i++) usable &= blocks[i].usable >= blocks[i].size;
  ok(usable, "malloc_usable_size >= the request for all %d blocks", N);
  for (size_t i = 0; i < N; i++) {
    const block_t *b = &blocks[i];
    for (size_t j = 0; j < b->size; j++)
      if (b->p[j] != byte_for(i, j)) {
        if (pattern) diag("block %zu (%p, %zu bytes) differs at byte %zu", i, (void *)b->p, b->size, j);
        pattern = 0;
        break;
      }
  }
  ok(pattern, "every block still holds its pattern");

  qsort(blocks, N, sizeof blocks[0], by_address);
  int disjoint = 1;
  for (size_t i = 1; i < N; i++)
    if ((uintptr_t)blocks[i - 1].p + blocks[i - 1].usable > (uintptr_t)blocks[i].p) {
      if (disjoint)
        diag("[%p, +%zu) overlaps [%p, +%zu)", (void *)blocks[i - 1].p, blocks[i - 1].usable,
             (void *)blocks[i].p, blocks[i].usable);
      disjoint = 0;
    }
  ok(disjoint, "the %d live blocks [p, p + usable) are pairwise disjoint", N);
  for (size_t i = 0; i < N; i++) free(blocks[i].p);
  void *p = malloc(100);
  ok(p != NULL, "all blocks freed; malloc still works");
  free(p);
  return exit_status();
}
