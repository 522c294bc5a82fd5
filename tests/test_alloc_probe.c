/* A program that allocates in every tier, from two threads, and checks what it reads back.
 * Linked with hakmem; tests/options.sh runs it with HAKMEM_* settings.  Prints "probe ok"
 * and exits 0 when all went well, then which libhakmem files the loader mapped into it
 * (tests/install/system-preload.sh). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem_mapped.h"

static void *work(void *arg)
{
  (void)arg;
  static const size_t sizes[] = {1, 24, 500, 1024, 3000, 40000, 65536, 200000, 3u << 20};
  enum { N = sizeof sizes / sizeof sizes[0], ROUNDS = 200 };
  long bad = 0;
  for (int r = 0; r < ROUNDS; r++) {
    unsigned char *b[N];
    for (size_t i = 0; i < N; i++) {
      b[i] = malloc(sizes[i]);
      if (!b[i]) return (void *)1;
      memset(b[i], (int)(i + (size_t)r), sizes[i]);
    }
    for (size_t i = 0; i < N; i++) {
      bad += b[i][0] != (unsigned char)(i + (size_t)r) ||
             b[i][sizes[i] - 1] != (unsigned char)(i + (size_t)r);
      free(b[i]);
    }
  }
  return (void *)bad;
}

int main(void)
{
  pthread_t t;
  void *other = NULL;
  if (pthread_create(&t, NULL, work, NULL) != 0) return 2;
  void *mine = work(NULL);
  pthread_join(t, &other);
  if (mine || other) {
    fprintf(stderr, "probe: bad memory\n");
    return 1;
  }
  printf("probe ok\n");
  print_hakmem_mapped();
  return 0;
}
