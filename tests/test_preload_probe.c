/* A program that does not link hakmem: tests/preload_programs.sh runs it with and without
 * LD_PRELOAD (under the emulator for cross builds).  It prints the file of each libhakmem mapped
 * into it (the machine's /etc/ld.so.preload may bring one of its own), then a checksum of work
 * done with malloc, realloc, calloc and free, which must not depend on the allocator.  Exit
 * status 0 when the work checked out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem_mapped.h"

int main(void)
{
  print_hakmem_mapped();
  uint64_t sum = 0;
  int bad = 0;
  char *keep[512] = {0};
  for (unsigned i = 0; i < 20000; i++) {
    unsigned slot = (i * 2654435761u) >> 23;
    size_t n = (i * 7919u) % (i % 50 == 0 ? 300000u : 2000u) + 1;
    if (keep[slot]) {
      sum = sum * 31 + (unsigned char)keep[slot][0];
      keep[slot] = realloc(keep[slot], n);
    } else {
      keep[slot] = i % 3 ? malloc(n) : calloc(1, n);
      if (keep[slot] && i % 3 == 0)
        for (size_t j = 0; j < n; j += 97) bad |= keep[slot][j] != 0;
    }
    if (!keep[slot]) return 1;
    memset(keep[slot], (int)(i & 0xff), n);
  }
  for (unsigned s = 0; s < 512; s++) free(keep[s]);
  printf("checksum: %016llx\n", (unsigned long long)sum);
  return bad;
}
