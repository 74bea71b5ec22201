// CIOURing: the block-I/O calls Swift cannot make directly.
//
// liburing's submission and completion paths are static inline functions over
// shared-memory rings (with the memory barriers they need), so they are wrapped here
// once: open and close a ring, queue a read or write with user data, submit, wait
// for and reap completions (marking them seen). Beside them, what Glibc's module does
// not give Swift: statx's direct-I/O alignment fields (newer than glibc 2.36's struct),
// the block-device size and sector ioctls (variadic ioctl, <linux/fs.h> numbers) and
// the O_DIRECT flag (behind _GNU_SOURCE). Failures return a negative errno or -1 with
// errno set, as each says; the Swift side turns that into a typed error in one place.
#ifndef CIOURING_H
#define CIOURING_H

#include <stdint.h>

/// liburing's ring; Swift holds it as an opaque pointer.
struct io_uring;

/// One completion: the user data its submission carried and the kernel's result
/// (bytes transferred, or a negative errno).
struct dpucert_uring_completion {
    uint64_t user_data;
    int32_t result;
};

/// Sets up a ring of `entries` submission slots (io_uring_setup), to be submitted to
/// and reaped by the calling thread only (completion work is deferred until it waits
/// for completions, where the kernel allows it). Returns NULL with
/// `*error` set to the positive errno (ENOSYS, EPERM, ENOMEM, EINVAL...) on failure.
struct io_uring *dpucert_uring_open(unsigned entries, int *error);

/// Tears the ring down and frees it.
void dpucert_uring_close(struct io_uring *ring);

/// Queues a read (`write` 0) or write (`write` 1) of `length` bytes at `offset` of
/// `fd` into or from `buffer`, tagged with `user_data`. Returns 0, or -EBUSY when every
/// submission slot is taken.
int dpucert_uring_queue(struct io_uring *ring, int write, int fd, void *buffer, unsigned length,
                        uint64_t offset, uint64_t user_data);

/// Submits what is queued and waits until at least `wait_for` completions are ready;
/// with 0, makes the completions that arrived visible without waiting. Returns the
/// number submitted or a negative errno.
int dpucert_uring_submit_and_wait(struct io_uring *ring, unsigned wait_for);

/// Copies up to `capacity` ready completions into `completions` and marks them seen,
/// without waiting. Returns how many were copied.
unsigned dpucert_uring_reap(struct io_uring *ring, struct dpucert_uring_completion *completions, unsigned capacity);

/// The alignment O_DIRECT needs on `fd`, from statx(STATX_DIOALIGN): memory and file
/// offset alignment in bytes. Returns 1 when the kernel reported them (both 0 then
/// means the file does not support direct I/O), 0 when it did not say (older kernels,
/// some file systems and block devices), or -1 with errno set.
int dpucert_direct_io_alignment(int fd, uint32_t *memory, uint32_t *offset);

/// O_DIRECT, which Glibc's module hides from Swift (it needs _GNU_SOURCE); its value
/// differs between architectures.
extern const int dpucert_open_direct;

/// A block device's size in bytes (BLKGETSIZE64) and logical sector size (BLKSSZGET).
/// Returns 0, or -1 with errno set (ENOTTY for anything that is not a block device).
int dpucert_block_device_geometry(int fd, uint64_t *size, uint32_t *logical_block_size);

#endif
