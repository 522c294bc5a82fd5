/* Parsing of the HAKMEM_* variables, once, at start-up.  No allocation: values are parsed in
 * place from environ, and a bad value gets one line on stderr and the default, as does a
 * HAKMEM_* name that is no option.  In secure-execution mode nothing is read (os.h). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "options.h"
#include "os.h"

#define HAK_OPT_ROW(n, t, d, lo, hi, doc) \
  {#n, HAK_OPT_##t, (d), (lo), (hi), doc, offsetof(hak_options_t, n)},
const hak_option_desc_t hak_option_table[] = {HAK_OPTIONS(HAK_OPT_ROW)};
#undef HAK_OPT_ROW
const unsigned hak_option_count = sizeof hak_option_table / sizeof hak_option_table[0];

#define HAK_OPT_DEF(n, t, d, lo, hi, doc) .n = (HAK_OPT_CTYPE_##t)(d),
hak_options_t hak_opt = {HAK_OPTIONS(HAK_OPT_DEF)};
#undef HAK_OPT_DEF

/* Parses a whole number or a decimal without strtod, which may allocate for locales. */
static bool parse_number(const char *s, bool integral, double *out)
{
  double v = 0, scale = 1;
  bool neg = false, digits = false, frac = false;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  for (; *s; s++) {
    if (*s >= '0' && *s <= '9') {
      digits = true;
      if (frac) v += (*s - '0') * (scale /= 10);
      else v = v * 10 + (*s - '0');
    } else if (*s == '.' && !frac && !integral) {
      frac = true;
    } else {
      return false;
    }
  }
  if (!digits) return false;
  *out = neg ? -v : v;
  return true;
}

static bool parse_bool(const char *s, double *out)
{
  static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
  for (unsigned i = 0; i < 4; i++) {
    const char *a = s, *y = yes[i], *n = no[i];
    while (*a && (*a | 0x20) == *y) a++, y++;
    if (!*a && !*y) return *out = 1, true;
    a = s;
    while (*a && (*a | 0x20) == *n) a++, n++;
    if (!*a && !*n) return *out = 0, true;
  }
  return false;
}

/* The text of a number as the table's type shows it: "64", or "1.500" for a REAL. */
static void value_text(char *buf, size_t cap, enum hak_option_type type, double v)
{
  long whole = (long)v;
  if (type != HAK_OPT_REAL) {
    hak_format(buf, cap, "%ld", whole);
    return;
  }
  long milli = (long)((v - (double)whole) * 1000 + 0.5);
  if (milli >= 1000) whole++, milli -= 1000;
  hak_format(buf, cap, "%ld.%u%u%u", whole, (unsigned)(milli / 100), (unsigned)(milli / 10 % 10),
             (unsigned)(milli % 10));
}

static void *option_slot(const hak_option_desc_t *o)
{
  return (char *)&hak_opt + o->offset;
}

/* The longest name compared: longer ones are cut there, which only changes the suggestion. */
#define HAK_OPT_NAME_MAX 63

static char upper(char c)
{
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Levenshtein distance between the first n bytes of a (any case) and the option name b, with one
 * row on the stack; a's length is at most HAK_OPT_NAME_MAX. */
static unsigned distance(const char *a, size_t n, const char *b)
{
  unsigned row[HAK_OPT_NAME_MAX + 1];
  size_t m = strlen(b);
  if (m > HAK_OPT_NAME_MAX) m = HAK_OPT_NAME_MAX;
  for (size_t j = 0; j <= m; j++) row[j] = (unsigned)j;
  for (size_t i = 1; i <= n; i++) {
    unsigned diag = row[0]; /* row[j - 1] of the previous row */
    row[0] = (unsigned)i;
    for (size_t j = 1; j <= m; j++) {
      unsigned up = row[j], d = diag + (upper(a[i - 1]) != b[j - 1]);
      d = HAK_MIN(d, up + 1);
      row[j] = HAK_MIN(d, row[j - 1] + 1);
      diag = up;
    }
  }
  return row[m];
}

#define HAK_OPT_ALIAS(old, option) {#old, #option},
static const struct {
  const char *old, *option;
} aliases[] = {HAK_OPTION_ALIASES(HAK_OPT_ALIAS)};
#undef HAK_OPT_ALIAS

static bool name_is(const char *a, const char *name, size_t n)
{
  return strlen(a) == n && strncmp(a, name, n) == 0;
}

/* An option's name, or an old name of one. */
static bool is_option(const char *name, size_t n)
{
  for (unsigned i = 0; i < hak_option_count; i++)
    if (name_is(hak_option_table[i].name, name, n)) return true;
  for (unsigned i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (name_is(aliases[i].old, name, n)) return true;
  return false;
}

/* The value of the option's old name, when the environment has one, with a warning that it is
 * old: read as the option's own name, or ignored when that is set too (own_set). */
static const char *old_name_value(const char *option, bool own_set)
{
  for (unsigned i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
    if (strcmp(aliases[i].option, option) != 0) continue;
    char name[64];
    hak_format(name, sizeof name, "HAKMEM_%s", aliases[i].old);
    const char *s = hak_os_getenv(name);
    if (s) {
      hak_msg("hakmem: warning: %s is the old name of HAKMEM_%s; %s", name, option,
              own_set ? "ignored, since that is set" : "read as that");
      return s;
    }
  }
  return NULL;
}

static const char *nearest_option(const char *name, size_t n)
{
  const char *best = hak_option_table[0].name;
  unsigned best_d = ~0u;
  for (unsigned i = 0; i < hak_option_count; i++) {
    unsigned d = distance(name, n, hak_option_table[i].name);
    if (d < best_d) best = hak_option_table[i].name, best_d = d;
  }
  return best;
}

/* One warning for every HAKMEM_* variable that is not an option, naming the nearest option. */
static void warn_unknown(void)
{
  static const char prefix[] = "HAKMEM_";
  for (const char *const *e = hak_os_environ(); *e; e++) {
    if (strncmp(*e, prefix, sizeof prefix - 1) != 0) continue;
    const char *name = *e + sizeof prefix - 1;
    size_t n = strcspn(name, "=");
    if (is_option(name, n)) continue;
    char shown[HAK_OPT_NAME_MAX + 1];
    size_t k = HAK_MIN(n, HAK_OPT_NAME_MAX);
    memcpy(shown, name, k);
    shown[k] = 0;
    hak_msg("hakmem: warning: unknown variable %s%s%s (did you mean %s%s?)", prefix, shown,
            k < n ? "..." : "", prefix, nearest_option(shown, k));
  }
}

void hak_options_init(void)
{
  for (unsigned i = 0; i < hak_option_count; i++) {
    const hak_option_desc_t *o = &hak_option_table[i];
    char name[64];
    hak_format(name, sizeof name, "HAKMEM_%s", o->name);
    const char *s = hak_os_getenv(name), *old = old_name_value(o->name, s != NULL);
    if (!s) s = old;
    if (!s) continue;
    if (o->type == HAK_OPT_STR) {
      *(const char **)option_slot(o) = s;
      continue;
    }
    double v;
    bool ok = o->type == HAK_OPT_BOOL ? parse_bool(s, &v) : parse_number(s, o->type == HAK_OPT_INT, &v);
    if (!ok || v < o->min || v > o->max) {
      char lo[32], hi[32], def[32];
      value_text(lo, sizeof lo, o->type, o->min);
      value_text(hi, sizeof hi, o->type, o->max);
      value_text(def, sizeof def, o->type, o->def);
      hak_msg("hakmem: warning: %s='%s' is not %s in [%s, %s]; using the default %s", name, s,
              o->type == HAK_OPT_BOOL ? "a boolean" : o->type == HAK_OPT_INT ? "a whole number" : "a number",
              lo, hi, def);
      continue;
    }
    *(double *)option_slot(o) = v;
  }
  warn_unknown();
}

void hak_options_dump(void)
{
  for (unsigned i = 0; i < hak_option_count; i++) {
    const hak_option_desc_t *o = &hak_option_table[i];
    if (o->type == HAK_OPT_STR) {
      const char *v = *(const char **)option_slot(o);
      hak_msg("hakmem: HAKMEM_%s=%s", o->name, v ? v : "");
      continue;
    }
    char text[32];
    value_text(text, sizeof text, o->type, *(double *)option_slot(o));
    hak_msg("hakmem: HAKMEM_%s=%s", o->name, text);
  }
}
