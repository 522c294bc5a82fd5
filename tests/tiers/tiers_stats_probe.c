/* Allocates a known number of blocks in known classes, for stats.sh to find in the
 * HAKMEM_STATS table: 16 B x100, 100 B x100 (class 112), 1024 B x100, 2000 B x50 (class 2048),
 * 40000 B x20 (class 40960), 200000 B x3 (L2.5) and 3 MiB x3 (large).  Prints "probe done". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  size_t size;
  unsigned count;
} plan[] = {{16, 100}, {100, 100}, {1024, 100}, {2000, 50}, {40000, 20}, {200000, 3}, {3 << 20, 3}};

int main(void)
{
  static void *p[100];
  for (unsigned k = 0; k < sizeof plan / sizeof plan[0]; k++) {
    for (unsigned i = 0; i < plan[k].count; i++) {
      p[i] = malloc(plan[k].size);
      if (!p[i]) return 1;
      memset(p[i], (int)i, plan[k].size);
    }
    for (unsigned i = 0; i < plan[k].count; i++) free(p[i]);
  }
  puts("probe done");
  return 0;
}
