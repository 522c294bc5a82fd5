/* Every HAKMEM_* environment variable is one row of HAK_OPTIONS.  From the table come the
 * parser (run once at start-up), the HAKMEM_VERBOSE dump, the man page (tools/gen-options-man)
 * and the test that code, table and man page agree.
 *
 * Row: X(NAME, TYPE, DEFAULT, MIN, MAX, "one-line description")
 * TYPE is BOOL (0 or 1), INT (a whole number in [MIN, MAX]), REAL (a decimal in [MIN, MAX]) or
 * STR (any text; DEFAULT, MIN and MAX are 0 and unused).  An option that is renamed keeps its
 * old name in HAK_OPTION_ALIASES. */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define HAK_OPTIONS(X)                                                                           \
  X(VERBOSE, BOOL, 0, 0, 1, "print the effective value of every option at start-up")            \
  X(STATS, BOOL, 0, 0, 1,                                                                        \
    "print a table of requests, hits, refills, remote frees and memory per tier and class at exit") \
  X(STATS_FILE, STR, 0, 0, 0,                                                                    \
    "write the HAKMEM_STATS table to this file instead of standard error")                     \
  X(PROFILE, BOOL, 0, 0, 1,                                                                      \
    "time the slow paths (refill, remote drain, OS map and unmap) in CPU cycles; histogram at exit") \
  X(TINY_BATCH, INT, 64, 1, 1024,                                                                \
    "most blocks a thread takes from a slab in one refill of a small size class")               \
  X(POOL_REFILL_BATCH, INT, 8, 1, 64,                                                            \
    "most blocks of a mid size class (1 to 64 KiB) a thread takes from a slab in one refill")   \
  X(W_MAX, REAL, 1.0, 1.0, 4.0,                                                                  \
    "a mid request may take a ready block of a larger class up to this many times its size "   \
    "(1.0: its own class only)")                                                                 \
  X(KEPT_FULL_SLABS, INT, 16, 0, 4096,                                                           \
    "full slabs a thread keeps per size class on its fast free path before it stops watching them") \
  X(SUPERSLAB_MAX_CACHED, INT, 8, 0, 4096,                                                       \
    "empty SuperSlabs (2 MiB each) kept for reuse with their pages; past it the oldest give "   \
    "every page back to the OS and keep only their address space")                             \
  X(SUPERSLAB_MAX_MEMORY_MB, INT, 16384, 0, 1048576,                                            \
    "megabytes of address space of empty SuperSlabs kept for reuse, with their pages or "      \
    "without; past it the oldest are unmapped, down to half")                                   \
  X(SUPERSLAB_TTL_SEC, INT, 10, 0, 86400,                                                        \
    "seconds an empty SuperSlab stays cached before it is unmapped")                           \
  X(PURGE_BATCH, BOOL, 0, 0, 1,                                                                  \
    "give pages back with one process_madvise call per batch of ranges (one TLB flush for all; "  \
    "Linux 6.15 or later, else one madvise each); off by default, since a seccomp filter that "  \
    "does not allow process_madvise may kill the process")                                     \
  X(SS_PREFAULT, BOOL, 0, 0, 1,                                                                  \
    "fault in every new SuperSlab at once (MADV_POPULATE_WRITE) instead of page by page")      \
  X(SLAB_PURGE_MS, INT, 100, 0, 86400000,                                                        \
    "milliseconds an empty slab, a free span of pages, or a cached SuperSlab or large block keeps " \
    "its pages before they go back to the OS (the address space is kept)")                      \
  X(EMPTY_MAX_MB, INT, 64, 0, 1048576,                                                           \
    "megabytes of empty slabs, free spans, cached SuperSlabs and cached large blocks that "     \
    "may keep their pages within that delay; "                                                   \
    "past it the oldest give theirs back at once, on the free that made memory empty")          \
  X(EMPTY_MAX_PERCENT, INT, 0, 0, 1000,                                                          \
    "percent of the memory in slabs and L2.5 blocks in use that empty memory may keep "         \
    "resident within the purge delay, when that is more than HAKMEM_EMPTY_MAX_MB "              \
    "(0: the megabytes alone)")                                                                   \
  X(BIGCACHE_MAX_MB, INT, 64, 0, 1048576,                                                        \
    "megabytes of freed large blocks kept for reuse by later large requests (0: none); "        \
    "their pages count against HAKMEM_EMPTY_MAX_MB")                                             \
  X(BIGCACHE_TTL_MS, INT, 10000, 0, 86400000,                                                    \
    "milliseconds a freed large block's mapping stays cached (its pages purged after "           \
    "HAKMEM_SLAB_PURGE_MS) before it is unmapped")                                               \
  X(BACKGROUND, BOOL, 0, 0, 1,                                                                   \
    "run one background thread that gives empty memory back after these delays while the "     \
    "program makes no call (wakes four times per HAKMEM_SLAB_PURGE_MS, 10 ms to 1 s apart)")   \
  X(LEARN, BOOL, 0, 0, 1,                                                                        \
    "run the adaptive learner in the background thread (which then also does what "            \
    "HAKMEM_BACKGROUND does): it raises a size class's refill batch while the class's slow paths " \
    "are frequent, its bound of kept full slabs (if HAKMEM_LEARN_KEPT_MAX allows) while "       \
    "refills take slabs from the shared lists often, and the purge delay while purged memory " \
    "is taken back soon after, and the BigCache's bound while its bounds throw cached pages "  \
    "away often; it undoes a raise that does not make them rarer")                             \
  X(LEARN_WINDOW_MS, INT, 100, 10, 10000,                                                        \
    "milliseconds between two looks of the learner at the per-class slow-path counts")          \
  X(LEARN_DWELL_MS, INT, 500, 0, 60000,                                                          \
    "milliseconds a change of the learner is held before it is judged or another change of the " \
    "same class is made")                                                                        \
  X(LEARN_BATCH_MAX, INT, 32, 1, 64,                                                             \
    "most blocks the learner lets a class's refill take (never fewer than the default batch)")  \
  X(LEARN_CLASS_KB, INT, 1024, 64, 65536,                                                        \
    "most kilobytes a class's magazine may hold at the batches the learner sets (two batches)") \
  X(LEARN_KEPT_MAX, INT, 16, 0, 4096,                                                            \
    "most full slabs the learner lets a thread keep listed per size class; at or below "        \
    "HAKMEM_KEPT_FULL_SLABS (the default) it leaves that bound alone")                          \
  X(LEARN_PURGE_MAX_MS, INT, 1600, 0, 60000,                                                     \
    "longest purge delay the learner may set, in milliseconds (never shorter than "            \
    "HAKMEM_SLAB_PURGE_MS; empty memory stays bounded by HAKMEM_EMPTY_MAX_MB meanwhile)")       \
  X(LEARN_BIGCACHE_MAX_MB, INT, 128, 0, 1048576,                                                \
    "most megabytes the learner lets the BigCache hold (never fewer than "                      \
    "HAKMEM_BIGCACHE_MAX_MB); what it allows above that option also raises "                   \
    "HAKMEM_EMPTY_MAX_MB's bound, since the cache's pages count against it")                   \
  X(LEARN_LOG, BOOL, 0, 0, 1,                                                                    \
    "print each decision of the learner as it is made")

/* Old names, still read (with a warning) when the option's own name is not set.
 * Row: A(OLD_NAME, OPTION) */
#define HAK_OPTION_ALIASES(A) A(WARM_POOL_SIZE, KEPT_FULL_SLABS)

enum hak_option_type { HAK_OPT_BOOL, HAK_OPT_INT, HAK_OPT_REAL, HAK_OPT_STR };

/* C types of the option values: numbers are kept as double (exact for every INT in range),
 * strings point into environ. */
#define HAK_OPT_CTYPE_BOOL double
#define HAK_OPT_CTYPE_INT double
#define HAK_OPT_CTYPE_REAL double
#define HAK_OPT_CTYPE_STR const char *

typedef struct {
  const char *name; /* without the HAKMEM_ prefix */
  enum hak_option_type type;
  double def, min, max;  /* a STR option's default is NULL (unset) */
  const char *doc;
  size_t offset;         /* of its value in hak_options_t */
} hak_option_desc_t;

#define HAK_OPT_FIELD(name, type, def, min, max, doc) HAK_OPT_CTYPE_##type name;
typedef struct {
  HAK_OPTIONS(HAK_OPT_FIELD)
} hak_options_t;
#undef HAK_OPT_FIELD

/* The effective values; filled by hak_options_init, read-only afterwards. */
extern hak_options_t hak_opt;
extern const hak_option_desc_t hak_option_table[];
extern const unsigned hak_option_count;

void hak_options_init(void);
/* Writes "HAKMEM_NAME=value" for every option to stderr. */
void hak_options_dump(void);

#endif
