import CNetShims
import Glibc

/// A finished command: exit status and captured output.
public struct CommandResult: Sendable, Hashable {
    public var arguments: [String]
    /// Exit status; 128 + signal number when a signal ended it.
    public var status: Int32
    public var standardOutput: String
    public var standardError: String

    public var succeeded: Bool { status == 0 }
}

/// A command that could not be run, ran too long, or failed.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        case couldNotStart(SystemCallError)
        case timedOut(Duration)
        case failed(status: Int32)
    }

    public var arguments: [String]
    public var reason: Reason
    public var standardError: String

    public var description: String {
        let command = arguments.joined(separator: " ")
        let detail = standardError.trimmingTrailingWhitespace
        switch reason {
        case .couldNotStart(let error): return "`\(command)` could not start: \(error)"
        case .timedOut(let limit): return "`\(command)` did not finish within \(limit) and was killed"
        case .failed(let status):
            return "`\(command)` exited with status \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }
}

package extension String {
    var trimmingTrailingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}

/// Runs external commands (`ip`, `nft`, `nmap`, the agent) with posix_spawn: output
/// captured through pipes, bounded in time, the child killed when the limit passes.
public enum CommandRunner {
    /// Runs `arguments` (looked up in PATH) to completion. Throws when it cannot start,
    /// outlives `timeout`, or exits non-zero (unless `allowFailure`).
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(10),
                           allowFailure: Bool = false) throws(CommandError) -> CommandResult {
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        do {
            try SystemCall.check("pipe2", "stdout") { dpucert_pipe_cloexec(&stdoutPipe) }
            try SystemCall.check("pipe2", "stderr") { dpucert_pipe_cloexec(&stderrPipe) }
            if input != nil { try SystemCall.check("pipe2", "stdin") { dpucert_pipe_cloexec(&stdinPipe) } }
        } catch {
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
            throw CommandError(arguments: arguments, reason: .couldNotStart(error), standardError: "")
        }
        let pid: pid_t
        do {
            pid = try spawn(arguments, stdin: input == nil ? nil : stdinPipe[0], stdout: stdoutPipe[1], stderr: stderrPipe[1])
        } catch {
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
            throw CommandError(arguments: arguments, reason: .couldNotStart(error), standardError: "")
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if stdinPipe[0] >= 0 { close(stdinPipe[0]) }

        let deadline = ContinuousClock.now + timeout
        let streams = collect(stdout: stdoutPipe[0], stderr: stderrPipe[0], stdin: stdinPipe[1],
                              input: Array((input ?? "").utf8), deadline: deadline)
        let status = waitForExit(pid, deadline: deadline)
        let result = CommandResult(arguments: arguments, status: status ?? 128 + SIGKILL,
                                   standardOutput: String(decoding: streams.stdout, as: UTF8.self),
                                   standardError: String(decoding: streams.stderr, as: UTF8.self))
        if status == nil || streams.timedOut {
            throw CommandError(arguments: arguments, reason: .timedOut(timeout), standardError: result.standardError)
        }
        if !result.succeeded && !allowFailure {
            throw CommandError(arguments: arguments, reason: .failed(status: result.status), standardError: result.standardError)
        }
        return result
    }

    /// Starts a long-running command with stdin from /dev/null and stdout/stderr
    /// appended to `logPath`; returns its pid. The caller reaps it (`reap`). With
    /// `newSession` it runs in a session of its own, so a terminal's signals (Ctrl-C)
    /// reach only us and we decide when it stops.
    public static func spawnDetached(_ arguments: [String], logPath: String,
                                     newSession: Bool = false) throws(CommandError) -> pid_t {
        do {
            let log = try SystemCall.check("open", logPath) {
                open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            }
            defer { close(log) }
            return try spawn(arguments, stdin: nil, stdout: log, stderr: log, newSession: newSession)
        } catch {
            throw CommandError(arguments: arguments, reason: .couldNotStart(error), standardError: "")
        }
    }

    /// As `spawnDetached`, except that standard output goes to a pipe whose read end
    /// (close-on-exec) is returned for `awaitLine`; only standard error goes to
    /// `logPath`. The caller closes the read end once it has what it waits for: the
    /// child must not write to standard output after that.
    public static func spawnDetachedAnnouncing(_ arguments: [String],
                                               logPath: String) throws(CommandError) -> (pid: pid_t, output: Int32) {
        var output: [Int32] = [-1, -1]
        do {
            try SystemCall.check("pipe2", "stdout") { dpucert_pipe_cloexec(&output) }
            let log = try SystemCall.check("open", logPath) {
                open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            }
            defer { close(log) }
            let pid = try spawn(arguments, stdin: nil, stdout: output[1], stderr: log)
            close(output[1])
            return (pid, output[0])
        } catch {
            for fd in output where fd >= 0 { close(fd) }
            throw CommandError(arguments: arguments, reason: .couldNotStart(error), standardError: "")
        }
    }

    /// How waiting for a child's announcement ended.
    public enum LineWait: Sendable, Hashable {
        /// The first line that starts with the prefix (without its newline).
        case found(String)
        /// The child closed its output (it exited) without such a line.
        case endOfOutput
        case timedOut
    }

    /// Reads `output` until a whole line starts with `prefix`, the writer closes it, or
    /// `timeout` passes; blocks in poll(2), so the line is seen the moment it is written.
    public static func awaitLine(startingWith prefix: String, from output: Int32, timeout: Duration) -> LineWait {
        let deadline = ContinuousClock.now + timeout
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line.hasPrefix(prefix) { return .found(line) }
            }
            var entry = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let remaining = Poll.milliseconds(until: deadline)
            if remaining == 0 { return .timedOut }
            let ready = poll(&entry, 1, remaining)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            let count = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count > 0 {
                pending += buffer.prefix(count)
            } else if count == 0 || errno != EINTR && errno != EAGAIN {
                return .endOfOutput
            }
        }
    }

    /// Waits, at most `timeout`, for a child to exit and collects its status; nil
    /// (and the child killed) when it outlives the limit.
    public static func waitForExit(_ pid: pid_t, timeout: Duration) -> Int32? {
        waitForExit(pid, deadline: ContinuousClock.now + timeout)
    }

    /// Collects a child's exit status without blocking; nil while it runs.
    public static func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return exitStatus(status) }
        // Not our child (or already collected): treat as gone.
        if result < 0 && errno == ECHILD { return -1 }
        return nil
    }

    // MARK: internals

    private static func spawn(_ arguments: [String], stdin: Int32?, stdout: Int32, stderr: Int32,
                              newSession: Bool = false) throws(SystemCallError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Nothing else is inherited: a long-lived child (an agent) holding one of our
        // descriptors would keep whoever waits for our own exit (a pipe's end of file)
        // waiting as long as the child lives.
        dpucert_spawn_close_from(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
                                 | (newSession ? dpucert_spawn_new_session_flag() : 0))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments.first ?? "", &actions, &attributes, argv, environ)
        if result != 0 {
            throw SystemCallError("posix_spawnp", subject: arguments.first ?? "", code: result)
        }
        return pid
    }

    private struct Streams {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var timedOut = false
    }

    /// Reads both pipes (and feeds stdin) until end of file or the deadline; closes them.
    private static func collect(stdout: Int32, stderr: Int32, stdin: Int32, input: [UInt8],
                                deadline: ContinuousClock.Instant) -> Streams {
        var streams = Streams()
        var open: [Int32] = [stdout, stderr]
        var inputFD = stdin
        var written = 0
        if inputFD >= 0 && input.isEmpty { close(inputFD); inputFD = -1 }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || inputFD >= 0 {
            var entries = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if inputFD >= 0 { entries.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
            let remaining = Poll.milliseconds(until: deadline)
            if remaining == 0 { streams.timedOut = true; break }
            let ready = poll(&entries, nfds_t(entries.count), remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 { streams.timedOut = true; break }
            for entry in entries where entry.revents != 0 {
                if entry.fd == inputFD {
                    let count = input[written...].withUnsafeBytes { write(inputFD, $0.baseAddress, $0.count) }
                    if count > 0 { written += count }
                    if count < 0 && errno != EINTR && errno != EAGAIN || written >= input.count {
                        close(inputFD)
                        inputFD = -1
                    }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == stdout { streams.stdout += buffer.prefix(count) } else { streams.stderr += buffer.prefix(count) }
                } else if count == 0 || errno != EINTR && errno != EAGAIN {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in open { close(fd) }
        if inputFD >= 0 { close(inputFD) }
        return streams
    }

    /// Waits for the child until the deadline, then kills it; nil when it had to be killed.
    private static func waitForExit(_ pid: pid_t, deadline: ContinuousClock.Instant) -> Int32? {
        var pause = Duration.milliseconds(1)
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return exitStatus(status) }
            if result < 0 && errno != EINTR { return -1 }
            sleepBriefly(pause)
            pause = min(pause * 2, .milliseconds(20))
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return nil
    }

    package static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    package static func sleepBriefly(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) < 0 && errno == EINTR { request = remaining }
    }
}
