/* calloc returns zeroed memory even when it reuses blocks that held data: blocks are filled
 * with 0xAA and freed, then calloc asks for the same sizes, in every tier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

enum { ROUNDS = 3, PER_SIZE = 64 };

static int calloc_round(size_t size, int count)
{
  void *blocks[PER_SIZE];
  for (int i = 0; i < count; i++) {
    blocks[i] = malloc(size);
    if (!blocks[i]) return 0;
    memset(blocks[i], 0xAA, size);
  }
  for (int i = count; i-- > 0;) free(blocks[i]);
  int zero = 1;
  for (int i = 0; i < count; i++) {
    unsigned char *p = calloc(1, size);
    if (!p) return 0;
    for (size_t j = 0; j < size; j++)
      if (p[j]) {
        zero = 0;
        break;
      }
    blocks[i] = p;
    memset(p, 0xAA, size); /* dirty again for the next round */
  }
  for (int i = 0; i < count; i++) free(blocks[i]);
  return zero;
}

static int calloc_sizes(size_t from, size_t to, size_t step, int count)
{
  int good = 1;
  for (int r = 0; r < ROUNDS; r++)
    for (size_t n = from; n <= to; n += step) {
      if (!calloc_round(n, count)) {
        diag("calloc(1, %zu) not zeroed after reuse", n);
        good = 0;
      }
    }
  return good;
}

int main(void)
{
  watchdog(60);
  plan(5);
  ok(calloc_sizes(1, 1024, 7, PER_SIZE), "tiny sizes (1..1024) come back zeroed");
  ok(calloc_sizes(1025, 65536, 1531, PER_SIZE), "mid sizes (1025..65536) come back zeroed");
  ok(calloc_sizes(65537, 4u << 20, 700001, 4), "large sizes (64 KiB..4 MiB) come back zeroed");
  ok(calloc_sizes((2u << 20) - 4096, (2u << 20) - 256, 1280, 4),
     "large sizes that fill one 2 MiB mapping come back zeroed");

  /* count * size split both ways, and the two-argument form over a block that held data. */
  int good = 1;
  for (size_t r = 0; r < 4; r++) {
    unsigned char *p = malloc(40000);
    memset(p, 0xAA, 40000);
    free(p);
    unsigned char *q = calloc(r + 1, 40000 / (r + 1));
    for (size_t j = 0; q && j < 40000 / (r + 1) * (r + 1); j++) good &= q[j] == 0;
    good &= q != NULL;
    free(q);
  }
  ok(good, "calloc(count, size) zeroes all count * size bytes");
  return exit_status();
}
