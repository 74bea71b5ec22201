import Agent
import Foundation
import Glibc
import Systems

/// Starting agents inside lab namespaces, waiting for their ready lines, and stopping
/// every process a lab's namespaces hold.
enum LabProcesses {
    /// The machines that run an agent (their log files are named after them).
    static let roles = ["dpu", "peer", "oob"]
    static let readinessTimeout = Duration.seconds(10)

    /// `ip netns exec NAMESPACE <executable> <arguments> <agent arguments>`: standard
    /// error to `logPath`, standard output to the returned pipe, which carries the
    /// agent's ready line (`waitUntilReady`).
    static func start(_ launcher: AgentLauncher, namespace: String, tokenFile: String, control: [SocketEndpoint],
                      services: [ManagementService], logPath: String) throws(LabError) -> (pid: pid_t, output: Int32) {
        let configuration = AgentConfiguration(controlEndpoints: control, tokenFile: tokenFile, services: services)
        let arguments = ["ip", "netns", "exec", namespace, launcher.executable] + launcher.arguments
            + configuration.commandLineArguments
        do {
            return try CommandRunner.spawnDetachedAnnouncing(arguments, logPath: logPath)
        } catch {
            throw .command(error)
        }
    }

    /// Waits, at most `timeout`, for the agent's ready line on `output`: the agent
    /// prints it once every control endpoint and service is bound, and exits non-zero
    /// when a bind fails. The line is added to the agent's log. The caller closes `output`.
    static func waitUntilReady(role: String, pid: pid_t, output: Int32, logPath: String,
                               timeout: Duration = readinessTimeout) throws(LabError) {
        switch CommandRunner.awaitLine(startingWith: AgentServer.readyLinePrefix, from: output, timeout: timeout) {
        case .found(let line):
            appendToLog(line, logPath)
        case .endOfOutput:
            let ending = CommandRunner.waitForExit(pid, timeout: .seconds(1)).map { "exited with status \($0)" } ?? "closed its output"
            throw .agentNotReady(role: role, detail: "it \(ending) before printing \"\(AgentServer.readyLinePrefix)...\"; "
                                 + "log \(logPath): \(logTail(logPath))")
        case .timedOut:
            throw .agentNotReady(role: role, detail: "no \"\(AgentServer.readyLinePrefix)...\" line within "
                                 + "\(timeout.evidenceText); log \(logPath): \(logTail(logPath))")
        }
    }

    /// Stops every process in `namespaces`: SIGTERM, up to 2 s grace, then SIGKILL.
    /// Reaps `children` (agents this process started) along the way.
    static func stopAll(in namespaces: [String], children: [pid_t]) {
        var remaining = pids(in: namespaces)
        for pid in remaining { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(2)
        while !remaining.isEmpty && ContinuousClock.now < deadline {
            for child in children { _ = CommandRunner.reap(child) }
            Thread.sleep(forTimeInterval: 0.02)
            remaining = pids(in: namespaces)
        }
        for pid in remaining { kill(pid, SIGKILL) }
        let reapDeadline = ContinuousClock.now + .seconds(2)
        var unreaped = children
        while !unreaped.isEmpty && ContinuousClock.now < reapDeadline {
            unreaped = unreaped.filter { CommandRunner.reap($0) == nil }
            if !unreaped.isEmpty { Thread.sleep(forTimeInterval: 0.01) }
        }
    }

    /// Processes whose network namespace is one of `namespaces` (what `ip netns pids`
    /// reports, for all namespaces in one pass over /proc). Zombies have none.
    static func pids(in namespaces: [String]) -> [pid_t] {
        var inodes = Set<UInt64>()
        for namespace in namespaces {
            var status = stat()
            if stat("\(NetworkNamespace.directory)/\(namespace)", &status) == 0 { inodes.insert(UInt64(status.st_ino)) }
        }
        guard !inodes.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid() else { return nil }
            var status = stat()
            guard stat("/proc/\(entry)/ns/net", &status) == 0, inodes.contains(UInt64(status.st_ino)) else { return nil }
            return pid
        }
    }

    private static func appendToLog(_ line: String, _ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    private static func logTail(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log)" }
        let text = String(decoding: data.suffix(1500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty log)" : text.replacingOccurrences(of: "\n", with: " | ")
    }
}
