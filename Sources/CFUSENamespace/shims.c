// The emulated namespace's FUSE server: one regular file over a backing file, served by
// a pool of threads driving libfuse's low-level session, with the storage faults applied
// where a device would commit the data.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include "CFUSENamespace.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
    ROOT_INODE = FUSE_ROOT_ID,
    FILE_INODE = 2,
    // Enough to keep a queue depth of 32 busy when requests wait on the backing disk.
    WORKER_COUNT = 16,
    // The kernel's default (12) would cap how many asynchronous requests reach us at once.
    MAX_BACKGROUND = 64,
    // The write-back cache of lost-flush: 512 MiB of 4096-byte blocks.
    CACHE_BLOCK_LIMIT = 512 * 1024 * 1024 / DPUCERT_NAMESPACE_BLOCK_SIZE,
    CACHE_SLOTS = 2 * CACHE_BLOCK_LIMIT,
};

// Nothing changes the file's size or mode behind the kernel's back, so its attributes
// and the directory entry can be cached for as long as the mount lives.
static const double ATTRIBUTE_TIMEOUT = 86400.0;

static const uint64_t SLOW_MINIMUM_NANOSECONDS = 4000000;
static const uint64_t SLOW_BYTES_PER_SECOND = 8 * 1024 * 1024;

// The kernel's FUSE protocol (include/uapi/linux/fuse.h), for what libfuse 3.14 cannot
// express: the opcodes served in arrival order, and an open reply with
// FOPEN_PARALLEL_DIRECT_WRITES (kernel 6.2+, ignored by older ones), without which the
// kernel serialises every direct write to the file behind the inode lock.
enum {
    KERNEL_OPCODE_OPEN = 14,
    KERNEL_OPCODE_RELEASE = 18,
    KERNEL_FOPEN_DIRECT_IO = 1 << 0,
    KERNEL_FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6,
};
struct kernel_open_reply {
    uint64_t fh;
    uint32_t open_flags;
    int32_t backing_id;
};
struct kernel_request_header {
    uint32_t len;
    uint32_t opcode;
};

static const uint64_t EMPTY_SLOT = UINT64_MAX;

/// lost-flush's write-back cache: 4096-byte blocks by index, in an open-addressed table
/// that only ever grows until it is dropped whole.
struct write_back_cache {
    pthread_mutex_t lock;
    uint64_t *keys;
    unsigned char **blocks;
    size_t count;
};

struct namespace_server {
    int backing;
    uint64_t size;
    const char *file_name;
    int fault;
    int stop_channel;
    struct fuse_session *session;
    struct timespec created;
    uid_t owner;
    gid_t group;

    /// Held while a worker reads the next request, and while it serves an open or a
    /// release: those are served in the order the kernel queued them, so a release
    /// queued by close() is never overtaken by the open of the next open().
    pthread_mutex_t receive_lock;
    atomic_bool stopping;
    int failure;
    char failure_message[256];

    /// slow: held for the whole of every request.
    pthread_mutex_t slow_lock;

    pthread_mutex_t handles_lock;
    unsigned open_handles;

    struct write_back_cache cache;
};

static bool is_faulty_block(uint64_t block) {
    return block % DPUCERT_NAMESPACE_FAULTY_BLOCK_STRIDE == DPUCERT_NAMESPACE_FAULTY_BLOCK_REMAINDER;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

// MARK: the stop channel

static volatile sig_atomic_t signal_stop_channel = -1;

int dpucert_namespace_stop_channel(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int dpucert_namespace_request_stop(int stop_channel) {
    uint64_t one = 1;
    // A full counter (EAGAIN) is already a pending request.
    ssize_t written = write(stop_channel, &one, sizeof one);
    return written == (ssize_t)sizeof one || errno == EAGAIN ? 0 : -1;
}

static void stop_on_signal(int signal_number) {
    (void)signal_number;
    int saved = errno;
    if (signal_stop_channel >= 0) dpucert_namespace_request_stop(signal_stop_channel);
    errno = saved;
}

int dpucert_namespace_stop_on_signals(int stop_channel) {
    signal_stop_channel = stop_channel;
    struct sigaction action = {0};
    action.sa_handler = stop_on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    const int signals[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t index = 0; index < sizeof signals / sizeof signals[0]; index++) {
        if (sigaction(signals[index], &action, NULL) != 0) return -1;
    }
    struct sigaction ignore = {0};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    return sigaction(SIGPIPE, &ignore, NULL);
}

// MARK: the backing file

/// Reads `count` bytes at `offset`; what lies beyond the backing's end reads as zeros.
static int read_backing(struct namespace_server *server, unsigned char *buffer, size_t count, uint64_t offset) {
    size_t done = 0;
    while (done < count) {
        ssize_t result = pread(server->backing, buffer + done, count - done, (off_t)(offset + done));
        if (result < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (result == 0) {
            memset(buffer + done, 0, count - done);
            break;
        }
        done += (size_t)result;
    }
    return 0;
}

static int write_backing(struct namespace_server *server, const unsigned char *buffer, size_t count,
                         uint64_t offset) {
    size_t done = 0;
    while (done < count) {
        ssize_t result = pwrite(server->backing, buffer + done, count - done, (off_t)(offset + done));
        if (result < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (result == 0) return EIO;
        done += (size_t)result;
    }
    return 0;
}

// MARK: per-thread scratch

static __thread unsigned char *scratch;
static __thread size_t scratch_size;

/// A buffer of at least `size` bytes owned by the calling worker, or NULL.
static unsigned char *scratch_buffer(size_t size) {
    if (size <= scratch_size) return scratch;
    unsigned char *grown = realloc(scratch, size);
    if (!grown) return NULL;
    scratch = grown;
    scratch_size = size;
    return scratch;
}

static void scratch_release(void) {
    free(scratch);
    scratch = NULL;
    scratch_size = 0;
}

// MARK: faults on the write path

/// corruption: the written bytes, with bit 0 of byte 100 of every faulty block the
/// write covers flipped on the way to the backing.
static int write_corrupting(struct namespace_server *server, const unsigned char *data, size_t count,
                            uint64_t offset) {
    uint64_t end = offset + count;
    unsigned char *copy = NULL;
    for (uint64_t block = offset / DPUCERT_NAMESPACE_BLOCK_SIZE; block * DPUCERT_NAMESPACE_BLOCK_SIZE < end; block++) {
        uint64_t target = block * DPUCERT_NAMESPACE_BLOCK_SIZE + DPUCERT_NAMESPACE_CORRUPTED_BYTE;
        if (!is_faulty_block(block) || target < offset || target >= end) continue;
        if (!copy) {
            copy = scratch_buffer(count);
            if (!copy) return ENOMEM;
            memcpy(copy, data, count);
        }
        copy[target - offset] ^= 0x01;
    }
    return write_backing(server, copy ? copy : data, count, offset);
}

/// misdirected-write: the write in 4096-byte pieces (split on block boundaries); a piece
/// for a faulty block goes to the same place in the block before it, else (block 0)
/// where it was meant to go. The block before is the one a sequential writer has already
/// written, so the misplaced data stays there to be found, as a misdirected write on a
/// real device would leave it.
static int write_misdirected(struct namespace_server *server, const unsigned char *data, size_t count,
                             uint64_t offset) {
    uint64_t end = offset + count;
    uint64_t position = offset;
    while (position < end) {
        uint64_t block = position / DPUCERT_NAMESPACE_BLOCK_SIZE;
        uint64_t piece_end = min_u64((block + 1) * DPUCERT_NAMESPACE_BLOCK_SIZE, end);
        uint64_t length = piece_end - position;
        uint64_t target = position;
        if (is_faulty_block(block) && block > 0) target = position - DPUCERT_NAMESPACE_BLOCK_SIZE;
        if (length > 0) {
            int error = write_backing(server, data + (position - offset), (size_t)length, target);
            if (error) return error;
        }
        position = piece_end;
    }
    return 0;
}

// MARK: lost-flush's write-back cache

static size_t cache_slot(const struct write_back_cache *cache, uint64_t block) {
    // Fibonacci hashing spreads sequential block numbers over the table.
    size_t slot = (size_t)((block * 0x9E3779B97F4A7C15ull) >> 32) & (CACHE_SLOTS - 1);
    while (cache->keys[slot] != EMPTY_SLOT && cache->keys[slot] != block) slot = (slot + 1) & (CACHE_SLOTS - 1);
    return slot;
}

static unsigned char *cache_find(const struct write_back_cache *cache, uint64_t block) {
    if (!cache->keys) return NULL;
    size_t slot = cache_slot(cache, block);
    return cache->keys[slot] == block ? cache->blocks[slot] : NULL;
}

/// Drops every cached block: what was never written back is gone.
static void cache_discard(struct write_back_cache *cache) {
    pthread_mutex_lock(&cache->lock);
    if (cache->keys) {
        for (size_t slot = 0; slot < CACHE_SLOTS; slot++) free(cache->blocks[slot]);
        free(cache->keys);
        free(cache->blocks);
        cache->keys = NULL;
        cache->blocks = NULL;
    }
    cache->count = 0;
    pthread_mutex_unlock(&cache->lock);
}

/// Stores a write in the cache, block by block (a block not yet cached is read from the
/// backing first, so partial writes merge). A write that would take the cache past its
/// bound fails whole with EIO, as a device out of cache would fail it.
static int cache_write(struct namespace_server *server, const unsigned char *data, size_t count, uint64_t offset) {
    struct write_back_cache *cache = &server->cache;
    uint64_t first = offset / DPUCERT_NAMESPACE_BLOCK_SIZE;
    uint64_t last = (offset + count - 1) / DPUCERT_NAMESPACE_BLOCK_SIZE;
    int error = 0;
    pthread_mutex_lock(&cache->lock);
    if (!cache->keys) {
        cache->keys = malloc(CACHE_SLOTS * sizeof *cache->keys);
        cache->blocks = calloc(CACHE_SLOTS, sizeof *cache->blocks);
        if (!cache->keys || !cache->blocks) {
            free(cache->keys);
            free(cache->blocks);
            cache->keys = NULL;
            cache->blocks = NULL;
            error = ENOMEM;
            goto done;
        }
        memset(cache->keys, 0xff, CACHE_SLOTS * sizeof *cache->keys);
    }
    size_t missing = 0;
    for (uint64_t block = first; block <= last; block++) {
        if (!cache_find(cache, block)) missing++;
    }
    if (cache->count + missing > CACHE_BLOCK_LIMIT) {
        error = EIO;
        goto done;
    }
    for (uint64_t block = first; block <= last; block++) {
        size_t slot = cache_slot(cache, block);
        if (cache->keys[slot] != block) {
            unsigned char *fresh = malloc(DPUCERT_NAMESPACE_BLOCK_SIZE);
            if (!fresh) {
                error = ENOMEM;
                goto done;
            }
            error = read_backing(server, fresh, DPUCERT_NAMESPACE_BLOCK_SIZE, block * DPUCERT_NAMESPACE_BLOCK_SIZE);
            if (error) {
                free(fresh);
                goto done;
            }
            cache->keys[slot] = block;
            cache->blocks[slot] = fresh;
            cache->count++;
        }
        uint64_t block_start = block * DPUCERT_NAMESPACE_BLOCK_SIZE;
        uint64_t from = offset > block_start ? offset : block_start;
        uint64_t to = min_u64(offset + count, block_start + DPUCERT_NAMESPACE_BLOCK_SIZE);
        memcpy(cache->blocks[slot] + (from - block_start), data + (from - offset), (size_t)(to - from));
    }
done:
    pthread_mutex_unlock(&cache->lock);
    return error;
}

/// Reads from the backing, then lays the cached blocks over it.
static int cache_read(struct namespace_server *server, unsigned char *buffer, size_t count, uint64_t offset) {
    int error = read_backing(server, buffer, count, offset);
    if (error) return error;
    struct write_back_cache *cache = &server->cache;
    pthread_mutex_lock(&cache->lock);
    if (cache->keys) {
        uint64_t last = (offset + count - 1) / DPUCERT_NAMESPACE_BLOCK_SIZE;
        for (uint64_t block = offset / DPUCERT_NAMESPACE_BLOCK_SIZE; block <= last; block++) {
            const unsigned char *cached = cache_find(cache, block);
            if (!cached) continue;
            uint64_t block_start = block * DPUCERT_NAMESPACE_BLOCK_SIZE;
            uint64_t from = offset > block_start ? offset : block_start;
            uint64_t to = min_u64(offset + count, block_start + DPUCERT_NAMESPACE_BLOCK_SIZE);
            memcpy(buffer + (from - offset), cached + (from - block_start), (size_t)(to - from));
        }
    }
    pthread_mutex_unlock(&cache->lock);
    return 0;
}

// MARK: pacing (slow)

/// A request's place in the slow fault's single file: taken before it is served, given
/// up once its time (4 ms, or its bytes at 8 MiB/s, whichever is longer) has passed.
struct request_pace {
    bool serialised;
    struct timespec start;
};

static struct request_pace pace_begin(struct namespace_server *server) {
    struct request_pace pace = {.serialised = server->fault == DPUCERT_NAMESPACE_FAULT_SLOW};
    if (pace.serialised) {
        pthread_mutex_lock(&server->slow_lock);
        clock_gettime(CLOCK_MONOTONIC, &pace.start);
    }
    return pace;
}

static void pace_end(struct namespace_server *server, const struct request_pace *pace, size_t bytes) {
    if (!pace->serialised) return;
    uint64_t nanoseconds = (uint64_t)bytes * 1000000000ull / SLOW_BYTES_PER_SECOND;
    if (nanoseconds < SLOW_MINIMUM_NANOSECONDS) nanoseconds = SLOW_MINIMUM_NANOSECONDS;
    uint64_t deadline_total = (uint64_t)pace->start.tv_nsec + nanoseconds;
    struct timespec deadline = {
        .tv_sec = pace->start.tv_sec + (time_t)(deadline_total / 1000000000ull),
        .tv_nsec = (long)(deadline_total % 1000000000ull),
    };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {}
    pthread_mutex_unlock(&server->slow_lock);
}

// MARK: attributes and the directory

static int fill_attributes(const struct namespace_server *server, fuse_ino_t inode, struct stat *attributes) {
    memset(attributes, 0, sizeof *attributes);
    attributes->st_ino = inode;
    attributes->st_uid = server->owner;
    attributes->st_gid = server->group;
    attributes->st_atim = server->created;
    attributes->st_mtim = server->created;
    attributes->st_ctim = server->created;
    attributes->st_blksize = DPUCERT_NAMESPACE_BLOCK_SIZE;
    if (inode == ROOT_INODE) {
        attributes->st_mode = S_IFDIR | 0755;
        attributes->st_nlink = 2;
        return 0;
    }
    if (inode == FILE_INODE) {
        attributes->st_mode = S_IFREG | 0600;
        attributes->st_nlink = 1;
        attributes->st_size = (off_t)server->size;
        attributes->st_blocks = (blkcnt_t)((server->size + 511) / 512);
        return 0;
    }
    return ENOENT;
}

static void namespace_init(void *userdata, struct fuse_conn_info *connection) {
    (void)userdata;
    connection->max_background = MAX_BACKGROUND;
    connection->congestion_threshold = MAX_BACKGROUND * 3 / 4;
}

static void namespace_lookup(fuse_req_t request, fuse_ino_t parent, const char *name) {
    struct namespace_server *server = fuse_req_userdata(request);
    struct request_pace pace = pace_begin(server);
    struct fuse_entry_param entry = {0};
    int error = ENOENT;
    if (parent == ROOT_INODE && strcmp(name, server->file_name) == 0) {
        entry.ino = FILE_INODE;
        entry.generation = 1;
        entry.attr_timeout = ATTRIBUTE_TIMEOUT;
        entry.entry_timeout = ATTRIBUTE_TIMEOUT;
        error = fill_attributes(server, FILE_INODE, &entry.attr);
    }
    pace_end(server, &pace, 0);
    if (error) fuse_reply_err(request, error);
    else fuse_reply_entry(request, &entry);
}

static void namespace_getattr(fuse_req_t request, fuse_ino_t inode, struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    struct request_pace pace = pace_begin(server);
    struct stat attributes;
    int error = fill_attributes(server, inode, &attributes);
    pace_end(server, &pace, 0);
    if (error) fuse_reply_err(request, error);
    else fuse_reply_attr(request, &attributes, ATTRIBUTE_TIMEOUT);
}

/// A namespace's size is fixed (truncate on a block device fails with EINVAL) and its
/// owner and mode are the server's; time stamps are accepted and not kept.
static void namespace_setattr(fuse_req_t request, fuse_ino_t inode, struct stat *wanted, int fields,
                              struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    struct request_pace pace = pace_begin(server);
    struct stat attributes;
    int error = fill_attributes(server, inode, &attributes);
    if (!error && (fields & FUSE_SET_ATTR_SIZE) && (uint64_t)wanted->st_size != server->size) error = EINVAL;
    if (!error && (fields & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) error = EPERM;
    pace_end(server, &pace, 0);
    if (error) fuse_reply_err(request, error);
    else fuse_reply_attr(request, &attributes, ATTRIBUTE_TIMEOUT);
}

static void namespace_opendir(fuse_req_t request, fuse_ino_t inode, struct fuse_file_info *file) {
    if (inode != ROOT_INODE) fuse_reply_err(request, ENOTDIR);
    else fuse_reply_open(request, file);
}

static void namespace_readdir(fuse_req_t request, fuse_ino_t inode, size_t size, off_t offset,
                              struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    if (inode != ROOT_INODE) {
        fuse_reply_err(request, ENOTDIR);
        return;
    }
    const char *names[] = {".", "..", server->file_name};
    const fuse_ino_t inodes[] = {ROOT_INODE, ROOT_INODE, FILE_INODE};
    char *buffer = malloc(size);
    if (!buffer) {
        fuse_reply_err(request, ENOMEM);
        return;
    }
    size_t used = 0;
    for (off_t index = offset; index >= 0 && index < 3; index++) {
        struct stat entry = {.st_ino = inodes[index], .st_mode = index < 2 ? S_IFDIR : S_IFREG};
        size_t needed = fuse_add_direntry(request, buffer + used, size - used, names[index], &entry, index + 1);
        if (needed > size - used) break;
        used += needed;
    }
    fuse_reply_buf(request, buffer, used);
    free(buffer);
}

static void namespace_open(fuse_req_t request, fuse_ino_t inode, struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    if (inode != FILE_INODE) {
        fuse_reply_err(request, inode == ROOT_INODE ? EISDIR : ENOENT);
        return;
    }
    struct request_pace pace = pace_begin(server);
    pthread_mutex_lock(&server->handles_lock);
    server->open_handles++;
    pthread_mutex_unlock(&server->handles_lock);
    pace_end(server, &pace, 0);

    struct kernel_open_reply reply = {
        .fh = 0,
        .open_flags = KERNEL_FOPEN_DIRECT_IO | KERNEL_FOPEN_PARALLEL_DIRECT_WRITES,
    };
    struct iovec payload = {.iov_base = &reply, .iov_len = sizeof reply};
    if (fuse_reply_iov(request, &payload, 1) != 0) {
        // The open was interrupted: the kernel will send no release for it.
        pthread_mutex_lock(&server->handles_lock);
        bool last = --server->open_handles == 0;
        pthread_mutex_unlock(&server->handles_lock);
        if (last && server->fault == DPUCERT_NAMESPACE_FAULT_LOST_FLUSH) cache_discard(&server->cache);
    }
}

static void namespace_release(fuse_req_t request, fuse_ino_t inode, struct fuse_file_info *file) {
    (void)inode;
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    struct request_pace pace = pace_begin(server);
    pthread_mutex_lock(&server->handles_lock);
    bool last = server->open_handles > 0 && --server->open_handles == 0;
    pthread_mutex_unlock(&server->handles_lock);
    if (last && server->fault == DPUCERT_NAMESPACE_FAULT_LOST_FLUSH) cache_discard(&server->cache);
    pace_end(server, &pace, 0);
    fuse_reply_err(request, 0);
}

static void namespace_read(fuse_req_t request, fuse_ino_t inode, size_t size, off_t offset,
                           struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    if (inode != FILE_INODE) {
        fuse_reply_err(request, EISDIR);
        return;
    }
    struct request_pace pace = pace_begin(server);
    uint64_t start = (uint64_t)offset;
    // Past the end reads nothing; a read across it is short, as on a device.
    size_t count = start >= server->size ? 0 : (size_t)min_u64(size, server->size - start);
    unsigned char *buffer = count ? scratch_buffer(count) : NULL;
    int error = count && !buffer ? ENOMEM : 0;
    if (!error && count) {
        error = server->fault == DPUCERT_NAMESPACE_FAULT_LOST_FLUSH ? cache_read(server, buffer, count, start)
                                                                    : read_backing(server, buffer, count, start);
    }
    pace_end(server, &pace, count);
    if (error) fuse_reply_err(request, error);
    else fuse_reply_buf(request, (const char *)buffer, count);
}

static void namespace_write(fuse_req_t request, fuse_ino_t inode, const char *data, size_t size, off_t offset,
                            struct fuse_file_info *file) {
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    if (inode != FILE_INODE) {
        fuse_reply_err(request, EISDIR);
        return;
    }
    struct request_pace pace = pace_begin(server);
    uint64_t start = (uint64_t)offset;
    // The namespace cannot grow: a write from its end on has no space, one across it is short.
    size_t count = start >= server->size ? 0 : (size_t)min_u64(size, server->size - start);
    const unsigned char *bytes = (const unsigned char *)data;
    int error = 0;
    if (size > 0 && count == 0) {
        error = ENOSPC;
    } else if (count > 0) {
        switch (server->fault) {
        case DPUCERT_NAMESPACE_FAULT_CORRUPTION: error = write_corrupting(server, bytes, count, start); break;
        case DPUCERT_NAMESPACE_FAULT_MISDIRECTED_WRITE: error = write_misdirected(server, bytes, count, start); break;
        case DPUCERT_NAMESPACE_FAULT_LOST_FLUSH: error = cache_write(server, bytes, count, start); break;
        default: error = write_backing(server, bytes, count, start); break;
        }
    }
    pace_end(server, &pace, count);
    if (error) fuse_reply_err(request, error);
    else fuse_reply_write(request, count);
}

/// flush (every close) and fsync: the backing's data is made durable, except under
/// lost-flush, which answers success and writes nothing.
static int make_durable(struct namespace_server *server) {
    if (server->fault == DPUCERT_NAMESPACE_FAULT_LOST_FLUSH) return 0;
    while (fdatasync(server->backing) != 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

static void namespace_flush(fuse_req_t request, fuse_ino_t inode, struct fuse_file_info *file) {
    (void)inode;
    (void)file;
    struct namespace_server *server = fuse_req_userdata(request);
    struct request_pace pace = pace_begin(server);
    int error = make_durable(server);
    pace_end(server, &pace, 0);
    fuse_reply_err(request, error);
}

static void namespace_fsync(fuse_req_t request, fuse_ino_t inode, int datasync, struct fuse_file_info *file) {
    (void)datasync;
    namespace_flush(request, inode, file);
}

static const struct fuse_lowlevel_ops namespace_operations = {
    .init = namespace_init,
    .lookup = namespace_lookup,
    .getattr = namespace_getattr,
    .setattr = namespace_setattr,
    .opendir = namespace_opendir,
    .readdir = namespace_readdir,
    .open = namespace_open,
    .release = namespace_release,
    .read = namespace_read,
    .write = namespace_write,
    .flush = namespace_flush,
    .fsync = namespace_fsync,
};

// MARK: the worker pool

static void record_failure(struct namespace_server *server, int code, const char *message) {
    if (!server->failure) {
        server->failure = code;
        snprintf(server->failure_message, sizeof server->failure_message, "%s: %s", message, strerror(code));
    }
    atomic_store(&server->stopping, true);
    dpucert_namespace_request_stop(server->stop_channel);
}

/// Whether a request must be served in the order the kernel queued it (see receive_lock).
static bool served_in_order(const struct fuse_buf *buffer) {
    if ((buffer->flags & FUSE_BUF_IS_FD) || buffer->size < sizeof(struct kernel_request_header)) return false;
    struct kernel_request_header header;
    memcpy(&header, buffer->mem, sizeof header);
    return header.opcode == KERNEL_OPCODE_OPEN || header.opcode == KERNEL_OPCODE_RELEASE;
}

/// One worker: takes the receive lock, waits for a request or the stop channel, reads
/// the request, and serves it (after giving up the lock, unless it is an open or release).
static void *namespace_worker(void *argument) {
    struct namespace_server *server = argument;
    struct fuse_buf buffer = {.mem = NULL};
    int device = fuse_session_fd(server->session);
    for (;;) {
        pthread_mutex_lock(&server->receive_lock);
        int received = 0;
        while (!atomic_load(&server->stopping)) {
            struct pollfd watched[2] = {
                {.fd = device, .events = POLLIN},
                {.fd = server->stop_channel, .events = POLLIN},
            };
            if (poll(watched, 2, -1) < 0) {
                if (errno == EINTR) continue;
                record_failure(server, errno, "poll on /dev/fuse");
                break;
            }
            if (watched[1].revents) {
                atomic_store(&server->stopping, true);
                break;
            }
            received = fuse_session_receive_buf(server->session, &buffer);
            // The device is non-blocking: a request withdrawn (interrupted) before it
            // was read leaves nothing to read.
            if (received == -EAGAIN || received == -EINTR) continue;
            if (received == 0) {
                // ENODEV: unmounted from outside, or the connection was aborted.
                atomic_store(&server->stopping, true);
            } else if (received < 0) {
                record_failure(server, -received, "reading /dev/fuse");
            }
            break;
        }
        if (atomic_load(&server->stopping) || received <= 0) {
            pthread_mutex_unlock(&server->receive_lock);
            break;
        }
        if (served_in_order(&buffer)) {
            fuse_session_process_buf(server->session, &buffer);
            pthread_mutex_unlock(&server->receive_lock);
        } else {
            pthread_mutex_unlock(&server->receive_lock);
            fuse_session_process_buf(server->session, &buffer);
        }
    }
    free(buffer.mem);
    scratch_release();
    return NULL;
}

// MARK: serving

static int fail(char *error, size_t error_len, int code, const char *format, const char *subject) {
    char what[256];
    snprintf(what, sizeof what, format, subject);
    snprintf(error, error_len, "%s: %s", what, strerror(code));
    return code;
}

int dpucert_namespace_serve(const char *backing, const char *mount_point, const char *file_name, int fault,
                            int stop_channel, char *error, size_t error_len) {
    if (error_len) error[0] = 0;
    if (fault < DPUCERT_NAMESPACE_FAULT_NONE || fault > DPUCERT_NAMESPACE_FAULT_LOST_FLUSH) {
        return fail(error, error_len, EINVAL, "unknown fault %s", "mode");
    }
    size_t name_length = strlen(file_name);
    if (name_length == 0 || name_length > 255 || strchr(file_name, '/') || strcmp(file_name, ".") == 0
        || strcmp(file_name, "..") == 0) {
        return fail(error, error_len, EINVAL, "file name '%s' is not a single path component", file_name);
    }

    struct namespace_server server = {
        .file_name = file_name,
        .fault = fault,
        .stop_channel = stop_channel,
        .owner = getuid(),
        .group = getgid(),
    };
    clock_gettime(CLOCK_REALTIME, &server.created);
    pthread_mutex_init(&server.receive_lock, NULL);
    pthread_mutex_init(&server.slow_lock, NULL);
    pthread_mutex_init(&server.handles_lock, NULL);
    pthread_mutex_init(&server.cache.lock, NULL);
    atomic_init(&server.stopping, false);

    int code = 0;
    server.backing = open(backing, O_RDWR | O_CLOEXEC);
    if (server.backing < 0) {
        code = fail(error, error_len, errno, "open %s", backing);
        goto destroy_locks;
    }
    struct stat backing_attributes;
    if (fstat(server.backing, &backing_attributes) != 0) {
        code = fail(error, error_len, errno, "stat %s", backing);
        goto close_backing;
    }
    if (!S_ISREG(backing_attributes.st_mode) || backing_attributes.st_size <= 0) {
        code = fail(error, error_len, EINVAL, "%s is not a regular file with data", backing);
        goto close_backing;
    }
    server.size = (uint64_t)backing_attributes.st_size;

    // Only root mounts (no fusermount) and only root uses the file; the kernel checks
    // permissions against the attributes served here.
    char *arguments[] = {"dpucert-namespace", "-o", "default_permissions,fsname=dpucert-namespace", NULL};
    struct fuse_args parsed = FUSE_ARGS_INIT(3, arguments);
    server.session = fuse_session_new(&parsed, &namespace_operations, sizeof namespace_operations, &server);
    fuse_opt_free_args(&parsed);
    if (!server.session) {
        code = fail(error, error_len, EINVAL, "fuse_session_new for %s refused its options", mount_point);
        goto close_backing;
    }
    errno = 0;
    if (fuse_session_mount(server.session, mount_point) != 0) {
        code = fail(error, error_len, errno ? errno : EIO, "mounting FUSE at %s", mount_point);
        goto destroy_session;
    }
    int device = fuse_session_fd(server.session);
    int device_flags = fcntl(device, F_GETFL);
    if (device_flags < 0 || fcntl(device, F_SETFL, device_flags | O_NONBLOCK) != 0) {
        code = fail(error, error_len, errno, "making /dev/fuse of %s non-blocking", mount_point);
        goto unmount;
    }

    pthread_t workers[WORKER_COUNT];
    size_t started = 0;
    for (; started < WORKER_COUNT; started++) {
        int result = pthread_create(&workers[started], NULL, namespace_worker, &server);
        if (result != 0) {
            record_failure(&server, result, "starting a worker thread");
            break;
        }
    }
    for (size_t index = 0; index < started; index++) pthread_join(workers[index], NULL);
    if (server.failure) {
        code = server.failure;
        snprintf(error, error_len, "%s (serving %s)", server.failure_message, mount_point);
    }

unmount:
    // Closes /dev/fuse (a client still inside the file gets ENOTCONN) and detaches the mount.
    fuse_session_unmount(server.session);
destroy_session:
    fuse_session_destroy(server.session);
close_backing:
    close(server.backing);
destroy_locks:
    cache_discard(&server.cache);
    pthread_mutex_destroy(&server.cache.lock);
    pthread_mutex_destroy(&server.handles_lock);
    pthread_mutex_destroy(&server.slow_lock);
    pthread_mutex_destroy(&server.receive_lock);
    return code;
}
