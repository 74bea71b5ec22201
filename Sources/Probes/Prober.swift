// Probes: measurement without judgement. Reachability probes (TCP connect, UDP,
// ICMP/ICMPv6 echo, ARP, NDP, all-nodes echo), a TCP port scanner, listening-socket
// and nftables-counter readers, all runnable from inside a network namespace; the
// typed POSIX socket layer and the process runner they and the Agent build on; and
// `LabTopology`, the description of host, DPU, OOB network, peer and tenants that
// checks probe against. Each result says what was probed, from where, with what,
// and how it was answered. Thresholds and verdicts belong to Certification.
import Glibc

/// Runs probes from a site. Every entry point measures and classifies; none judges.
/// Errors thrown are infrastructure failures (namespace missing, socket refused by
/// the local kernel for lack of privilege), never probe outcomes.
public enum Prober {
    /// Runs one probe from `site`.
    public static func run(_ request: ProbeRequest, from site: ProbeSite) throws -> ProbeResult {
        try NetworkNamespace.run(in: site) { try perform(request, site: site) }
    }

    /// Runs probes concurrently from `site` (at most `concurrency` in flight), so a
    /// list of dropped targets costs about one timeout, not one per target.
    public static func run(_ requests: [ProbeRequest], from site: ProbeSite, concurrency: Int = 64) throws -> [ProbeResult] {
        try NetworkNamespace.runAll(in: site, concurrency: concurrency, requests.map { request in
            { @Sendable in try perform(request, site: site) }
        })
    }

    /// Probes every port of `UDPPayload.standardList` (or `targets`) on `address`.
    public static func sweepUDP(_ address: IPAddress, targets: [UDPProbeTarget] = UDPPayload.standardList,
                                from site: ProbeSite, timeout: Duration = .seconds(1)) throws -> [ProbeResult] {
        try run(targets.map { .udp(SocketEndpoint(address, $0.port), payload: $0.payload, timeout: timeout) }, from: site)
    }

    static func perform(_ request: ProbeRequest, site: ProbeSite) throws -> ProbeResult {
        let started = ContinuousClock.now
        let observation: Observation
        switch request.method {
        case .tcpConnect(let endpoint, let readsBanner):
            observation = try TCPProbe.connect(endpoint, timeout: request.timeout, readsBanner: readsBanner)
        case .udp(let endpoint, let payload):
            observation = try UDPProbe.exchange(endpoint, payload: payload.bytes, timeout: request.timeout)
        case .icmpEcho(let address):
            observation = try ICMPEcho.ping(address, timeout: request.timeout)
        case .arp(let address, let interface):
            observation = try NeighbourProbe.arp(address, interface: interface, timeout: request.timeout)
        case .ndp(let address, let interface):
            observation = try NeighbourProbe.ndp(address, interface: interface, timeout: request.timeout)
        }
        return ProbeResult(request: request, site: site, outcome: observation.outcome, detail: observation.detail,
                           answeredBy: observation.answeredBy, elapsed: started.duration(to: .now))
    }
}

/// What one probe saw, before it is stamped with request, site and time.
struct Observation {
    var outcome: ProbeOutcome
    var detail: String
    var answeredBy: String? = nil

    static func dropped(_ timeout: Duration) -> Observation {
        Observation(outcome: .dropped, detail: "no answer within \(timeout.evidenceText)")
    }

    /// Classifies a synchronous send/connect failure: the local stack refused.
    static func notSent(_ error: SystemCallError) -> Observation? {
        switch error.code {
        case ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENODEV, ENXIO, EINVAL, EAFNOSUPPORT:
            Observation(outcome: .notSent, detail: "not sent: \(String(cString: strerror(error.code))) (\(error.symbol))")
        default:
            nil
        }
    }

    /// Classifies an asynchronous socket error (from SO_ERROR or recv) with the queued
    /// ICMP report when there is one. An ICMP error our own stack generated (failed
    /// neighbour resolution) means nobody answered.
    static func fromAsyncError(_ code: Int32, queued: QueuedSocketError?, localAddress: IPAddress?, timeout: Duration) -> Observation {
        if code == ETIMEDOUT { return .dropped(timeout) }
        if let queued, let offender = queued.offender, let localAddress, offender.unscoped == localAddress.unscoped {
            return Observation(outcome: .dropped, detail: "no answer: own stack reported \(queued) (neighbour resolution failed)")
        }
        if code == ECONNREFUSED && queued == nil {
            return Observation(outcome: .answeredClosed, detail: "connection refused (RST)")
        }
        let what = queued.map(\.description) ?? "\(String(cString: strerror(code))) (\(Errno.symbol(code)))"
        return Observation(outcome: .answeredClosed, detail: what, answeredBy: queued?.offender?.description)
    }
}
