import CNetShims
import Foundation
import Glibc
import Synchronization

/// Where a probe runs from: this process's network namespace, a named one (`ip netns`
/// name, i.e. /run/netns/NAME), or a dpucert agent reached over its control channel.
public enum ProbeSite: Sendable, Hashable, Codable, CustomStringConvertible {
    case current
    case namespace(String)
    /// A `dpucert agent` on another machine (the DPU's OS, the OOB network, the peer);
    /// only its control channel reaches it, so nothing in this module runs there.
    case agent(SocketEndpoint)
    /// A machine of the set-up that nothing can run on (no agent there): why. Whatever
    /// needs a probe from it is not offered by this set-up.
    case unavailable(String)

    public var description: String {
        switch self {
        case .current: "this network namespace"
        case .namespace(let name): "netns \(name)"
        case .agent(let endpoint): "agent \(endpoint)"
        case .unavailable(let reason): "no site (\(reason))"
        }
    }

    /// Why nothing can run at this site, or nil when something can.
    public var unavailableReason: String? {
        if case .unavailable(let reason) = self { reason } else { nil }
    }

    /// The argument prefix that runs a command at this site (`ip netns exec NAME`);
    /// an agent's site has none, since a command started here would run here.
    public var commandPrefix: [String] {
        get throws(ProbeError) {
            switch self {
            case .current: []
            case .namespace(let name): ["ip", "netns", "exec", name]
            case .agent: throw .agentSite(self)
            case .unavailable(let reason): throw ProbeError(site: self, reason)
            }
        }
    }
}

/// Why a probe could not be carried out at all (as opposed to a probe outcome).
public struct ProbeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var site: ProbeSite
    public var message: String

    public init(site: ProbeSite, _ message: String) {
        self.site = site
        self.message = message
    }

    public var description: String { "\(site): \(message)" }

    /// The refusal to run anything locally for an agent's site.
    package static func agentSite(_ site: ProbeSite) -> ProbeError {
        ProbeError(site: site, "probes from an agent go through its control channel (the testbed routes them)")
    }
}

/// Runs work inside a network namespace. Network namespaces belong to threads, so
/// each call gets a fresh thread that enters the namespace with setns(2), runs the
/// body (sockets created there stay in that namespace) and ends; the caller's thread
/// never changes namespace. An agent's site is refused: it is not on this machine.
public enum NetworkNamespace {
    public static let directory = "/run/netns"

    public static func run<Result: Sendable>(in site: ProbeSite,
                                            _ body: @escaping @Sendable () throws -> Result) throws -> Result {
        let name: String
        switch site {
        case .current: return try body()
        case .namespace(let namespace): name = namespace
        case .agent: throw ProbeError.agentSite(site)
        case .unavailable(let reason): throw ProbeError(site: site, reason)
        }
        let outcome = Mutex<Swift.Result<Result, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            let result = Swift.Result<Result, any Error> {
                try enter(name)
                return try body()
            }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        finished.wait()
        guard let result = outcome.withLock({ $0 }) else {
            throw ProbeError(site: site, "the namespace thread ended without a result")
        }
        return try result.get()
    }

    /// Runs `bodies` concurrently, each on its own thread inside `site`, at most
    /// `concurrency` at a time; results come back in input order.
    public static func runAll<Result: Sendable>(in site: ProbeSite, concurrency: Int,
                                                _ bodies: [@Sendable () throws -> Result]) throws -> [Result] {
        if case .agent = site { throw ProbeError.agentSite(site) }
        if let reason = site.unavailableReason { throw ProbeError(site: site, reason) }
        var results: [Result] = []
        results.reserveCapacity(bodies.count)
        var start = 0
        while start < bodies.count {
            let chunk = Array(bodies[start..<min(bodies.count, start + max(1, concurrency))])
            let slots = Mutex<[Swift.Result<Result, any Error>?]>(Array(repeating: nil, count: chunk.count))
            let group = DispatchGroup()
            for (index, body) in chunk.enumerated() {
                group.enter()
                let thread = Thread {
                    let result = Swift.Result<Result, any Error> { try enterIfNeeded(site); return try body() }
                    slots.withLock { $0[index] = result }
                    group.leave()
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
            group.wait()
            for slot in slots.withLock({ $0 }) {
                guard let slot else { throw ProbeError(site: site, "a probe thread ended without a result") }
                results.append(try slot.get())
            }
            start += chunk.count
        }
        return results
    }

    /// Why network namespaces cannot be created here (not root, no `ip`, no kernel
    /// support), or nil when they can: tries `ip netns add` with a throwaway name.
    public static func creationUnavailableReason() -> String? {
        let name = "dpucert-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try CommandRunner.run(["ip", "netns", "add", name])
        } catch {
            return "cannot create network namespaces: \(error)"
        }
        do {
            try CommandRunner.run(["ip", "netns", "delete", name])
        } catch {
            return "created network namespace \(name) but could not delete it: \(error)"
        }
        return nil
    }

    /// Whether a namespace of that name exists.
    public static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(directory)/\(name)")
    }

    private static func enterIfNeeded(_ site: ProbeSite) throws {
        if case .namespace(let name) = site { try enter(name) }
    }

    private static func enter(_ name: String) throws {
        let path = "\(directory)/\(name)"
        let fd = try SystemCall.check("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        try SystemCall.check("setns", path) { dpucert_enter_network_namespace(fd) }
    }
}
