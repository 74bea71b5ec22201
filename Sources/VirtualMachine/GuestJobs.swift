import Foundation
import Glibc
import Systems

/// Running commands in the guest through the share: the host writes `jobs/NAME.sh`, the
/// guest's init runs it and writes `NAME.log` as it goes and `NAME.rc` at the end.
extension Guest {
    /// A staged copy of this dpucert and a folder for one run's inputs and outputs, in the share.
    public struct RunFolder: Sendable {
        /// On this machine, and as the guest sees it.
        public var hostPath: String
        public var guestPath: String
        public var payload: GuestPayload
    }

    /// Stages this executable and an empty `out` folder under `runs/ID` in the share.
    public func makeRunFolder(id: String) throws(VMError) -> RunFolder {
        let hostPath = share + "/runs/" + id
        let guestPath = GuestScripts.share + "/runs/" + id
        let payload = try GuestPayload.stage(into: hostPath, guestFolder: guestPath)
        do {
            try FileManager.default.createDirectory(atPath: hostPath + "/out", withIntermediateDirectories: true)
        } catch {
            throw .files(path: hostPath + "/out", reason: error.localizedDescription)
        }
        return RunFolder(hostPath: hostPath, guestPath: guestPath, payload: payload)
    }

    public func removeRunFolder(_ folder: RunFolder) {
        try? FileManager.default.removeItem(atPath: folder.hostPath)
    }

    /// Runs `command` in the guest, in `folder` (a guest path), and returns its exit
    /// status. Each whole line of its output is passed to `output` as it appears. Gives up
    /// (throws) when QEMU is gone, `timeout` passes or `isCancelled` says so; the job may
    /// then still be running in the guest.
    public func run(_ command: [String], in folder: String, job: String, timeout: Duration,
                    isCancelled: () -> Bool, output: (String) -> Void) throws(VMError) -> Int32 {
        let jobs = share + "/jobs"
        let stamp = String(format: "%010.0f", Date().timeIntervalSince1970 * 1000)
        let base = "\(jobs)/\(stamp)-\(job)"
        do {
            try Data(GuestScripts.job(command, in: folder).utf8).write(to: URL(fileURLWithPath: base + ".tmp"))
        } catch {
            throw .files(path: base + ".tmp", reason: error.localizedDescription)
        }
        // The init picks up only `*.sh`: the rename hands it over whole.
        guard rename(base + ".tmp", base + ".sh") == 0 else {
            throw .files(path: base + ".sh", reason: String(cString: strerror(errno)))
        }
        let deadline = ContinuousClock.now + timeout
        var reader = LogFollower(path: base + ".log")
        while true {
            reader.poll(output)
            if let text = try? String(contentsOfFile: base + ".rc", encoding: .utf8),
               let status = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                reader.poll(output)
                reader.flush(output)
                return status
            }
            if state.qemu?.isRunning != true {
                throw .jobFailed(name: name, job: job, reason: "QEMU is gone; console:\n" + Self.tail(of: consoleLog))
            }
            if isCancelled() { throw .jobFailed(name: name, job: job, reason: "cancelled") }
            if ContinuousClock.now >= deadline {
                throw .jobFailed(name: name, job: job, reason: "no end within \(timeout)")
            }
            usleep(50_000)
        }
    }
}

/// Reads a growing log file and hands on its whole lines.
struct LogFollower {
    let path: String
    private var offset: UInt64 = 0
    private var pending = Data()

    init(path: String) {
        self.path = path
    }

    mutating func poll(_ output: (String) -> Void) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return }
        offset += UInt64(data.count)
        pending.append(data)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            output(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
            pending = Data(pending[pending.index(after: newline)...])
        }
    }

    mutating func flush(_ output: (String) -> Void) {
        if !pending.isEmpty { output(String(decoding: pending, as: UTF8.self)) }
        pending = Data()
    }
}
