/* For the probes that report which hakmem the loader gave them (LD_PRELOAD, /etc/ld.so.preload,
 * or the DT_NEEDED of one linked with it): prints one line "libhakmem mapped: FILE" for each libhakmem file mapped
 * into the process (its mappings are adjacent), or "libhakmem mapped: none". */
#ifndef HAK_TEST_HAKMEM_MAPPED_H
#define HAK_TEST_HAKMEM_MAPPED_H

#include <stdio.h>
#include <string.h>

static void print_hakmem_mapped(void)
{
  static char line[4096], last[4096];
  FILE *f = fopen("/proc/self/maps", "r");
  while (f && fgets(line, sizeof line, f)) {
    char *file = strchr(line, '/');
    if (!file || !strstr(file, "libhakmem")) continue;
    file[strcspn(file, "\n")] = '\0';
    if (strcmp(file, last) != 0) printf("libhakmem mapped: %s\n", file);
    snprintf(last, sizeof last, "%s", file);
  }
  if (f) fclose(f);
  if (!last[0]) printf("libhakmem mapped: none\n");
}

#endif
