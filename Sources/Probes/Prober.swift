// Probes: measurement without judgement. Reachability probes (TCP connect, UDP,
// ICMP/ICMPv6 echo, ARP, NDP, all-nodes echo), a TCP port scanner, listening-socket
// and nftables-counter readers, all runnable from inside a network namespace and from
// a chosen source address (an agent's site is reached only through its agent), built
// on the socket layer and process runner of Systems. Each result says what was probed,
// from where, with what, and how it was answered. Thresholds and verdicts belong to
// Certification.
import Glibc
import Systems

/// Runs probes from a site. Every entry point measures and classifies; none judges.
/// Errors thrown are infrastructure failures (namespace missing, socket refused by
/// the local kernel for lack of privilege, a source address this site lacks), never
/// probe outcomes.
///
/// `sources` fixes where probes leave from: a TCP, UDP or echo probe to an address
/// of one family binds to the source of that family, so a multi-homed site probes
/// from the network it stands for and firewalls on the way see that address. At most
/// one source per family; without one the kernel's route picks it. Link-layer probes
/// (ARP, NDP, all-nodes echo) name their interface and ignore sources.
public enum Prober {
    /// Probes a site runs at once unless told otherwise.
    public static let defaultConcurrency = 64

    /// Runs one probe from `site`.
    public static func run(_ request: ProbeRequest, from site: ProbeSite, sources: [IPAddress] = []) throws -> ProbeResult {
        let sources = try SourceAddresses(sources, site: site)
        return try NetworkNamespace.run(in: site) { try perform(request, site: site, sources: sources) }
    }

    /// Runs probes concurrently from `site` (at most `concurrency` in flight), so a
    /// list of dropped targets costs about one timeout, not one per target.
    public static func run(_ requests: [ProbeRequest], from site: ProbeSite, sources: [IPAddress] = [],
                           concurrency: Int = defaultConcurrency) throws -> [ProbeResult] {
        let sources = try SourceAddresses(sources, site: site)
        return try NetworkNamespace.runAll(in: site, concurrency: concurrency, requests.map { request in
            { @Sendable in try perform(request, site: site, sources: sources) }
        })
    }

    /// The longest `run(requests, concurrency:)` can take: probes go in batches of
    /// `concurrency`, each lasting at most its longest timeout (plus the banner read),
    /// with a second per batch for threads and sockets.
    public static func longestDuration(of requests: [ProbeRequest], concurrency: Int = defaultConcurrency) -> Duration {
        let batchSize = max(1, concurrency)
        return stride(from: 0, to: requests.count, by: batchSize).reduce(Duration.zero) { total, start in
            let batch = requests[start..<min(requests.count, start + batchSize)]
            return total + (batch.map(longestDuration(of:)).max() ?? .zero) + .seconds(1)
        }
    }

    private static func longestDuration(of request: ProbeRequest) -> Duration {
        guard case .tcpConnect(_, readsBanner: true) = request.method else { return request.timeout }
        return request.timeout + TCPProbe.bannerWait
    }

    /// Why `sources` cannot serve as probe sources (two addresses of one family), or nil.
    public static func sourceConflict(in sources: [IPAddress]) -> String? {
        for (index, source) in sources.enumerated() {
            if let other = sources[..<index].first(where: { $0.family == source.family }) {
                return "at most one source address per family, found \(other) and \(source)"
            }
        }
        return nil
    }

    static func perform(_ request: ProbeRequest, site: ProbeSite, sources: SourceAddresses) throws -> ProbeResult {
        let started = ContinuousClock.now
        let observation: Observation
        switch request.method {
        case .tcpConnect(let endpoint, let readsBanner):
            observation = try TCPProbe.connect(endpoint, from: sources.source(toward: endpoint.address),
                                               timeout: request.timeout, readsBanner: readsBanner)
        case .udp(let endpoint, let payload):
            observation = try UDPProbe.exchange(endpoint, from: sources.source(toward: endpoint.address),
                                                payload: payload.bytes, timeout: request.timeout)
        case .icmpEcho(let address):
            observation = try ICMPEcho.ping(address, from: sources.source(toward: address), timeout: request.timeout)
        case .arp(let address, let interface):
            observation = try NeighbourProbe.arp(address, interface: interface, timeout: request.timeout)
        case .ndp(let address, let interface):
            observation = try NeighbourProbe.ndp(address, interface: interface, timeout: request.timeout)
        }
        return ProbeResult(request: request, site: site, outcome: observation.outcome, detail: observation.detail,
                           answeredBy: observation.answeredBy, elapsed: started.duration(to: .now))
    }
}

/// The source address per family that probes bind to, checked once per call.
struct SourceAddresses: Sendable {
    private let addresses: [IPAddress]

    init(_ addresses: [IPAddress], site: ProbeSite) throws(ProbeError) {
        if let conflict = Prober.sourceConflict(in: addresses) { throw ProbeError(site: site, conflict) }
        self.addresses = addresses
    }

    /// The source for probes to `destination`, nil when the kernel is to choose.
    func source(toward destination: IPAddress) -> IPAddress? {
        addresses.first { $0.family == destination.family }
    }
}

extension Socket {
    /// Binds the source address of what this socket sends; the kernel picks the port.
    /// A stream socket leaves that to connect() (IP_BIND_ADDRESS_NO_PORT): a scan's
    /// thousands of sockets from one address then need distinct connections, not
    /// distinct ephemeral ports.
    func bindSource(_ address: IPAddress, stream: Bool) throws(SystemCallError) {
        if stream { try setOption(level: Int32(IPPROTO_IP), name: IP_BIND_ADDRESS_NO_PORT, value: 1, "IP_BIND_ADDRESS_NO_PORT") }
        try bind(SocketEndpoint(address, 0))
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
