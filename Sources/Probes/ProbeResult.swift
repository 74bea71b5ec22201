import Systems

/// How a probe was answered. Probes only classify; what is acceptable is decided by
/// the checks that read them.
public enum ProbeOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// The target answered positively: TCP handshake completed, UDP reply, echo reply,
    /// ARP/NDP answer.
    case open
    /// Something answered with a refusal: TCP RST or an ICMP/ICMPv6 error (port or
    /// host unreachable, administratively prohibited). The packet reached a stack.
    case answeredClosed = "answered-closed"
    /// Nothing came back within the timeout.
    case dropped
    /// The prober's own stack did not send it (no route, no such interface).
    case notSent = "not-sent"
}

/// What a probe sends.
public enum ProbeMethod: Sendable, Hashable, Codable, CustomStringConvertible {
    /// TCP connect; with `readsBanner`, an open connection is read briefly for a greeting.
    case tcpConnect(SocketEndpoint, readsBanner: Bool)
    /// One UDP datagram (named payload), answered by any datagram back.
    case udp(SocketEndpoint, payload: UDPPayload)
    /// ICMP or ICMPv6 echo request.
    case icmpEcho(IPAddress)
    /// ARP request (RFC 5227 probe form, sender address 0.0.0.0) on an interface.
    case arp(IPAddress, interface: String)
    /// IPv6 neighbour solicitation to the target's solicited-node group on an interface.
    case ndp(IPAddress, interface: String)

    /// The address the probe aims at.
    public var target: IPAddress {
        switch self {
        case .tcpConnect(let endpoint, _), .udp(let endpoint, _): endpoint.address
        case .icmpEcho(let address), .arp(let address, _), .ndp(let address, _): address
        }
    }

    public var description: String {
        switch self {
        case .tcpConnect(let endpoint, let banner): "tcp connect \(endpoint)" + (banner ? " (read banner)" : "")
        case .udp(let endpoint, let payload): "udp \(endpoint) payload \(payload.name) (\(payload.bytes.count) bytes)"
        case .icmpEcho(let address): "\(address.family == .ipv4 ? "icmp" : "icmpv6") echo \(address)"
        case .arp(let address, let interface): "arp who-has \(address) on \(interface)"
        case .ndp(let address, let interface): "ndp neighbour solicitation for \(address) on \(interface)"
        }
    }
}

/// One probe to run: method and timeout.
public struct ProbeRequest: Sendable, Hashable, Codable, CustomStringConvertible {
    public var method: ProbeMethod
    public var timeout: Duration

    public init(_ method: ProbeMethod, timeout: Duration = .seconds(1)) {
        self.method = method
        self.timeout = timeout
    }

    public static func tcp(_ endpoint: SocketEndpoint, readsBanner: Bool = false, timeout: Duration = .seconds(1)) -> ProbeRequest {
        ProbeRequest(.tcpConnect(endpoint, readsBanner: readsBanner), timeout: timeout)
    }

    public static func udp(_ endpoint: SocketEndpoint, payload: UDPPayload? = nil, timeout: Duration = .seconds(1)) -> ProbeRequest {
        ProbeRequest(.udp(endpoint, payload: payload ?? UDPPayload.wellKnown(port: endpoint.port)), timeout: timeout)
    }

    public static func icmpEcho(_ address: IPAddress, timeout: Duration = .seconds(1)) -> ProbeRequest {
        ProbeRequest(.icmpEcho(address), timeout: timeout)
    }

    public static func arp(_ address: IPAddress, on interface: String, timeout: Duration = .seconds(1)) -> ProbeRequest {
        ProbeRequest(.arp(address, interface: interface), timeout: timeout)
    }

    public static func ndp(_ address: IPAddress, on interface: String, timeout: Duration = .seconds(1)) -> ProbeRequest {
        ProbeRequest(.ndp(address, interface: interface), timeout: timeout)
    }

    public var description: String { "\(method), timeout \(timeout.evidenceText)" }
}

/// A probe as carried out: what, from where, how it was answered and by whom.
public struct ProbeResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var request: ProbeRequest
    public var site: ProbeSite
    public var outcome: ProbeOutcome
    /// What was observed ("connection refused (RST)", "banner \"SSH-2.0-...\"").
    public var detail: String
    /// The address or MAC of whoever answered, when the answer says so.
    public var answeredBy: String?
    public var elapsed: Duration

    public init(request: ProbeRequest, site: ProbeSite, outcome: ProbeOutcome, detail: String,
                answeredBy: String? = nil, elapsed: Duration) {
        self.request = request
        self.site = site
        self.outcome = outcome
        self.detail = detail
        self.answeredBy = answeredBy
        self.elapsed = elapsed
    }

    /// One evidence line: `from netns LAB-host: tcp connect 198.19.0.2:22, timeout 1 s → dropped (no answer within 1 s)`.
    public var description: String {
        let by = answeredBy.map { ", answered by \($0)" } ?? ""
        return "from \(site): \(request) → \(outcome.rawValue) (\(detail)\(by); \(elapsed.evidenceText))"
    }
}

extension Duration {
    /// `1 s`, `250 ms`, `3.2 ms`: compact and unambiguous in evidence lines.
    public var evidenceText: String {
        let (seconds, attoseconds) = components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        if milliseconds >= 1000 {
            let value = milliseconds / 1000
            return value == value.rounded() ? "\(Int(value)) s" : "\((value * 100).rounded() / 100) s"
        }
        if milliseconds >= 10 || milliseconds == milliseconds.rounded() { return "\(Int(milliseconds.rounded())) ms" }
        return "\((milliseconds * 10).rounded() / 10) ms"
    }
}
