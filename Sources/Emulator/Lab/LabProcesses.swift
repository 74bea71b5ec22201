import Agent
import Foundation
import Glibc
import Probes

/// Starting agents inside lab namespaces, waiting for them to listen, and stopping
/// every process a lab's namespaces hold.
enum LabProcesses {
    /// The machines that run an agent (their log files are named after them).
    static let roles = ["dpu", "peer", "oob"]
    static let readinessTimeout = Duration.seconds(10)

    /// `ip netns exec NAMESPACE <executable> <arguments> <agent arguments>`, output to `logPath`.
    static func start(_ launcher: AgentLauncher, namespace: String, tokenFile: String, control: [SocketEndpoint],
                      services: [ManagementService], logPath: String) throws(LabError) -> pid_t {
        let configuration = AgentConfiguration(controlEndpoints: control, tokenFile: tokenFile, services: services)
        let arguments = ["ip", "netns", "exec", namespace, launcher.executable] + launcher.arguments
            + configuration.commandLineArguments
        do {
            return try CommandRunner.spawnDetached(arguments, logPath: logPath)
        } catch {
            throw .command(error)
        }
    }

    /// Polls, from the agent's own namespace, until every control endpoint and
    /// service answers; fails early when the agent exits.
    static func waitUntilReady(role: String, pid: pid_t, site: ProbeSite, control: [SocketEndpoint],
                               services: [ManagementService], logPath: String) throws(LabError) {
        var pending = control.map { ProbeRequest.tcp(local($0), timeout: .milliseconds(200)) }
            + services.map { service -> ProbeRequest in
                let endpoint = local(service.endpoint)
                return service.kind.transport == .tcp ? .tcp(endpoint, timeout: .milliseconds(200))
                    : .udp(endpoint, timeout: .milliseconds(200))
            }
        let deadline = ContinuousClock.now + readinessTimeout
        while !pending.isEmpty {
            if let status = CommandRunner.reap(pid) {
                throw .agentNotReady(role: role, detail: "it exited with status \(status); log \(logPath): \(logTail(logPath))")
            }
            guard ContinuousClock.now < deadline else {
                throw .agentNotReady(role: role, detail: "still not answering after \(readinessTimeout.evidenceText): "
                                     + pending.map(\.method.description).joined(separator: "; ") + "; log \(logPath): \(logTail(logPath))")
            }
            do {
                let results = try Prober.run(pending, from: site)
                pending = zip(pending, results).filter { $0.1.outcome != .open }.map(\.0)
            } catch {
                throw .agentNotReady(role: role, detail: "probing it failed: \(error)")
            }
            if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.02) }
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

    /// Unspecified addresses are probed through loopback.
    private static func local(_ endpoint: SocketEndpoint) -> SocketEndpoint {
        switch endpoint.address.description {
        case "0.0.0.0": SocketEndpoint(IPAddress("127.0.0.1")!, endpoint.port)
        case "::": SocketEndpoint(IPAddress("::1")!, endpoint.port)
        default: endpoint
        }
    }

    private static func logTail(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log)" }
        let text = String(decoding: data.suffix(1500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty log)" : text.replacingOccurrences(of: "\n", with: " | ")
    }
}
