/* The operating system behind one contract.  Tier code calls only these; os_linux.c is the
 * one implementation.  None of them allocates with malloc, and none changes errno visibly
 * except where it says so. */
#ifndef HAK_OS_H
#define HAK_OS_H

#include <stdbool.h>
#include <stddef.h>

/* The page size, read from the kernel at start-up (4, 16 or 64 KiB on aarch64). */
extern size_t hak_os_page;
/* Reads the page size, and whether the process runs in secure-execution mode, once. */
void hak_os_init(void);

/* Maps size bytes of fresh zeroed read-write memory whose address is a multiple of align
 * (a power of two, at least the page size).  size must be a multiple of the page size.
 * Returns NULL (errno ENOMEM) when the kernel refuses. */
void *hak_os_map_aligned(size_t size, size_t align);
/* Gives a mapping (or a page-aligned part of one) back to the kernel; false if the kernel
 * refused (ENOMEM: unmapping the middle of a mapping past vm.max_map_count). */
bool hak_os_unmap(void *addr, size_t size);
/* Keeps the addresses but lets the kernel take the pages back; they read as zero later.  False
 * if the kernel refused (locked pages): the pages keep what they held. */
bool hak_os_purge(void *addr, size_t size);
/* Whether every purge so far succeeded; once one has not, no purged page may be taken to read
 * as zero (the caller cannot always tell which failed). */
bool hak_os_purge_zeroes(void);
/* Gives back the pages of n ranges ({address, length}, page-aligned) at once.  With
 * HAKMEM_PURGE_BATCH, one process_madvise call covers up to 1024 of them, with one flush of
 * the other CPUs' TLBs instead of one per range, where the kernel takes it (Linux 6.15 on:
 * PIDFD_SELF); else, and once the kernel has refused, one madvise each. */
typedef struct {
  void *addr;
  size_t len;
} hak_range_t;
bool hak_os_purge_many(const hak_range_t *r, size_t n); /* false if any refused */
/* Faults the pages in now (MADV_POPULATE_WRITE); quietly does nothing on older kernels. */
void hak_os_populate(void *addr, size_t size);
/* Moves a mapping to a larger size at a given address (mremap MREMAP_FIXED); false if not. */
bool hak_os_remap(void *old, size_t old_size, void *new_addr, size_t new_size);
/* Grows a mapping where it is (mremap without moving); false if the space after it is taken. */
bool hak_os_grow_in_place(void *addr, size_t old_size, size_t new_size);

/* Messages go out through hak_vmsg_fd (internal.h), one write(2) per line. */
/* The environment as a NULL-terminated list of "NAME=value", read in place without allocating.
 * The list is empty in secure-execution mode (getauxval(AT_SECURE): a set-user-ID, set-group-ID
 * or file-capability program, which /etc/ld.so.preload reaches with the environment of whoever
 * started it; DESIGN invariant 7), and before hak_os_init has looked. */
const char *const *hak_os_environ(void);
/* The value of an environment variable from hak_os_environ; NULL if unset. */
const char *hak_os_getenv(const char *name);
/* Seconds from a monotonic clock (vDSO); and the same clock as of the last tick (a few ms
 * behind at most), cheaper: no read of the cycle counter. */
double hak_os_now(void);
double hak_os_now_coarse(void);
/* Fills out with n words of random bits from the kernel (getrandom, one call); secrets are made
 * of them. */
void hak_os_random(unsigned long *out, size_t n);

/* Calls fn(arg) when the calling thread exits, after other TLS destructors had their turn. */
void hak_os_thread_exit_hook(void (*fn)(void *), void *arg);
/* Starts fn(NULL) on a detached thread named name (at most 15 characters) with every signal
 * blocked, so that the program's signals never land on it.  pthread_create allocates (its
 * thread's TLS): the caller holds no lock of the allocator.  False (errno kept) if it cannot. */
bool hak_os_thread_start(void *(*fn)(void *), const char *name);
/* Sleeps ms milliseconds (less if a signal arrives). */
void hak_os_sleep_ms(unsigned ms);

#endif
