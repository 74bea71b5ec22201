import CNetShims
import Glibc
import Synchronization
import Systems

/// How a TCP port scan paces itself: `window` connects in flight at once (capped by
/// the open-file limit), each given up after `timeout`. Dropped ports cost one
/// timeout per window, so a full scan takes about 65535 / window × timeout: with the
/// defaults about 1.5 s over a veth.
public struct PortScanOptions: Sendable, Hashable, Codable {
    public var window: Int
    public var timeout: Duration

    public init(window: Int = 16384, timeout: Duration = .milliseconds(300)) {
        self.window = window
        self.timeout = timeout
    }
}

/// The result of a TCP connect scan over a port range of one address.
public struct PortScanResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var site: ProbeSite
    public var target: IPAddress
    public var ports: ClosedRange<UInt16>
    public var options: PortScanOptions
    /// Ports whose handshake completed.
    public var open: [UInt16]
    /// Ports answered with RST or an ICMP error.
    public var answeredClosed: [UInt16]
    /// Ports the local stack would not send to (no route).
    public var notSent: [UInt16]
    /// How many ports stayed silent.
    public var droppedCount: Int
    public var elapsed: Duration

    public init(site: ProbeSite, target: IPAddress, ports: ClosedRange<UInt16>, options: PortScanOptions,
                open: [UInt16], answeredClosed: [UInt16], notSent: [UInt16], droppedCount: Int, elapsed: Duration) {
        self.site = site
        self.target = target
        self.ports = ports
        self.options = options
        self.open = open
        self.answeredClosed = answeredClosed
        self.notSent = notSent
        self.droppedCount = droppedCount
        self.elapsed = elapsed
    }

    public var description: String {
        "from \(site): tcp connect scan \(target) ports \(ports.lowerBound)-\(ports.upperBound) "
            + "(window \(options.window), timeout \(options.timeout.evidenceText)) in \(elapsed.evidenceText) → "
            + "open: \(Self.list(open)); answered-closed: \(Self.list(answeredClosed)); "
            + "dropped: \(droppedCount) ports; not sent: \(Self.list(notSent))"
    }

    private static func list(_ ports: [UInt16]) -> String {
        if ports.isEmpty { return "none" }
        if ports.count > 12 { return "\(ports.count) ports (\(ports.prefix(8).map(String.init).joined(separator: ", ")), ...)" }
        return ports.map(String.init).joined(separator: ", ")
    }
}

extension Prober {
    /// Scans `ports` of `address` with non-blocking connects, `options.window` at a time,
    /// each from the source of the address's family in `sources` when there is one.
    /// One scan runs at a time per process: each may hold most of the descriptor limit.
    public static func scanTCP(_ address: IPAddress, ports: ClosedRange<UInt16> = 1...65535, from site: ProbeSite,
                               sources: [IPAddress] = [], options: PortScanOptions = PortScanOptions()) throws -> PortScanResult {
        let source = try SourceAddresses(sources, site: site).source(toward: address)
        return try scanLock.withLock { _ throws in
            try scanTCPLocked(address, ports: ports, from: site, source: source, options: options)
        }
    }

    private static let scanLock = Mutex(())

    private static func scanTCPLocked(_ address: IPAddress, ports: ClosedRange<UInt16>, from site: ProbeSite,
                                      source: IPAddress?, options: PortScanOptions) throws -> PortScanResult {
        try NetworkNamespace.run(in: site) {
            let started = ContinuousClock.now
            var scan = try PortScan(address: address, source: source, options: options)
            try scan.run(ports)
            return PortScanResult(site: site, target: address, ports: ports, options: options,
                                  open: scan.open.sorted(), answeredClosed: scan.answeredClosed.sorted(),
                                  notSent: scan.notSent.sorted(), droppedCount: scan.droppedCount,
                                  elapsed: started.duration(to: .now))
        }
    }
}

private struct PortScan {
    let address: IPAddress
    let source: IPAddress?
    let timeout: Duration
    let window: Int
    var open: [UInt16] = []
    var answeredClosed: [UInt16] = []
    var notSent: [UInt16] = []
    var droppedCount = 0

    private struct Attempt {
        let fd: Int32
        let port: UInt16
        let deadline: ContinuousClock.Instant
    }

    init(address: IPAddress, source: IPAddress?, options: PortScanOptions) throws {
        self.address = address
        self.source = source
        self.timeout = options.timeout
        self.window = max(1, min(options.window, DescriptorLimit.raise() - 64))
    }

    mutating func run(_ ports: ClosedRange<UInt16>) throws {
        var next = Int(ports.lowerBound)
        let last = Int(ports.upperBound)
        var inFlight: [Attempt] = []
        inFlight.reserveCapacity(window)
        defer { for attempt in inFlight { close(attempt.fd) } }
        while next <= last || !inFlight.isEmpty {
            while next <= last && inFlight.count < window {
                if let attempt = try start(UInt16(next)) { inFlight.append(attempt) }
                next += 1
            }
            guard let earliest = inFlight.first?.deadline else { continue }
            var entries = inFlight.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
            let ready = poll(&entries, nfds_t(entries.count), Poll.milliseconds(until: earliest))
            if ready < 0 && errno != EINTR {
                throw SystemCallError("poll", subject: "port scan of \(address)", code: errno)
            }
            let now = ContinuousClock.now
            var remaining: [Attempt] = []
            remaining.reserveCapacity(inFlight.count)
            for (attempt, entry) in zip(inFlight, entries) {
                if entry.revents != 0 {
                    classify(attempt)
                } else if now >= attempt.deadline {
                    droppedCount += 1
                    close(attempt.fd)
                } else {
                    remaining.append(attempt)
                }
            }
            inFlight = remaining
        }
    }

    /// Opens a socket and starts its connect; nil when the port was settled at once.
    private mutating func start(_ port: UInt16) throws -> Attempt? {
        let socket = try Socket(family: address.family,
                                type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), label: "port scan")
        if let source { try socket.bindSource(source, stream: true) }
        do {
            if try socket.connect(SocketEndpoint(address, port)) {
                open.append(port)
                return nil
            }
        } catch {
            if error.code == ECONNREFUSED {
                answeredClosed.append(port)
            } else if Observation.notSent(error) != nil {
                notSent.append(port)
            } else {
                throw error
            }
            return nil
        }
        return Attempt(fd: socket.releaseDescriptor(), port: port, deadline: .now + timeout)
    }

    private mutating func classify(_ attempt: Attempt) {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(attempt.fd, SOL_SOCKET, SO_ERROR, &code, &length)
        close(attempt.fd)
        switch code {
        case 0: open.append(attempt.port)
        case ETIMEDOUT: droppedCount += 1
        default: answeredClosed.append(attempt.port)
        }
    }
}

/// The process's open-file limit, raised once to its hard maximum so wide scan
/// windows fit.
enum DescriptorLimit {
    private static let raised = Mutex<Int?>(nil)

    static func raise() -> Int {
        raised.withLock { value in
            if let value { return value }
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
            if limit.rlim_cur < limit.rlim_max {
                var wanted = limit
                wanted.rlim_cur = limit.rlim_max
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &wanted) == 0 { limit = wanted }
            }
            let result = Int(clamping: limit.rlim_cur)
            value = result
            return result
        }
    }
}
