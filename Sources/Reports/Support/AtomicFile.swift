import Foundation
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Why an atomic write failed: the step, the path it was working on, and the errno.
public struct AtomicFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Step: String, Sendable, Hashable {
        case createDirectory = "create directory"
        case createTemporaryFile = "create temporary file"
        case write
        case sync = "fsync"
        case close
        case rename
        case syncDirectory = "fsync directory"
    }

    public var step: Step
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(step.rawValue) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Writes whole files so that a reader sees either the old content or the new, never a part:
/// the data goes to a temporary file in the target's directory, is flushed to disk, and is
/// renamed over the target; the directory is then flushed so the rename survives a crash.
public enum AtomicFile {
    /// Writes `data` to `path`, creating missing parent directories. On failure the target
    /// is unchanged and no temporary file is left behind.
    public static func write(_ data: Data, to path: String) throws(AtomicFileError) {
        let directory = parentDirectory(of: path)
        try createDirectories(directory)

        let (descriptor, temporaryPath) = try createTemporaryFile(for: path, in: directory)
        var closed = false
        var renamed = false
        defer {
            if !closed { _ = close(descriptor) }
            if !renamed { _ = unlink(temporaryPath) }
        }

        try writeAll(data, to: descriptor, path: temporaryPath)
        guard fsync(descriptor) == 0 else { throw AtomicFileError(step: .sync, path: temporaryPath, errno: errno) }
        closed = true
        guard close(descriptor) == 0 else { throw AtomicFileError(step: .close, path: temporaryPath, errno: errno) }
        guard rename(temporaryPath, path) == 0 else { throw AtomicFileError(step: .rename, path: path, errno: errno) }
        renamed = true
        try syncDirectory(directory)
    }

    private static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// `mkdir -p`: creates each missing component; an existing directory is fine.
    private static func createDirectories(_ directory: String) throws(AtomicFileError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue {
            return
        }
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw AtomicFileError(step: .createDirectory, path: prefix, errno: errno)
            }
        }
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            throw AtomicFileError(step: .createDirectory, path: directory, errno: ENOTDIR)
        }
    }

    /// A new file beside the target, named after it with a random suffix, opened exclusively
    /// so two writers can never share one.
    private static func createTemporaryFile(for path: String, in directory: String) throws(AtomicFileError) -> (Int32, String) {
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        var lastError: Int32 = EEXIST
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let temporaryPath = "\(directory)/.\(name).tmp-\(getpid())-\(suffix)"
            let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (descriptor, temporaryPath) }
            lastError = errno
            if lastError != EEXIST { break }
        }
        throw AtomicFileError(step: .createTemporaryFile, path: "\(directory)/.\(name).tmp-*", errno: lastError)
    }

    private static func writeAll(_ data: Data, to descriptor: Int32, path: String) throws(AtomicFileError) {
        let failure: Int32? = data.withUnsafeBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw AtomicFileError(step: .write, path: path, errno: failure) }
    }

    private static func syncDirectory(_ directory: String) throws(AtomicFileError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AtomicFileError(step: .syncDirectory, path: directory, errno: errno) }
        defer { _ = close(descriptor) }
        // Some file systems cannot fsync a directory (EINVAL); the rename is still done.
        if fsync(descriptor) != 0, errno != EINVAL {
            throw AtomicFileError(step: .syncDirectory, path: directory, errno: errno)
        }
    }
}
