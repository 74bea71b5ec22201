// ProbesTests: scratch files for the block I/O tests, on a file system that does direct
// I/O on a real device (tmpfs only pretends, and not on every kernel), filled with real
// data so reads reach the device instead of reading holes.
import Foundation
import Glibc

enum BlockIOScratch {
    /// The first of /var/tmp, the temporary directory and the package's .build that is
    /// writable and not on tmpfs.
    static let directory: String = {
        let packageBuild = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build").path
        let candidates = ["/var/tmp", NSTemporaryDirectory(), packageBuild]
        return candidates.first { access($0, W_OK) == 0 && fileSystemType(of: $0) != "tmpfs" } ?? packageBuild
    }()

    /// The type of the file system `path` is on, from the longest mount point above it.
    static func fileSystemType(of path: String) -> String? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
        let entries = mounts.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count >= 3 }
        let above = entries.filter { entry in
            let point = String(entry[1])
            return resolved == point || resolved.hasPrefix(point == "/" ? "/" : point + "/")
        }
        return above.max { $0[1].count < $1[1].count }.map { String($0[2]) }
    }

    /// A new file of `size` bytes of non-zero data (every byte `fill`), removed by `body`'s end.
    static func withFile<Result>(size: Int, fill: UInt8 = 0xa5, _ body: (String) throws -> Result) throws -> Result {
        let path = directory + "/dpucert-blockio-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).scratch"
        let chunk = Data(repeating: fill, count: min(size, 1 << 20))
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw POSIXError(.EACCES) }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var written = 0
        while written < size {
            let part = chunk.prefix(size - written)
            try handle.write(contentsOf: part)
            written += part.count
        }
        try handle.synchronize()
        try handle.close()
        return try body(path)
    }

    /// Writes `bytes` at `offset` through the page cache and syncs: damage done behind
    /// the engine's back, as a faulty device would.
    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count, fsync(descriptor) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// `count` bytes at `offset`, read through the page cache.
    static func read(_ path: String, at offset: Int, count: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        guard read == count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return bytes
    }
}
