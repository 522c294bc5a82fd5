/* Prints the ENVIRONMENT entries of hakmem(7) from the HAK_OPTIONS table in src/options.h, or
 * with --names the name of every variable (old names of options last), one a line.  A build
 * tool: it never runs inside the allocator, so stdio is fine here.  The committed man/hakmem.7 holds its output between the
 * "BEGIN OPTIONS" and "END OPTIONS" markers; "make update-man" rewrites them and a test in
 * "make check" fails when they differ. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "options.h"

/* Only the rows of the table are used, not the library's descriptor type, so the generator does
 * not change when the descriptor does.  The type is kept as its name (BOOL, INT, REAL, STR). */
typedef struct {
  const char *name, *type;
  double def, min, max;
  const char *doc;
} row_t;

#define ROW(n, t, d, lo, hi, doc) {#n, #t, (d), (lo), (hi), doc},
static const row_t rows[] = {HAK_OPTIONS(ROW)};
#undef ROW
static const unsigned nrows = sizeof rows / sizeof rows[0];
#define ALIAS(old, option) {#old, #option},
static const struct {
  const char *old, *option;
} aliases[] = {HAK_OPTION_ALIASES(ALIAS)};
#undef ALIAS

enum kind { BOOL, INT, REAL, STR, UNKNOWN };

static enum kind kind_of(const row_t *o)
{
  static const char *const names[] = {"BOOL", "INT", "REAL", "STR"};
  for (unsigned k = 0; k < UNKNOWN; k++)
    if (strcmp(o->type, names[k]) == 0) return (enum kind)k;
  return UNKNOWN;
}

/* Writes s as roff text: backslashes escaped, hyphens made explicit, no line starting a request. */
static void put_text(const char *s, int capital)
{
  if (*s == '.' || *s == '\'') fputs("\\&", stdout);
  for (; *s; s++) {
    if (*s == '\\') fputs("\\e", stdout);
    else if (*s == '-') fputs("\\-", stdout);
    else if (*s == '\n') putchar(' ');
    else putchar(capital ? toupper((unsigned char)*s) : *s);
    capital = 0;
  }
}

static void put_value(enum kind k, double v)
{
  if (k == REAL) printf("%g", v);
  else if (v < 0) printf("\\-%.0f", -v);
  else printf("%.0f", v);
}

/* A value for the example line: in range and different from the default. */
static double example_value(const row_t *o, enum kind k)
{
  if (k == BOOL) return o->def ? 0 : 1;
  double v = o->def > 0 ? o->def * 2 : 1;
  if (v > o->max) v = o->max;
  if (v == o->def) v = o->min;
  return v;
}

static void put_row(const row_t *o, enum kind k)
{
  static const char *const type_name[] = {"boolean", "integer", "decimal number", "text"};
  size_t len = strlen(o->name);
  int is_path = len > 5 && (strcmp(o->name + len - 5, "_FILE") == 0 || strcmp(o->name + len - 5, "_PATH") == 0);
  printf(".TP\n.B HAKMEM_");
  put_text(o->name, 0);
  printf("\nType: %s.\n", is_path && k == STR ? "file name" : type_name[k]);
  if (k == STR) {
    printf("Default: unset.\n");
  } else {
    printf("Default: ");
    put_value(k, o->def);
    if (k == BOOL) {
      printf(" (%s).\n", o->def ? "on" : "off");
    } else {
      printf(".\nRange: ");
      put_value(k, o->min);
      printf(" to ");
      put_value(k, o->max);
      printf(".\n");
    }
  }
  printf(".br\n");
  put_text(o->doc, 1);
  len = strlen(o->doc);
  printf("%s\n", len && o->doc[len - 1] == '.' ? "" : ".");
  printf(".br\nExample: \\fBHAKMEM_");
  put_text(o->name, 0);
  putchar('=');
  if (k == STR) put_text(is_path ? "/tmp/hakmem.txt" : "text", 0);
  else put_value(k, example_value(o, k));
  printf(" hakmem\\fP \\fImyprogram\\fP\n");
}

int main(int argc, char **argv)
{
  int names = argc == 2 && strcmp(argv[1], "--names") == 0;
  if (argc != 1 && !names) {
    fprintf(stderr, "usage: %s [--names]\n", argv[0]);
    return 2;
  }
  for (unsigned i = 0; i < nrows; i++) {
    enum kind k = kind_of(&rows[i]);
    if (k == UNKNOWN) {
      fprintf(stderr, "%s: HAKMEM_%s has the type %s, which this tool does not know\n", argv[0],
              rows[i].name, rows[i].type);
      return 1;
    }
    if (names) printf("HAKMEM_%s\n", rows[i].name);
    else put_row(&rows[i], k);
  }
  for (unsigned i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
    if (names) {
      printf("HAKMEM_%s\n", aliases[i].old);
      continue;
    }
    printf(".TP\n.B HAKMEM_");
    put_text(aliases[i].old, 0);
    printf("\nThe old name of\n.BR HAKMEM_");
    put_text(aliases[i].option, 0);
    printf(" ,\nread as that when that is not set and ignored when it is,"
           " with a warning either way.\n");
  }
  return ferror(stdout) != 0;
}
