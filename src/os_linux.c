/* The OS contract (os.h) on Linux. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"
#include "os.h"
#include "stats.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

extern char **environ;

size_t hak_os_page = 4096;
static bool os_secure = true; /* until hak_os_init reads AT_SECURE */

void hak_os_init(void)
{
  long p = sysconf(_SC_PAGESIZE);
  if (p > 0) hak_os_page = (size_t)p;
  os_secure = getauxval(AT_SECURE) != 0;
}

/* Debug builds check the contract that QEMU does not: every address and size is page-aligned. */
#ifdef HAK_DEBUG
#define HAK_CHECK_PAGED(addr, size)                                                              \
  do {                                                                                           \
    if (((uintptr_t)(addr) | (size)) & (hak_os_page - 1))                                        \
      hak_fatal("hakmem: internal error: %s of %p+%zu not aligned to the %zu-byte page",         \
                __func__, (void *)(addr), (size_t)(size), hak_os_page);                          \
  } while (0)
#else
#define HAK_CHECK_PAGED(addr, size) ((void)0)
#endif

static void *os_mmap(void *hint, size_t size, int prot)
{
  void *p = mmap(hint, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Where the last aligned mapping began.  The kernel hands out addresses downwards, so the next
 * one is first asked for just below it: one call instead of three, and the two mappings touch,
 * so that the kernel keeps them as one (a process has at most vm.max_map_count mappings). */
static _Atomic(uintptr_t) map_hint;

void *hak_os_map_aligned(size_t size, size_t align)
{
  HAK_CHECK_PAGED(0, size);
  if (size + align < size) {
    errno = ENOMEM;
    return NULL;
  }
  uint64_t t0 = hak_prof_begin();
  uintptr_t hint = atomic_load_explicit(&map_hint, memory_order_relaxed);
  if (align > hak_os_page && hint > size) {
    char *want = (char *)((hint - size) & ~(uintptr_t)(align - 1));
    char *p = os_mmap(want, size, PROT_READ | PROT_WRITE);
    if (p == want) {
      atomic_store_explicit(&map_hint, (uintptr_t)p, memory_order_relaxed);
      hak_prof_end(HAK_PROF_MAP, t0);
      return p;
    }
    if (p) munmap(p, size);
  }
  /* Over-map by align, then cut the unaligned head and the tail: three calls, no retry loop. */
  char *p = os_mmap(NULL, size + align, PROT_READ | PROT_WRITE);
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  char *a = (char *)hak_align_up((uintptr_t)p, align);
  size_t head = (size_t)(a - p), tail = align - head;
  if (head) munmap(p, head);
  if (tail) munmap(a + size, tail);
  if (align > hak_os_page) atomic_store_explicit(&map_hint, (uintptr_t)a, memory_order_relaxed);
  hak_prof_end(HAK_PROF_MAP, t0);
  return a;
}

bool hak_os_unmap(void *addr, size_t size)
{
  HAK_CHECK_PAGED(addr, size);
  uint64_t t0 = hak_prof_begin();
  int e = errno;
  bool ok = munmap(addr, size) == 0;
  errno = e;
  hak_prof_end(HAK_PROF_UNMAP, t0);
  return ok;
}

/* Cleared for good by the first purge the kernel refuses (MADV_DONTNEED on locked pages, after
 * mlockall(MCL_FUTURE), fails with EINVAL): from then on no page is taken to read as zero for
 * having been purged. */
static atomic_bool purges_zero = true;

bool hak_os_purge_zeroes(void)
{
  return atomic_load_explicit(&purges_zero, memory_order_relaxed);
}

static bool purge_one(void *addr, size_t size)
{
  HAK_CHECK_PAGED(addr, size);
  if (madvise(addr, size, MADV_DONTNEED) == 0) return true;
  atomic_store_explicit(&purges_zero, false, memory_order_relaxed);
  return false;
}


/* struct iovec, the same two fields in the same order */
_Static_assert(sizeof(hak_range_t) == sizeof(struct iovec) &&
                   offsetof(hak_range_t, len) == offsetof(struct iovec, iov_len),
               "a range is an iovec");

#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP -10001 /* the calling process, as a pidfd (Linux 6.15) */
#endif

bool hak_os_purge_many(const hak_range_t *r, size_t n)
{
  static atomic_bool refused;
  int e = errno;
  size_t i = 0;
  bool ok = true;
#ifdef SYS_process_madvise
  while (hak_opt.PURGE_BATCH && n - i > 1 && !atomic_load_explicit(&refused, memory_order_relaxed)) {
    size_t k = HAK_MIN(n - i, (size_t)1024), bytes = 0; /* UIO_MAXIOV */
    for (size_t j = 0; j < k; j++) {
      HAK_CHECK_PAGED(r[i + j].addr, r[i + j].len);
      bytes += r[i + j].len;
    }
    long got = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, (const struct iovec *)(r + i),
                       k, MADV_DONTNEED, 0);
    if (got < 0) {
      /* an older kernel (no PIDFD_SELF, or advice it does not take here), or a filter that
       * answers with an error: madvise from now on; any other error, for this call */
      if (errno == EBADF || errno == EINVAL || errno == ENOSYS || errno == EPERM ||
          errno == ESRCH)
        atomic_store_explicit(&refused, true, memory_order_relaxed);
      break;
    }
    if ((size_t)got < bytes) break; /* stopped part way: the rest, again, one by one */
    i += k;
  }
#endif
  for (; i < n; i++) ok &= purge_one(r[i].addr, r[i].len);
  errno = e;
  return ok;
}

bool hak_os_purge(void *addr, size_t size)
{
  return hak_os_purge_many(&(hak_range_t){addr, size}, 1);
}

void hak_os_populate(void *addr, size_t size)
{
  HAK_CHECK_PAGED(addr, size);
  static atomic_bool unsupported;
  if (atomic_load_explicit(&unsupported, memory_order_relaxed)) return;
  int e = errno;
  if (madvise(addr, size, MADV_POPULATE_WRITE) != 0 && (errno == EINVAL || errno == ENOSYS))
    atomic_store_explicit(&unsupported, true, memory_order_relaxed);
  errno = e;
}

bool hak_os_remap(void *old, size_t old_size, void *new_addr, size_t new_size)
{
  HAK_CHECK_PAGED(old, old_size);
  HAK_CHECK_PAGED(new_addr, new_size);
  int e = errno;
  void *r = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
  errno = e;
  return r == new_addr;
}

bool hak_os_grow_in_place(void *addr, size_t old_size, size_t new_size)
{
  HAK_CHECK_PAGED(addr, old_size);
  HAK_CHECK_PAGED(0, new_size);
  int e = errno;
  void *r = mremap(addr, old_size, new_size, 0);
  errno = e;
  return r == addr;
}

const char *const *hak_os_environ(void)
{
  static const char *const none[] = {NULL};
  return os_secure || !environ ? none : (const char *const *)environ;
}

const char *hak_os_getenv(const char *name)
{
  size_t n = strlen(name);
  for (const char *const *e = hak_os_environ(); *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

double hak_os_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double hak_os_now_coarse(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void hak_os_random(unsigned long *out, size_t n)
{
  int e = errno;
  long got = syscall(SYS_getrandom, out, n * sizeof *out, GRND_NONBLOCK);
  errno = e;
  if (got == (long)(n * sizeof *out)) return;
  /* No getrandom (before Linux 3.17) or no entropy yet: the AT_RANDOM bytes the kernel gives
   * each exec, mixed with the pid and the cycle counter so that each word differs. */
  unsigned long state = 0;
  const unsigned char *a = (const unsigned char *)getauxval(AT_RANDOM);
  if (a) memcpy(&state, a, sizeof state);
  for (size_t i = 0; i < n; i++) {
    state += 0x9e3779b97f4a7c15ul ^ (unsigned long)getpid() ^ (unsigned long)hak_cycles();
    unsigned long r = state;
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ul;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebul;
    out[i] = r ^ (r >> 31);
  }
}

/* Thread exit: a pthread key whose destructor runs hak_thread_done.  The key is created once;
 * pthread_setspecific on a key below PTHREAD_KEY_2NDLEVEL_SIZE never allocates. */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
/* Every thread stores the same fn: atomic, so that those stores do not race. */
static void (*exit_fn)(void *);

static void exit_key_create(void)
{
  pthread_key_create(&exit_key, __atomic_load_n(&exit_fn, __ATOMIC_RELAXED));
}

void hak_os_thread_exit_hook(void (*fn)(void *), void *arg)
{
  __atomic_store_n(&exit_fn, fn, __ATOMIC_RELAXED);
  pthread_once(&exit_once, exit_key_create);
  pthread_setspecific(exit_key, arg);
}

bool hak_os_thread_start(void *(*fn)(void *), const char *name)
{
  int e = errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  bool ok = pthread_attr_init(&attr) == 0;
  if (ok) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    pthread_t t;
    ok = pthread_create(&t, &attr, fn, NULL) == 0;
    if (ok) pthread_setname_np(t, name); /* named before this returns */
    pthread_attr_destroy(&attr);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = e;
  return ok;
}

void hak_os_sleep_ms(unsigned ms)
{
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
  int e = errno;
  nanosleep(&ts, NULL);
  errno = e;
}

/* ---- messages ---------------------------------------------------------------------------- */

static size_t put_num(char *buf, size_t pos, size_t cap, unsigned long long v, unsigned base,
                      bool neg)
{
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  if (neg && pos + 1 < cap) buf[pos++] = '-';
  while (n > 0 && pos + 1 < cap) buf[pos++] = tmp[--n];
  return pos;
}

size_t hak_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
  size_t pos = 0;
  for (const char *f = fmt; *f && pos + 1 < cap; f++) {
    if (*f != '%') {
      buf[pos++] = *f;
      continue;
    }
    f++;
    bool z = false, l = false;
    if (*f == 'z') z = true, f++;
    if (*f == 'l') l = true, f++;
    switch (*f) {
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      while (*s && pos + 1 < cap) buf[pos++] = *s++;
      break;
    }
    case 'd': {
      long long v = z ? (long long)va_arg(ap, ssize_t) : l ? va_arg(ap, long) : va_arg(ap, int);
      pos = put_num(buf, pos, cap, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10,
                    v < 0);
      break;
    }
    case 'u':
    case 'x': {
      unsigned long long v = z ? va_arg(ap, size_t) : l ? va_arg(ap, unsigned long)
                                                        : va_arg(ap, unsigned);
      pos = put_num(buf, pos, cap, v, *f == 'x' ? 16 : 10, false);
      break;
    }
    case 'p':
      if (pos + 3 < cap) buf[pos++] = '0', buf[pos++] = 'x';
      pos = put_num(buf, pos, cap, (uintptr_t)va_arg(ap, void *), 16, false);
      break;
    case '%':
      buf[pos++] = '%';
      break;
    default:
      if (!*f) f--;
      break;
    }
  }
  buf[pos] = 0;
  return pos;
}

size_t hak_format(char *buf, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  size_t n = hak_vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

void hak_vmsg_fd(int fd, const char *fmt, va_list ap)
{
  char buf[512];
  size_t n = hak_vformat(buf, sizeof buf - 1, fmt, ap);
  buf[n++] = '\n';
  int e = errno;
  for (size_t done = 0; done < n;) {
    ssize_t w = write(fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += (size_t)w;
  }
  errno = e;
}

void hak_msg(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  hak_vmsg_fd(STDERR_FILENO, fmt, ap);
  va_end(ap);
}

_Noreturn void hak_fatal(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  hak_vmsg_fd(STDERR_FILENO, fmt, ap);
  va_end(ap);
  abort();
}
