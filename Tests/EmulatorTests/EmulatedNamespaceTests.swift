// The emulated namespace through the kernel: the built `dpucert` serves it over FUSE and
// each test reads and writes it with O_DIRECT, as the storage suite does, one fault at a
// time, checking what lands on the namespace and in its backing file.
import Emulator
import Foundation
import TestGates
import Testing

@Suite("Emulated namespace", .serialized)
struct EmulatedNamespaceTests {
    @Test("The fault table names each fault once and says which checks it breaks")
    func faultTable() throws {
        #expect(StorageFault.allCases.map(\.name)
            == ["storage-corruption", "storage-misdirected-write", "storage-slow", "storage-lost-flush",
                "storage-namespace-missing"])
        #expect(StorageFault.corruption.breaks == ["storage.integrity"])
        #expect(StorageFault.misdirectedWrite.breaks == ["storage.integrity"])
        #expect(StorageFault.slow.breaks == ["storage.seq-read", "storage.seq-write", "storage.rand-read", "storage.rand-write"])
        #expect(StorageFault.lostFlush.breaks == ["storage.flush"])
        #expect(StorageFault.allCases.allSatisfy { !$0.summary.isEmpty && !$0.summary.contains("\n") })
        #expect(try StorageFault(name: "storage-slow") == .slow)
        #expect(throws: EmulatedNamespaceError.self) { try StorageFault(name: "storage-nope") }
        #expect((0..<130).filter { StorageFault.hits(block: $0) } == [7, 68, 129])
    }

    @Test("Without a fault, data round-trips and survives close and reopen", .servesNamespace)
    func passThrough() throws {
        let served = try ServedNamespace(fault: nil)
        defer { served.stop() }
        let blocks: [UInt64] = [0, 6, 7, 8, 68, 16383]
        do {
            let file = try DirectFile(served.namespace.path)
            for block in blocks { try file.write(pattern(block), block: block) }
            // One 64 KiB request across blocks 100..115.
            let wide = (100..<116).flatMap { pattern(UInt64($0)) }
            try file.write(wide, at: 100 * 4096)
            for block in blocks { #expect(try file.read(block: block) == pattern(block)) }
            try file.sync()
        }
        let reopened = try DirectFile(served.namespace.path)
        for block in blocks { #expect(try reopened.read(block: block) == pattern(block)) }
        #expect(try reopened.read(at: 100 * 4096, count: 16 * 4096) == (100..<116).flatMap { pattern(UInt64($0)) })
        // The server wrote through to the backing file.
        #expect(try backingBlock(served.namespace.backing, 68) == pattern(68))
    }

    @Test("Unaligned, partial and out-of-range requests behave as on a device", .servesNamespace)
    func unalignedRequests() throws {
        let served = try ServedNamespace(fault: nil)
        defer { served.stop() }
        let descriptor = open(served.namespace.path, O_RDWR | O_CLOEXEC)
        try #require(descriptor >= 0, "open: \(String(cString: strerror(errno)))")
        defer { close(descriptor) }
        let size = 64 * 1024 * 1024
        let text = Array("unaligned write".utf8)
        #expect(pwrite(descriptor, text, text.count, 12345) == text.count)
        var back = [UInt8](repeating: 0xff, count: text.count + 2)
        #expect(pread(descriptor, &back, back.count, 12344) == back.count)
        #expect(back == [0] + text + [0])
        // A read across the end is short; from the end, empty.
        var tail = [UInt8](repeating: 0, count: 100)
        #expect(pread(descriptor, &tail, tail.count, off_t(size - 10)) == 10)
        #expect(pread(descriptor, &tail, tail.count, off_t(size)) == 0)
        // The namespace cannot grow: a write across the end is short, one from it has no space.
        #expect(pwrite(descriptor, tail, tail.count, off_t(size - 10)) == 10)
        let beyond = (pwrite(descriptor, tail, tail.count, off_t(size)), errno)
        #expect(beyond == (-1, ENOSPC))
        // A namespace's size is fixed, as a block device's is.
        let truncated = (ftruncate(descriptor, 4096), errno)
        #expect(truncated == (-1, EINVAL))
    }

    @Test("corruption flips bit 0 of byte 100 in block 7 and nothing else", .servesNamespace)
    func corruption() throws {
        let served = try ServedNamespace(fault: .corruption)
        defer { served.stop() }
        let file = try DirectFile(served.namespace.path)
        try file.write(pattern(6), block: 6)
        try file.write(pattern(7), block: 7)
        #expect(try file.read(block: 6) == pattern(6))
        let stored = try file.read(block: 7)
        let differences = zip(stored, pattern(7)).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(differences.map(\.offset) == [100])
        #expect(differences.map { $0.element.0 ^ $0.element.1 } == [0x01])
        #expect(try backingBlock(served.namespace.backing, 7) == stored)
    }

    @Test("misdirected-write puts block 7's data in block 6 and leaves block 7 as it was", .servesNamespace)
    func misdirectedWrite() throws {
        let served = try ServedNamespace(fault: .misdirectedWrite)
        defer { served.stop() }
        let file = try DirectFile(served.namespace.path)
        try file.write(pattern(6), block: 6)
        try file.write(pattern(8), block: 8)
        #expect(try file.read(block: 6) == pattern(6))
        try file.write(pattern(7), block: 7)
        #expect(try file.read(block: 7) == [UInt8](repeating: 0, count: 4096))
        #expect(try file.read(block: 6) == pattern(7))
        #expect(try file.read(block: 8) == pattern(8))
    }

    @Test("lost-flush shows a write through its descriptor after fsync, and the old data after reopening",
          .servesNamespace)
    func lostFlush() throws {
        let served = try ServedNamespace(fault: .lostFlush)
        defer { served.stop() }
        let old = [UInt8](repeating: 0, count: 4096)
        do {
            let file = try DirectFile(served.namespace.path)
            try file.write(pattern(3), block: 3)
            try file.sync()
            #expect(try file.read(block: 3) == pattern(3))
        }
        let reopened = try DirectFile(served.namespace.path)
        #expect(try reopened.read(block: 3) == old)
        #expect(try backingBlock(served.namespace.backing, 3) == old)
    }

    @Test("slow makes 20 sequential 4 KiB reads take at least 80 ms", .servesNamespace)
    func slow() throws {
        let served = try ServedNamespace(fault: .slow)
        defer { served.stop() }
        let file = try DirectFile(served.namespace.path)
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for block in 0..<20 { _ = try file.read(block: UInt64(block)) }
        }
        #expect(elapsed >= .milliseconds(80))
    }

    @Test("stop leaves no mount, no mount point, no backing file and no server", .servesNamespace)
    func stopRemovesEverything() throws {
        let served = try ServedNamespace(fault: nil)
        let namespace = served.namespace
        #expect(MountInfo.fileSystemType(at: namespace.mountPoint) == "fuse")
        try namespace.stop()
        #expect(MountInfo.fileSystemType(at: namespace.mountPoint) == nil)
        #expect(!FileManager.default.fileExists(atPath: namespace.mountPoint))
        #expect(!FileManager.default.fileExists(atPath: namespace.backing))
        #expect(!namespace.process.isRunning)
        // Again, as a killed run's clean-up would.
        try namespace.stop()
        try EmulatedNamespaceProcess.removeLeftover(mountPoint: namespace.mountPoint, backing: namespace.backing)
    }

    @Test("A server that exits before its mount is live is reported with its log, and leaves nothing", .servesNamespace)
    func serverExitsEarly() throws {
        let directory = try TemporaryDirectory(under: NamespaceFixture.scratch)
        let backing = directory.child("backing"), mountPoint = directory.child("mnt")
        let failing = ["/bin/sh", "-c", "echo 'cannot serve here' >&2; exit 3", "sh"]
        do {
            _ = try EmulatedNamespaceProcess.start(executable: failing, backing: backing, mountPoint: mountPoint, sizeMiB: 1,
                                                   fault: nil, logPath: directory.child("server.log"))
            Issue.record("a server that exits was taken for a live namespace")
        } catch {
            guard case let .notServing(_, reason, log) = error else { throw error }
            #expect(reason.contains("status 3"))
            #expect(log.contains("cannot serve here"))
        }
        #expect(!FileManager.default.fileExists(atPath: backing))
        #expect(!FileManager.default.fileExists(atPath: mountPoint))
    }

    @Test("A killed server's mount is detached and its files removed by removeLeftover", .servesNamespace)
    func leftoverOfKilledServer() throws {
        let served = try ServedNamespace(fault: nil)
        let namespace = served.namespace
        kill(namespace.process.pid, SIGKILL)
        // Its connection is gone, its mount stays: what a killed run leaves behind.
        var waited = 0
        while namespace.process.isRunning && waited < 500 {
            usleep(10_000)
            waited += 1
        }
        #expect(MountInfo.fileSystemType(at: namespace.mountPoint) == "fuse")
        try EmulatedNamespaceProcess.removeLeftover(mountPoint: namespace.mountPoint, backing: namespace.backing)
        #expect(MountInfo.fileSystemType(at: namespace.mountPoint) == nil)
        #expect(!FileManager.default.fileExists(atPath: namespace.mountPoint))
        #expect(!FileManager.default.fileExists(atPath: namespace.backing))
        // Collects the killed child.
        try namespace.stop()
    }
}

extension Trait where Self == RequiresTrait {
    /// Tests that mount a namespace served by the built `dpucert`.
    static var servesNamespace: Self { .requires(.fuse, .built("dpucert", at: NamespaceFixture.executable)) }
}

/// Where the namespaces' files go, and the server executable.
enum NamespaceFixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let executable = BuiltProducts.executable(named: "dpucert")

    /// /var/tmp, which is on disk unless it is tmpfs here: then the build folder. A
    /// namespace's backing stands for media, and 64 MiB of it should not sit in memory.
    static let scratch: String = {
        MountInfo.fileSystemType(containing: "/var/tmp") == "tmpfs" ? packageRoot + "/.build" : "/var/tmp"
    }()
}

/// A 64 MiB namespace served by `dpucert emulate namespace` in a scratch directory on disk.
struct ServedNamespace {
    let directory: TemporaryDirectory
    let namespace: EmulatedNamespaceProcess

    init(fault: StorageFault?) throws {
        let executable = try #require(NamespaceFixture.executable, "the dpucert executable is not built")
        directory = try TemporaryDirectory(under: NamespaceFixture.scratch)
        namespace = try EmulatedNamespaceProcess.start(
            executable: [executable], backing: directory.child("backing"), mountPoint: directory.child("mnt"),
            sizeMiB: 64, fault: fault, logPath: directory.child("server.log"))
    }

    /// Stops the server before the directory goes, so nothing removes files through the mount.
    func stop() {
        #expect(throws: Never.self) { try namespace.stop() }
    }
}

/// A descriptor opened with O_DIRECT, as the storage suite opens the namespace, moving
/// whole 4096-byte-aligned buffers.
final class DirectFile {
    let descriptor: Int32
    let path: String

    /// O_DIRECT, which Glibc's module hides from Swift; its value is per architecture.
    #if arch(x86_64)
    static let openDirect: Int32 = 0o40000
    #else
    static let openDirect: Int32 = 0o200000
    #endif

    init(_ path: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CLOEXEC | Self.openDirect)
        try #require(descriptor >= 0, "open \(path) with O_DIRECT: \(String(cString: strerror(errno)))")
    }

    deinit { close(descriptor) }

    func write(_ bytes: [UInt8], block: UInt64) throws { try write(bytes, at: block * 4096) }

    func write(_ bytes: [UInt8], at offset: UInt64) throws {
        let buffer = try AlignedBuffer(count: bytes.count)
        buffer.pointer.copyMemory(from: bytes, byteCount: bytes.count)
        let written = pwrite(descriptor, buffer.pointer, bytes.count, off_t(offset))
        try #require(written == bytes.count, "pwrite \(bytes.count) at \(offset): \(written), \(String(cString: strerror(errno)))")
    }

    func read(block: UInt64) throws -> [UInt8] { try read(at: block * 4096, count: 4096) }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        let buffer = try AlignedBuffer(count: count)
        let done = pread(descriptor, buffer.pointer, count, off_t(offset))
        try #require(done == count, "pread \(count) at \(offset): \(done), \(String(cString: strerror(errno)))")
        return Array(UnsafeRawBufferPointer(start: buffer.pointer, count: count))
    }

    func sync() throws {
        try #require(fsync(descriptor) == 0, "fsync: \(String(cString: strerror(errno)))")
    }
}

/// posix_memalign'd memory, as O_DIRECT wants it.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer

    init(count: Int) throws {
        var memory: UnsafeMutableRawPointer?
        try #require(posix_memalign(&memory, 4096, count) == 0)
        pointer = try #require(memory)
    }

    deinit { free(pointer) }
}

/// Block `block`'s test data: its number in the first 8 bytes, then bytes that differ
/// from block to block and from offset to offset.
func pattern(_ block: UInt64) -> [UInt8] {
    withUnsafeBytes(of: block.littleEndian, Array.init)
        + (8..<4096).map { UInt8(truncatingIfNeeded: UInt64($0) &* 31 &+ block &* 7) }
}

/// Block `block` of the backing file, read around the server.
func backingBlock(_ backing: String, _ block: UInt64) throws -> [UInt8] {
    let handle = try #require(FileHandle(forReadingAtPath: backing))
    defer { try? handle.close() }
    try handle.seek(toOffset: block * 4096)
    return Array(try #require(try handle.read(upToCount: 4096)))
}

/// /proc/self/mountinfo, read by the tests themselves rather than through the code under test.
enum MountInfo {
    /// (mount point, file system type) of every mount, in mount order.
    static func mounts() -> [(mountPoint: String, type: String)] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 5, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else { return nil }
            let mountPoint = fields[4].replacingOccurrences(of: "\\040", with: " ")
            return (mountPoint, String(fields[separator + 1]))
        }
    }

    /// The type of what is mounted exactly at `path` (the last mount there), or nil.
    static func fileSystemType(at path: String) -> String? {
        mounts().last { $0.mountPoint == path }?.type
    }

    /// The type of the file system holding `path`: the mount with the longest matching prefix.
    static func fileSystemType(containing path: String) -> String? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return mounts().filter { resolved == $0.mountPoint || resolved.hasPrefix($0.mountPoint == "/" ? "/" : $0.mountPoint + "/") }
            .max { $0.mountPoint.count < $1.mountPoint.count }?.type
    }
}
