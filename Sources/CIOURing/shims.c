#define _GNU_SOURCE
#include "CIOURing.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct io_uring *dpucert_uring_open(unsigned entries, int *error) {
    struct io_uring *ring = calloc(1, sizeof *ring);
    if (!ring) {
        *error = ENOMEM;
        return NULL;
    }
    // Completions are reaped only by the thread that submits, and only when it enters
    // the kernel to wait: COOP_TASKRUN spares it an interrupt per completion, and
    // DEFER_TASKRUN (with SINGLE_ISSUER) runs completion work when it waits, as fio
    // sets its rings up. Kernels older than 6.1 (or 5.19) refuse the flags: retry
    // without them.
    static const unsigned flag_sets[] = {
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int result = -EINVAL;
    for (size_t index = 0; index < sizeof flag_sets / sizeof flag_sets[0] && result == -EINVAL; index++) {
        struct io_uring_params params = {0};
        params.flags = flag_sets[index];
        result = io_uring_queue_init_params(entries, ring, &params);
    }
    if (result < 0) {
        free(ring);
        *error = -result;
        return NULL;
    }
    return ring;
}

void dpucert_uring_close(struct io_uring *ring) {
    io_uring_queue_exit(ring);
    free(ring);
}

int dpucert_uring_queue(struct io_uring *ring, int write, int fd, void *buffer, unsigned length,
                        uint64_t offset, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe)
        return -EBUSY;
    if (write)
        io_uring_prep_write(sqe, fd, buffer, length, offset);
    else
        io_uring_prep_read(sqe, fd, buffer, length, offset);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int dpucert_uring_submit_and_wait(struct io_uring *ring, unsigned wait_for) {
    int result;
    // A signal may interrupt the wait after the submission went through; waiting
    // again submits nothing new and only waits.
    do {
        // Without a wait, still enter with GETEVENTS: deferred completion work runs
        // only when the kernel is entered for events.
        result = wait_for == 0 ? io_uring_submit_and_get_events(ring) : io_uring_submit_and_wait(ring, wait_for);
    } while (result == -EINTR);
    return result;
}

unsigned dpucert_uring_reap(struct io_uring *ring, struct dpucert_uring_completion *completions, unsigned capacity) {
    struct io_uring_cqe *cqe;
    unsigned head, count = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (count == capacity)
            break;
        completions[count].user_data = io_uring_cqe_get_data64(cqe);
        completions[count].result = cqe->res;
        count++;
    }
    io_uring_cq_advance(ring, count);
    return count;
}

int dpucert_direct_io_alignment(int fd, uint32_t *memory, uint32_t *offset) {
    struct statx status = {0};
    // The raw system call: glibc's struct statx predates the direct-I/O fields.
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &status) != 0)
        return -1;
    *memory = status.stx_dio_mem_align;
    *offset = status.stx_dio_offset_align;
    return (status.stx_mask & STATX_DIOALIGN) ? 1 : 0;
}

const int dpucert_open_direct = O_DIRECT;

int dpucert_block_device_geometry(int fd, uint64_t *size, uint32_t *logical_block_size) {
    uint64_t bytes = 0;
    int sector = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ioctl(fd, BLKSSZGET, &sector) != 0)
        return -1;
    *size = bytes;
    *logical_block_size = (uint32_t)sector;
    return 0;
}
