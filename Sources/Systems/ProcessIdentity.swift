import Glibc

/// A process, identified by pid and start time so a reused pid is not mistaken for it:
/// how a state file names the process that owns a lab or a guest.
public struct ProcessIdentity: Sendable, Hashable, Codable {
    public var pid: Int32
    /// Clock ticks since boot (field 22 of /proc/PID/stat).
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// This process.
    public static var current: ProcessIdentity? { of(getpid()) }

    /// Process `pid` as it is now, or nil when there is none.
    public static func of(_ pid: Int32) -> ProcessIdentity? {
        Stat.read(pid).map { ProcessIdentity(pid: pid, startTime: $0.startTime) }
    }

    /// Whether it still runs (a zombie does not).
    public var isRunning: Bool {
        guard let stat = Stat.read(pid) else { return false }
        return stat.state != "Z" && stat.state != "X" && stat.startTime == startTime
    }

    /// The fields of /proc/PID/stat this type needs.
    private struct Stat {
        var state: Substring
        var startTime: UInt64

        static func read(_ pid: Int32) -> Stat? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            // After the parenthesised command name: field 3 (state) at index 0, field 22 at index 19.
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 19, let startTime = UInt64(fields[19]) else { return nil }
            return Stat(state: fields[0], startTime: startTime)
        }
    }
}
