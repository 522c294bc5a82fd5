/* A program that does not link hakmem: tests/install/preload-secure.sh runs it as an ordinary
 * user with the library in /etc/ld.so.preload, once set-user-ID root and once not.  It prints
 * whether it runs in secure-execution mode, its effective user and the libhakmem mapped into it,
 * then allocates in the tiny, mid and large tiers so that HAKMEM_STATS has something to count.
 * Exit status 0 when the memory checked out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "hakmem_mapped.h"

int main(void)
{
  printf("secure %lu\neuid %u\n", getauxval(AT_SECURE), (unsigned)geteuid());
  print_hakmem_mapped();
  static const size_t sizes[] = {24, 700, 3000, 40000, 300000, 3u << 20};
  enum { N = sizeof sizes / sizeof sizes[0] };
  int bad = 0;
  for (int r = 0; r < 50; r++) {
    unsigned char *b[N];
    for (int i = 0; i < N; i++) {
      if (!(b[i] = malloc(sizes[i]))) return 1;
      memset(b[i], r + i, sizes[i]);
    }
    for (int i = 0; i < N; i++) {
      bad |= b[i][0] != (unsigned char)(r + i) || b[i][sizes[i] - 1] != (unsigned char)(r + i);
      free(b[i]);
    }
  }
  return bad;
}
