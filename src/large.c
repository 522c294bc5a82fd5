/* Large and huge-aligned blocks. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "large.h"
#include "os.h"

/* The block starts this far into its mapping by default: past the header and slab 0's record
 * (which free's fast path reads and finds empty), on a 256-byte boundary. */
#define HAK_LARGE_OFF ((size_t)256)
_Static_assert(offsetof(hak_ss_t, slabs) + sizeof(hak_slab_t) <= HAK_LARGE_OFF,
               "a large block does not overlap the header free reads");

/* ---- huge-aligned blocks ----------------------------------------------------------------- */

typedef struct hak_huge {
  void *block;
  size_t size;
  struct hak_huge *next;
} hak_huge_t;

static struct {
  pthread_mutex_t lock;
  hak_huge_t *live, *spare;
  _Atomic(size_t) count;
} huge = {.lock = PTHREAD_MUTEX_INITIALIZER};

static hak_huge_t *huge_node(void)
{
  if (!huge.spare) {
    hak_huge_t *page = hak_os_map_aligned(hak_os_page, hak_os_page);
    if (!page) return NULL;
    for (size_t i = 0; i < hak_os_page / sizeof *page; i++) {
      page[i].next = huge.spare;
      huge.spare = &page[i];
    }
  }
  hak_huge_t *n = huge.spare;
  huge.spare = n->next;
  return n;
}

static void *huge_alloc(size_t size, size_t align)
{
  if (size > SIZE_MAX - align - hak_os_page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t map = hak_align_up(size ? size : 1, hak_os_page);
  void *p = hak_os_map_aligned(map, align);
  if (!p) return NULL;
  pthread_mutex_lock(&huge.lock);
  hak_huge_t *n = huge_node();
  if (n) {
    n->block = p;
    n->size = map;
    n->next = huge.live;
    huge.live = n;
    atomic_fetch_add(&huge.count, 1);
  }
  pthread_mutex_unlock(&huge.lock);
  if (!n) {
    hak_os_unmap(p, map);
    errno = ENOMEM;
    return NULL;
  }
  return p;
}

void *hak_large_alloc(size_t size, size_t align, bool *zeroed)
{
  hak_ensure_init();
  *zeroed = true;
  if (align > HAK_SS_SIZE / 2) {
    /* Huge alignment: the block starts its mapping, so it has no header; see hak_huge_free. */
    return huge_alloc(size, align);
  }
  size_t off = HAK_MAX(align, HAK_LARGE_OFF);
  if (size > SIZE_MAX - off - HAK_SS_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  size_t map = hak_align_up(off + size, hak_os_page);
  hak_ss_t *ss = hak_ss_map(map);
  if (!ss) return NULL;
  ss->kind = HAK_SS_LARGE;
  ss->slab_shift = HAK_SS_SHIFT; /* every pointer of the first region reads slabs[0]: empty */
  ss->map_size = map;
  ss->block_off = off;
  ss->req_size = map - off;
  ss->magic = HAK_SS_MAGIC;
  return (char *)ss + off;
}

bool hak_large_free(hak_ss_t *ss, void *p)
{
  if ((char *)p != (char *)ss + ss->block_off) return false;
  hak_ss_unmap(ss, ss->map_size);
  return true;
}

/* Finds p among the huge-aligned blocks; unlinks it when unlink is set.  Returns its size. */
static size_t huge_find(const void *p, bool unlink)
{
  if (!atomic_load_explicit(&huge.count, memory_order_relaxed)) return 0;
  size_t size = 0;
  pthread_mutex_lock(&huge.lock);
  for (hak_huge_t **link = &huge.live; *link; link = &(*link)->next) {
    hak_huge_t *n = *link;
    if (n->block != p) continue;
    size = n->size;
    if (unlink) {
      *link = n->next;
      n->next = huge.spare;
      huge.spare = n;
      atomic_fetch_sub(&huge.count, 1);
    }
    break;
  }
  pthread_mutex_unlock(&huge.lock);
  return size;
}

bool hak_huge_free(void *p)
{
  size_t size = huge_find(p, true);
  if (!size) return false;
  hak_os_unmap(p, size);
  return true;
}

size_t hak_large_usable(const void *p)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (hak_region_ours(ss) && ss->magic == HAK_SS_MAGIC && ss->kind == HAK_SS_LARGE)
    return (const char *)p == (const char *)ss + ss->block_off ? ss->req_size : 0;
  return huge_find(p, false);
}

void *hak_large_resize(void *p, size_t size)
{
  hak_ss_t *ss = hak_ss_of(p);
  if (!hak_region_ours(ss) || ss->magic != HAK_SS_MAGIC || ss->kind != HAK_SS_LARGE) return NULL;
  if (size > SIZE_MAX - ss->block_off - HAK_SS_SIZE) return NULL;
  size_t map = hak_align_up(ss->block_off + size, hak_os_page);
  if (map <= ss->map_size) {
    if (map < ss->map_size) { /* shrink in place: give the tail back */
      hak_os_unmap((char *)ss + map, ss->map_size - map);
      ss->map_size = map;
      ss->req_size = map - ss->block_off;
    }
    return p;
  }
  /* Grow: move the pages to a new aligned place (no copy), or fail and let realloc copy. */
  hak_ss_t *to = hak_ss_map(map);
  if (!to) return NULL;
  size_t old_map = ss->map_size, off = ss->block_off;
  hak_region_mark(ss, false);
  if (!hak_os_remap(ss, old_map, to, map)) {
    hak_region_mark(ss, true);
    hak_ss_unmap(to, map);
    return NULL;
  }
  to->map_size = map;
  to->req_size = map - off;
  hak_ss_forget(old_map);
  return (char *)to + off;
}

void hak_large_lock_all(void)
{
  pthread_mutex_lock(&huge.lock);
}

void hak_large_unlock_all(bool child)
{
  if (child) pthread_mutex_init(&huge.lock, NULL);
  else pthread_mutex_unlock(&huge.lock);
}
