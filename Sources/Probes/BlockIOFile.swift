// Probes: the Linux side of block I/O, wrapped once: opening a file or block device for
// (direct) I/O with its size and the alignment it needs, aligned buffers, the monotonic
// clock, io_uring rings through CIOURing, and the offsets' random numbers.
import CIOURing
import Glibc
import Systems

/// An open file or block device, closed when the last user lets go of it: workers of a
/// run hold it, so a worker left waiting on a hung device keeps its descriptor valid.
final class BlockTarget: Sendable {
    let path: String
    let descriptor: Int32
    /// Bytes in the file, or in the device.
    let size: Int
    let isBlockDevice: Bool
    /// What offsets and lengths must be multiples of (1 without direct I/O).
    let alignment: Int
    /// What buffers are aligned to: at least a page, and at least `alignment`.
    let bufferAlignment: Int
    /// Where the alignment came from, for messages.
    let alignmentSource: String

    private init(path: String, descriptor: Int32, size: Int, isBlockDevice: Bool, alignment: Int, bufferAlignment: Int,
                 alignmentSource: String) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
        self.isBlockDevice = isBlockDevice
        self.alignment = alignment
        self.bufferAlignment = bufferAlignment
        self.alignmentSource = alignmentSource
    }

    deinit { _ = Glibc.close(descriptor) }

    /// The alignment assumed where the kernel does not report one: a page, which every
    /// device's logical block divides.
    static let assumedAlignment = 4096

    /// Opens `path` (never creating it) for reading or writing, with O_DIRECT when `direct`.
    static func open(_ path: String, writing: Bool, direct: Bool) throws(BlockIOError) -> BlockTarget {
        // Read-write for writing: the integrity check reads back through the descriptor it wrote with.
        var flags = (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC
        if direct { flags |= dpucert_open_direct }
        let descriptor: Int32
        do {
            descriptor = try SystemCall.check(direct ? "open with O_DIRECT" : "open", path) { Glibc.open(path, flags) }
        } catch {
            throw .system(error)
        }
        do {
            return try describe(path, descriptor: descriptor, direct: direct)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    private static func describe(_ path: String, descriptor: Int32, direct: Bool) throws(BlockIOError) -> BlockTarget {
        var status = stat()
        do {
            try SystemCall.check("fstat", path) { fstat(descriptor, &status) }
        } catch {
            throw .system(error)
        }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG || kind == S_IFBLK else {
            throw .invalidJob(path: path, reason: "not a regular file or block device")
        }
        let isBlockDevice = kind == S_IFBLK
        var size = Int(status.st_size)
        var sector = 0
        if isBlockDevice {
            var bytes: UInt64 = 0
            var logical: UInt32 = 0
            do {
                try SystemCall.check("block device size (BLKGETSIZE64)", path) {
                    dpucert_block_device_geometry(descriptor, &bytes, &logical)
                }
            } catch {
                throw .system(error)
            }
            size = Int(bytes)
            sector = Int(logical)
        }
        guard direct else {
            return BlockTarget(path: path, descriptor: descriptor, size: size, isBlockDevice: isBlockDevice, alignment: 1,
                               bufferAlignment: 4096, alignmentSource: "buffered I/O")
        }
        var memory: UInt32 = 0
        var offset: UInt32 = 0
        let reported = dpucert_direct_io_alignment(descriptor, &memory, &offset)
        let alignment: Int, source: String
        if reported == 1 {
            guard offset > 0 else {
                throw .invalidJob(path: path, reason: "the file system does not support direct I/O on this file (statx)")
            }
            (alignment, source) = (Int(offset), "statx direct-I/O alignment")
        } else if sector > 0 {
            (alignment, source) = (sector, "the device's logical block size")
        } else {
            (alignment, source) = (assumedAlignment, "assumed: the kernel did not report direct-I/O alignment")
        }
        return BlockTarget(path: path, descriptor: descriptor, size: size, isBlockDevice: isBlockDevice,
                           alignment: alignment, bufferAlignment: max(4096, alignment, Int(memory)), alignmentSource: source)
    }

    /// Refuses a block size or region offset direct I/O cannot use here.
    func checkAlignment(_ what: String, _ value: Int) throws(BlockIOError) {
        guard value % alignment == 0 else {
            throw .misaligned(path: path, what: what, value: value, alignment: alignment)
        }
    }

    /// fdatasync, or fsync where `metadata` is wanted too.
    func sync(metadata: Bool) throws(BlockIOError) {
        do {
            try SystemCall.check(metadata ? "fsync" : "fdatasync", path) {
                metadata ? fsync(descriptor) : fdatasync(descriptor)
            }
        } catch {
            throw .system(error)
        }
    }
}

/// Memory aligned for direct I/O, owned by one thread and freed with it.
final class AlignedBuffer {
    let bytes: UnsafeMutableRawPointer
    let count: Int

    init(count: Int, alignment: Int) throws(SystemCallError) {
        var memory: UnsafeMutableRawPointer?
        let code = posix_memalign(&memory, alignment, max(count, 1))
        guard code == 0, let memory else { throw SystemCallError("posix_memalign", subject: "\(count) bytes", code: code) }
        memset(memory, 0, count)
        bytes = memory
        self.count = count
    }

    deinit { free(bytes) }

    var raw: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: bytes, count: count) }
}

/// CLOCK_MONOTONIC in nanoseconds: what every per-operation time stamp is read from
/// (ContinuousClock on Linux counts suspended time too, and costs more).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// SplitMix64: small, fast, and good enough to spread offsets and fill buffers.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        return Self.mix(state)
    }

    /// A whole number in 0..<bound, without division (bound > 0).
    @inline(__always)
    mutating func next(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// The SplitMix64 finaliser: a well-mixed function of one word.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// An io_uring through CIOURing, used by the one thread that opened it.
final class IORing {
    private let ring: OpaquePointer

    /// Sets up a ring with `entries` submission slots.
    init(entries: Int) throws(SystemCallError) {
        var code: Int32 = 0
        guard let ring = dpucert_uring_open(UInt32(entries), &code) else {
            throw SystemCallError("io_uring_setup", subject: "\(entries) entries", code: code)
        }
        self.ring = ring
    }

    deinit { dpucert_uring_close(ring) }

    /// Queues one operation; false when every submission slot is taken.
    @inline(__always)
    func queue(write: Bool, descriptor: Int32, buffer: UnsafeMutableRawPointer, length: Int, offset: Int, tag: UInt64) -> Bool {
        dpucert_uring_queue(ring, write ? 1 : 0, descriptor, buffer, UInt32(length), UInt64(offset), tag) == 0
    }

    /// Submits what is queued and waits for at least `waitFor` completions.
    @inline(__always)
    func submitAndWait(_ waitFor: Int, subject: @autoclosure () -> String) throws(SystemCallError) {
        let result = dpucert_uring_submit_and_wait(ring, UInt32(waitFor))
        if result < 0 { throw SystemCallError("io_uring_enter", subject: subject(), code: -result) }
    }

    /// Copies the ready completions (at most `capacity`) and marks them seen.
    @inline(__always)
    func reap(into completions: UnsafeMutablePointer<dpucert_uring_completion>, capacity: Int) -> Int {
        Int(dpucert_uring_reap(ring, completions, UInt32(capacity)))
    }
}
