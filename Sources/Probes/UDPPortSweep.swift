import CNetShims
import Glibc
import Synchronization
import Systems

/// How a UDP port sweep paces itself. Every port gets one datagram (the protocol's
/// request where one is known, `UDPPayload.generic` otherwise) from one socket, at most
/// `packetsPerSecond`; answers are collected while sending and for `linger` after the
/// last datagram. A full sweep of 65535 ports takes 65535 / packetsPerSecond + linger:
/// with the defaults about 1.3 s over a veth.
public struct UDPSweepOptions: Sendable, Hashable, Codable {
    public var packetsPerSecond: Int
    public var linger: Duration

    public init(packetsPerSecond: Int = 100_000, linger: Duration = .milliseconds(600)) {
        self.packetsPerSecond = packetsPerSecond
        self.linger = linger
    }
}

/// A port of a UDP sweep that drew an answer.
public struct UDPPortAnswer: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A datagram came back from the port: something listens and answers.
        case reply
        /// ICMP port unreachable: the datagram reached the target's stack (passed any
        /// firewall on the way) and nothing listens there.
        case portUnreachable = "port-unreachable"
        /// Another ICMP error (administratively prohibited, host unreachable) from a
        /// router or firewall that rejects rather than drops.
        case otherError = "icmp-error"
    }

    public var port: UInt16
    public var kind: Kind
    /// What came back: the reply's size and first line, or the ICMP message and sender.
    public var detail: String

    public init(port: UInt16, kind: Kind, detail: String) {
        self.port = port
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "udp/\(port) \(kind.rawValue) (\(detail))" }
}

/// The result of a UDP sweep over a port range of one address.
public struct UDPSweepResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var site: ProbeSite
    public var target: IPAddress
    public var ports: ClosedRange<UInt16>
    public var options: UDPSweepOptions
    /// Ports that drew an answer, in port order (the first answer of each).
    public var answers: [UDPPortAnswer]
    /// Datagrams the local stack would not send (no route), with the reason of the first.
    public var notSent: Int
    public var notSentReason: String?
    /// ICMP errors our own stack raised (neighbour resolution failed): nobody answered.
    public var localErrors: Int
    public var elapsed: Duration

    public init(site: ProbeSite, target: IPAddress, ports: ClosedRange<UInt16>, options: UDPSweepOptions,
                answers: [UDPPortAnswer], notSent: Int, notSentReason: String?, localErrors: Int, elapsed: Duration) {
        self.site = site
        self.target = target
        self.ports = ports
        self.options = options
        self.answers = answers
        self.notSent = notSent
        self.notSentReason = notSentReason
        self.localErrors = localErrors
        self.elapsed = elapsed
    }

    /// How many ports the sweep covered.
    public var portCount: Int { ports.count }

    public func answers(_ kind: UDPPortAnswer.Kind) -> [UDPPortAnswer] { answers.filter { $0.kind == kind } }

    /// Ports that stayed silent (dropped, or open and quiet).
    public var silentCount: Int { portCount - answers.count - notSent }

    public var description: String {
        let shown = answers.prefix(12).map(\.description).joined(separator: "; ")
        let more = answers.count > 12 ? "; ... \(answers.count - 12) more" : ""
        return "from \(site): udp sweep \(target) ports \(ports.lowerBound)-\(ports.upperBound) "
            + "(\(options.packetsPerSecond) datagrams/s, linger \(options.linger.evidenceText)) in \(elapsed.evidenceText) → "
            + "replies: \(answers(.reply).count); port-unreachable: \(answers(.portUnreachable).count); "
            + "other ICMP errors: \(answers(.otherError).count); silent: \(silentCount) ports; "
            + "not sent: \(notSent)\(notSentReason.map { " (\($0))" } ?? "")"
            + (answers.isEmpty ? "" : " [\(shown)\(more)]")
    }
}

extension Prober {
    /// Sends one datagram to every port of `ports` on `address` and sorts the answers:
    /// replies, ICMP port-unreachable, other ICMP errors. Silence is not an outcome of a
    /// port here: a dropped datagram and a quiet listener look alike from outside.
    /// One sweep runs at a time per process, like a TCP scan.
    public static func sweepUDP(_ address: IPAddress, ports: ClosedRange<UInt16> = 1...65535, from site: ProbeSite,
                                sources: [IPAddress] = [], options: UDPSweepOptions = UDPSweepOptions()) throws -> UDPSweepResult {
        let source = try SourceAddresses(sources, site: site).source(toward: address)
        return try sweepLock.withLock { _ throws in
            try NetworkNamespace.run(in: site) {
                var sweep = try UDPSweep(address: address, source: source)
                let started = ContinuousClock.now
                try sweep.run(ports, options: options)
                return UDPSweepResult(site: site, target: address, ports: ports, options: options,
                                      answers: sweep.answers.values.sorted { $0.port < $1.port }, notSent: sweep.notSent,
                                      notSentReason: sweep.notSentReason, localErrors: sweep.localErrors,
                                      elapsed: started.duration(to: .now))
            }
        }
    }

    private static let sweepLock = Mutex(())
}

private struct UDPSweep {
    let address: IPAddress
    let socket: Socket
    /// The source the sweep leaves from: an ICMP error from it is our own stack's.
    let ownAddress: IPAddress?
    var answers: [UInt16: UDPPortAnswer] = [:]
    var notSent = 0
    var notSentReason: String?
    var localErrors = 0

    init(address: IPAddress, source: IPAddress?) throws {
        self.address = address
        socket = try Socket(family: address.family, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            label: "udp sweep")
        try socket.enableErrorQueue(family: address.family)
        // Replies and errors wait here while datagrams go out.
        try socket.setReceiveBuffer(4 << 20)
        if let source { try socket.bindSource(source, stream: false) }
        ownAddress = source
    }

    mutating func run(_ ports: ClosedRange<UInt16>, options: UDPSweepOptions) throws {
        defer { socket.close() }
        let rate = max(1, options.packetsPerSecond)
        let started = ContinuousClock.now
        var sent = 0
        for port in ports {
            // Ahead of the pace: collect answers until this datagram is due.
            let due = started + .nanoseconds(Int64(sent) * 1_000_000_000 / Int64(rate))
            if ContinuousClock.now < due { try collect(until: due) }
            try send(to: port)
            sent += 1
        }
        try collect(until: .now + options.linger)
    }

    private mutating func send(to port: UInt16) throws {
        let endpoint = SocketEndpoint(address, port)
        var attempts = 0
        while true {
            do {
                try socket.send(UDPPayload.wellKnown(port: port).bytes, to: endpoint)
                return
            } catch {
                if error.code == EAGAIN || error.code == ENOBUFS {
                    // The send queue is full: collect answers, then try again.
                    try collect(until: .now + .milliseconds(1))
                    continue
                }
                attempts += 1
                // An earlier datagram's ICMP error is reported once, on the next send,
                // which then did not leave (the error itself waits on the error queue).
                if attempts < 3 && Self.reportedErrors.contains(error.code) { continue }
                if let observation = Observation.notSent(error) {
                    notSent += 1
                    notSentReason = notSentReason ?? observation.detail
                    return
                }
                throw error
            }
        }
    }

    /// What a send or receive returns when an ICMP error of an earlier datagram arrived.
    private static let reportedErrors: Set<Int32> = [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, EPROTO]

    /// Reads replies and queued ICMP errors until `deadline`, and whatever is queued then.
    private mutating func collect(until deadline: ContinuousClock.Instant) throws {
        while true {
            try drain()
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            _ = try socket.waitReadable(timeout: remaining)
        }
    }

    private mutating func drain() throws {
        while true {
            while let error = socket.takeQueuedError() { record(error) }
            do {
                guard let (bytes, sender) = try socket.receiveFromIfReady(limit: 2048) else { return }
                guard let sender, sender.address.unscoped == address.unscoped, answers[sender.port]?.kind != .reply else { continue }
                answers[sender.port] = UDPPortAnswer(port: sender.port, kind: .reply,
                                                     detail: "\(bytes.count)-byte reply \"\(Printable.firstLine(bytes))\"")
            } catch {
                // The ICMP error reported on this receive waits on the error queue.
                guard Self.reportedErrors.contains(error.code) else { throw error }
            }
        }
    }

    private mutating func record(_ error: QueuedSocketError) {
        guard let destination = error.destination, destination.address.unscoped == address.unscoped else { return }
        if error.origin == .local || (error.offender != nil && error.offender == ownAddress) {
            localErrors += 1
            return
        }
        guard answers[destination.port] == nil else { return }
        let isPortUnreachable = (error.origin == .icmp && error.icmpType == 3 && error.icmpCode == 3)
            || (error.origin == .icmp6 && error.icmpType == 1 && error.icmpCode == 4)
        let sender = error.offender.map { " from \($0)" } ?? ""
        answers[destination.port] = UDPPortAnswer(port: destination.port, kind: isPortUnreachable ? .portUnreachable : .otherError,
                                                  detail: "\(error)\(sender)")
    }
}
