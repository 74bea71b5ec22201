// CFUSENamespace: the FUSE server behind an emulated NVMe namespace.
//
// One regular file, backed by a file on disk, served through libfuse's low-level API
// by a pool of threads: every open replies direct_io (with parallel direct writes), so
// O_DIRECT I/O from a client reaches the server unbuffered, request by request, and a
// storage fault is injected where a device would commit it. The server stops when its
// stop channel (an eventfd) becomes readable: written by another thread or, once
// `dpucert_namespace_stop_on_signals` is called, by SIGTERM, SIGINT or SIGHUP.
// Failures return a positive errno and a message; Swift turns them into a typed error.
#ifndef CFUSENAMESPACE_H
#define CFUSENAMESPACE_H

#include <stddef.h>

/// What the backing does wrong, one at a time. Blocks are 4096 bytes; a "faulty block"
/// is one whose index B (offset / 4096) has B % 61 == 7.
enum dpucert_namespace_fault {
    /// Plain pass-through.
    DPUCERT_NAMESPACE_FAULT_NONE = 0,
    /// A write covering byte 100 of a faulty block stores that byte with bit 0 flipped.
    DPUCERT_NAMESPACE_FAULT_CORRUPTION = 1,
    /// What is written to a faulty block lands in the next block (when that block is in
    /// the file); the faulty block keeps what it had.
    DPUCERT_NAMESPACE_FAULT_MISDIRECTED_WRITE = 2,
    /// Requests are served one at a time, each taking at least 4 ms, at most 8 MiB/s.
    DPUCERT_NAMESPACE_FAULT_SLOW = 3,
    /// Writes stay in a write-back cache that flush and fsync never write out; the
    /// cache is dropped when the file's last open handle is released.
    DPUCERT_NAMESPACE_FAULT_LOST_FLUSH = 4,
};

/// The size of the blocks faults are decided on, and the rule that picks them.
enum {
    DPUCERT_NAMESPACE_BLOCK_SIZE = 4096,
    DPUCERT_NAMESPACE_FAULTY_BLOCK_STRIDE = 61,
    DPUCERT_NAMESPACE_FAULTY_BLOCK_REMAINDER = 7,
    /// The byte of a faulty block the corruption fault flips bit 0 of.
    DPUCERT_NAMESPACE_CORRUPTED_BYTE = 100,
};

/// A new stop channel (an eventfd, close-on-exec), or -1 with errno set.
int dpucert_namespace_stop_channel(void);

/// Asks the server watching `stop_channel` to stop; safe from any thread and from a
/// signal handler. Returns 0, or -1 with errno set.
int dpucert_namespace_request_stop(int stop_channel);

/// Makes SIGTERM, SIGINT and SIGHUP request a stop on `stop_channel` instead of ending
/// the process, and ignores SIGPIPE. Returns 0, or -1 with errno set.
int dpucert_namespace_stop_on_signals(int stop_channel);

/// Mounts a FUSE file system at `mount_point` (an existing directory) holding one
/// regular file, `file_name`, whose contents and size are those of `backing`, and serves
/// it with `fault` until `stop_channel` becomes readable or the file system is unmounted
/// from outside; then unmounts it. Returns 0, or a positive errno with `error` filled.
int dpucert_namespace_serve(const char *backing, const char *mount_point, const char *file_name, int fault,
                            int stop_channel, char *error, size_t error_len);

#endif
