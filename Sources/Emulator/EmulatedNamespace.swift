// The emulated NVMe function's namespace: one file served through FUSE from a sparse
// backing file, so the storage suite opens it as it would /dev/nvme0n1 (O_DIRECT,
// io_uring or threads, any queue depth) and a storage fault (`StorageFault`) is injected
// by the server below the kernel's file interface, where a device would commit the data.
// `EmulatedNamespace.serve` is the server (`dpucert emulate namespace`);
// `EmulatedNamespaceProcess` starts it as a child, waits for its mount and removes it.

import CFUSENamespace
import Glibc
import Systems

/// Every failure of the emulated namespace, with what was being done and the errno.
public enum EmulatedNamespaceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A storage fault name nobody defines.
    case unknownFault(String, known: [String])
    /// Bad input: a file name that is not one path component, a size of zero.
    case invalidArgument(String)
    /// A system call on the backing file, the mount point or the server failed.
    case systemCall(SystemCallError)
    /// The FUSE server could not mount or serve.
    case server(mountPoint: String, code: Int32, message: String)
    /// The server process could not be started.
    case couldNotStart(CommandError)
    /// The server was started, but its mount was not live in time, or it exited first.
    case notServing(mountPoint: String, reason: String, log: String)

    public var description: String {
        switch self {
        case let .unknownFault(name, known):
            return "unknown storage fault '\(name)'; valid: \(known.joined(separator: ", "))"
        case let .invalidArgument(detail):
            return detail
        case let .systemCall(error):
            return "\(error)"
        case let .server(mountPoint, code, message):
            return "namespace server at \(mountPoint): \(message) (\(Errno.symbol(code)))"
        case let .couldNotStart(error):
            return "namespace server: \(error)"
        case let .notServing(mountPoint, reason, log):
            let tail = log.trimmingTrailingWhitespace
            return "namespace server at \(mountPoint) \(reason)" + (tail.isEmpty ? "" : "; its log ends:\n\(tail)")
        }
    }
}

/// The FUSE server of an emulated namespace.
public enum EmulatedNamespace {
    /// The name the namespace's file has unless the caller chooses another.
    public static let defaultFileName = "nvme0n1"

    /// Mounts `mountPoint` (an existing directory) with one regular file, `fileName`, whose
    /// contents and size are those of `backing`, and serves it with `fault` (nil: plain
    /// pass-through) until SIGTERM, SIGINT or SIGHUP, or until it is unmounted from outside;
    /// then unmounts it. Every open of the file is direct I/O, so each read and write of a
    /// client reaches the server as it was issued. Replaces this process's handlers of
    /// those signals: it is the whole job of the process that calls it.
    public static func serve(backing: String, mountPoint: String, fileName: String = defaultFileName,
                             fault: StorageFault?) throws(EmulatedNamespaceError) {
        try validate(fileName: fileName)
        let stop = try check("eventfd", "the stop channel") { dpucert_namespace_stop_channel() }
        defer { close(stop) }
        try check("sigaction", "SIGTERM, SIGINT, SIGHUP") { dpucert_namespace_stop_on_signals(stop) }
        var message = [CChar](repeating: 0, count: 512)
        let code = dpucert_namespace_serve(backing, mountPoint, fileName, Int32(fault.shimValue.rawValue), stop,
                                           &message, message.count)
        if code != 0 {
            throw .server(mountPoint: mountPoint, code: code,
                          message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    static func validate(fileName: String) throws(EmulatedNamespaceError) {
        guard !fileName.isEmpty, fileName.utf8.count <= 255, !fileName.contains("/"), fileName != ".", fileName != ".."
        else { throw .invalidArgument("namespace file name '\(fileName)' is not a single path component") }
    }

    @discardableResult
    static func check<Result: BinaryInteger>(_ operation: String, _ subject: @autoclosure () -> String,
                                             _ call: () -> Result) throws(EmulatedNamespaceError) -> Result {
        do {
            return try SystemCall.check(operation, subject(), call)
        } catch {
            throw .systemCall(error)
        }
    }
}

extension Optional where Wrapped == StorageFault {
    var shimValue: dpucert_namespace_fault {
        switch self {
        case nil: DPUCERT_NAMESPACE_FAULT_NONE
        case .corruption: DPUCERT_NAMESPACE_FAULT_CORRUPTION
        case .misdirectedWrite: DPUCERT_NAMESPACE_FAULT_MISDIRECTED_WRITE
        case .slow: DPUCERT_NAMESPACE_FAULT_SLOW
        case .lostFlush: DPUCERT_NAMESPACE_FAULT_LOST_FLUSH
        // Applied to the card, which then has no namespace for a server to serve.
        case .namespaceMissing: DPUCERT_NAMESPACE_FAULT_NONE
        }
    }
}

/// An emulated namespace served by a child process (`dpucert emulate namespace`), live
/// from the moment `start` returns until `stop`.
public struct EmulatedNamespaceProcess: Sendable, Hashable {
    /// The server process.
    public var process: ProcessIdentity
    public var backing: String
    /// The mount point, as /proc/self/mountinfo names it (absolute, symbolic links resolved).
    public var mountPoint: String
    public var fileName: String
    public var sizeBytes: Int
    public var fault: StorageFault?
    public var logPath: String

    /// The namespace, to be opened as the device would be.
    public var path: String { mountPoint + "/" + fileName }

    /// Creates `backing` as a sparse file of `sizeMiB` MiB (replacing what was there),
    /// creates `mountPoint`, starts `executable + ["emulate", "namespace", ...]` in a
    /// session of its own with its output appended to `logPath`, and returns once the
    /// namespace is live: a FUSE mount at `mountPoint` holding `fileName` at the full size.
    /// A mount left at `mountPoint` by a killed run is detached first. On failure nothing
    /// is left behind but the log.
    public static func start(executable: [String], backing: String, mountPoint: String,
                             fileName: String = EmulatedNamespace.defaultFileName, sizeMiB: Int,
                             fault: StorageFault?, logPath: String,
                             timeout: Duration = .seconds(10)) throws(EmulatedNamespaceError) -> EmulatedNamespaceProcess {
        try EmulatedNamespace.validate(fileName: fileName)
        guard sizeMiB > 0 else { throw .invalidArgument("namespace size must be at least 1 MiB, not \(sizeMiB)") }
        guard !executable.isEmpty else { throw .invalidArgument("no executable to serve the namespace with") }
        let sizeBytes = sizeMiB * 1024 * 1024

        try detachIfMounted(MountTable.canonical(mountPoint))
        do {
            try FileSystem.makeDirectories(mountPoint)
            if let slash = backing.lastIndex(of: "/"), slash != backing.startIndex {
                try FileSystem.makeDirectories(String(backing[..<slash]))
            }
        } catch {
            if case let .fileSystem(operation, path, code) = error {
                throw .systemCall(SystemCallError(operation, subject: path, code: code))
            }
            throw .invalidArgument("\(error)")
        }
        let canonicalMountPoint = MountTable.canonical(mountPoint)
        let cleanUp = { try? removeLeftover(mountPoint: canonicalMountPoint, backing: backing) }

        do throws(EmulatedNamespaceError) {
            let descriptor = try EmulatedNamespace.check("open", backing) {
                open(backing, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            }
            defer { close(descriptor) }
            try EmulatedNamespace.check("ftruncate", backing) { ftruncate(descriptor, off_t(sizeBytes)) }
        } catch {
            cleanUp()
            throw error
        }

        let arguments = executable + ["emulate", "namespace", "--backing", backing, "--mount", canonicalMountPoint,
                                      "--name", fileName] + (fault.map { ["--fault", $0.name] } ?? [])
        let pid: pid_t
        do {
            // Its own session: a terminal's Ctrl-C reaches the run, which stops the
            // namespace when it no longer needs it.
            pid = try CommandRunner.spawnDetached(arguments, logPath: logPath, newSession: true)
        } catch {
            cleanUp()
            throw .couldNotStart(error)
        }
        let namespace = EmulatedNamespaceProcess(
            process: ProcessIdentity.of(pid) ?? ProcessIdentity(pid: pid, startTime: 0), backing: backing,
            mountPoint: canonicalMountPoint, fileName: fileName, sizeBytes: sizeBytes, fault: fault, logPath: logPath)

        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(2)
        while true {
            if let status = CommandRunner.reap(pid) {
                cleanUp()
                throw .notServing(mountPoint: canonicalMountPoint, reason: "exited with status \(status) before its mount was live",
                                  log: logTail(logPath))
            }
            // The mount is checked before the file: a stat inside a mount whose server has
            // not answered yet would wait for it.
            if MountTable.isFUSEMount(canonicalMountPoint), namespace.isLive() { return namespace }
            if ContinuousClock.now >= deadline { break }
            CommandRunner.sleepBriefly(pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        kill(pid, SIGKILL)
        _ = CommandRunner.waitForExit(pid, timeout: .seconds(5))
        cleanUp()
        throw .notServing(mountPoint: canonicalMountPoint, reason: "did not serve \(fileName) at \(sizeBytes) bytes within \(timeout)",
                          log: logTail(logPath))
    }

    /// Whether the file is there at its full size.
    func isLive() -> Bool {
        var attributes = stat()
        return stat(path, &attributes) == 0 && (attributes.st_mode & S_IFMT) == S_IFREG && Int(attributes.st_size) == sizeBytes
    }

    /// Stops the server (SIGTERM, then SIGKILL after `timeout`), detaches the mount if it
    /// is still there and removes the mount point and the backing file; the log stays.
    /// Safe to repeat.
    public func stop(timeout: Duration = .seconds(10)) throws(EmulatedNamespaceError) {
        if process.isRunning { kill(process.pid, SIGTERM) }
        // Reaps our child; for a server another process started, waits for it to go.
        _ = CommandRunner.waitForExit(process.pid, timeout: timeout)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { CommandRunner.sleepBriefly(.milliseconds(10)) }
        if process.isRunning { kill(process.pid, SIGKILL) }
        try Self.removeLeftover(mountPoint: mountPoint, backing: backing)
    }

    /// Removes what a killed run left: the mount at `mountPoint` is detached lazily (a
    /// server still attached to it exits once the last user is gone), then the mount point
    /// and, when given, the backing file are removed. Missing pieces are not an error.
    public static func removeLeftover(mountPoint: String, backing: String? = nil) throws(EmulatedNamespaceError) {
        let canonicalMountPoint = MountTable.canonical(mountPoint)
        try detachIfMounted(canonicalMountPoint)
        if rmdir(canonicalMountPoint) != 0 && errno != ENOENT {
            throw .systemCall(SystemCallError("rmdir", subject: canonicalMountPoint, code: errno))
        }
        if let backing, unlink(backing) != 0 && errno != ENOENT {
            throw .systemCall(SystemCallError("unlink", subject: backing, code: errno))
        }
    }

    /// Detaches the FUSE mount at `mountPoint` (canonical), if there is one, without
    /// waiting for its users: a client still inside it gets ENOTCONN.
    private static func detachIfMounted(_ mountPoint: String) throws(EmulatedNamespaceError) {
        guard MountTable.isFUSEMount(mountPoint) else { return }
        // EINVAL: no longer a mount point (its server unmounted it meanwhile).
        if umount2(mountPoint, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw .systemCall(SystemCallError("umount2", subject: mountPoint, code: errno))
        }
    }

    /// Whether a FUSE file system is mounted at `mountPoint`, as /proc/self/mountinfo says.
    public static func isMounted(_ mountPoint: String) -> Bool {
        MountTable.isFUSEMount(MountTable.canonical(mountPoint))
    }

    private static func logTail(_ path: String) -> String {
        guard let text = try? FileSystem.readText(path) else { return "" }
        return String(text.suffix(2000))
    }
}

/// The mounts /proc/self/mountinfo lists.
enum MountTable {
    /// Whether `mountPoint` (canonical) is a FUSE mount ("fuse", or "fuse.SUBTYPE").
    static func isFUSEMount(_ mountPoint: String) -> Bool {
        guard let text = try? FileSystem.readText("/proc/self/mountinfo") else { return false }
        for line in text.split(separator: "\n") {
            // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER-OPTIONS
            let fields = line.split(separator: " ")
            guard fields.count > 5, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else { continue }
            let type = fields[separator + 1]
            if (type == "fuse" || type.hasPrefix("fuse.")) && unescape(fields[4]) == mountPoint { return true }
        }
        return false
    }

    /// The kernel writes space, tab, newline and backslash in paths as \ooo.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `path` absolute with symbolic links resolved, as the kernel names mount points;
    /// as given (made absolute) when it does not exist.
    static func canonical(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
    }
}
