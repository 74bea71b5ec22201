import CNetShims
import Foundation
import Glibc
import Systems

/// A netdev as `ip link` and `ethtool` show it: administratively up, operationally up,
/// carrier, MTU and negotiated speed where the driver reports them.
public struct LinkState: Sendable, Hashable, Codable, CustomStringConvertible {
    public var interface: String
    public var site: ProbeSite
    /// False when the site has no netdev of that name; the other fields are then empty.
    public var exists: Bool
    public var isUp: Bool
    /// IFF_RUNNING: the kernel's operational state is up.
    public var isOperational: Bool
    /// ethtool's "Link detected"; nil where the driver does not say.
    public var carrier: Bool?
    public var mtu: Int?
    /// nil where the driver reports no speed (virtual functions, most virtual devices).
    public var speedMbps: Int?

    public init(interface: String, site: ProbeSite, exists: Bool, isUp: Bool = false, isOperational: Bool = false,
                carrier: Bool? = nil, mtu: Int? = nil, speedMbps: Int? = nil) {
        self.interface = interface
        self.site = site
        self.exists = exists
        self.isUp = isUp
        self.isOperational = isOperational
        self.carrier = carrier
        self.mtu = mtu
        self.speedMbps = speedMbps
    }

    /// Carrier as ethtool reports it, else the operational state the kernel derives from it.
    public var hasCarrier: Bool { carrier ?? isOperational }

    public var description: String {
        guard exists else { return "\(interface) at \(site): no such netdev" }
        let carrierText = carrier.map { $0 ? "carrier" : "no carrier" } ?? (isOperational ? "running" : "not running")
        return "\(interface) at \(site): \(isUp ? "up" : "down"), \(carrierText), mtu \(mtu.map(String.init) ?? "unknown"), "
            + "speed " + (speedMbps.map { "\($0) Mb/s" } ?? "not reported")
    }
}

/// How the largest packet that crosses a path is searched for: datagrams with the
/// don't-fragment bit, each echoed by the peer, sized as whole IP packets. The sizes
/// around `expected` are tried first, so a path that carries exactly that costs two
/// datagrams; otherwise a binary search finds the largest that crosses both ways.
public struct PathMTUOptions: Sendable, Hashable, Codable {
    public var expected: Int
    /// How often a size is sent before it counts as not crossing, and how long each waits.
    public var attempts: Int
    public var timeout: Duration

    public init(expected: Int, attempts: Int = 3, timeout: Duration = .milliseconds(250)) {
        self.expected = expected
        self.attempts = attempts
        self.timeout = timeout
    }

    /// The largest IP packet there is.
    public static let ceiling = 65535
}

/// One size tried: whether the echo came back, and what happened otherwise.
public struct PathMTUTrial: Sendable, Hashable, Codable, CustomStringConvertible {
    public var size: Int
    public var crossed: Bool
    public var detail: String

    public init(size: Int, crossed: Bool, detail: String) {
        self.size = size
        self.crossed = crossed
        self.detail = detail
    }

    public var description: String { "\(size) bytes \(crossed ? "crossed" : "did not cross") (\(detail))" }
}

/// What a path MTU search found: the largest IP packet that crossed to the echo peer
/// and back unfragmented (nil when not even the protocol's minimum did), and each size tried.
public struct PathMTUResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: TrafficPath
    public var options: PathMTUOptions
    public var largestCrossing: Int?
    public var trials: [PathMTUTrial]

    public init(path: TrafficPath, options: PathMTUOptions, largestCrossing: Int?, trials: [PathMTUTrial]) {
        self.path = path
        self.options = options
        self.largestCrossing = largestCrossing
        self.trials = trials
    }

    public var description: String {
        "path mtu \(path): largest packet crossing unfragmented "
            + (largestCrossing.map { "\($0) bytes" } ?? "none, not even the protocol's minimum")
            + "; tried " + trials.map(\.description).joined(separator: ", ")
    }
}

extension Prober {
    /// The state of `interface` at `site` (this process's namespace or another on this machine).
    public static func readLinkState(_ interface: String, at site: ProbeSite) throws -> LinkState {
        try NetworkNamespace.run(in: site) {
            let socket = try Socket(family: .ipv4, type: Int32(SOCK_DGRAM.rawValue), label: "link state of \(interface)")
            defer { socket.close() }
            var state = dpucert_link_state()
            do throws(SystemCallError) {
                try SystemCall.check("link state ioctls", interface) { dpucert_link_state(socket.descriptor, interface, &state) }
            } catch {
                guard error.code == ENODEV else { throw error }
                return LinkState(interface: interface, site: site, exists: false)
            }
            return LinkState(interface: interface, site: site, exists: true, isUp: state.flags & UInt32(IFF_UP) != 0,
                             isOperational: state.flags & UInt32(IFF_RUNNING) != 0,
                             carrier: state.carrier < 0 ? nil : state.carrier == 1, mtu: Int(state.mtu),
                             speedMbps: state.speed_mbps < 0 ? nil : Int(state.speed_mbps))
        }
    }

    /// The largest IP packet that crosses from `site` to a UDP echo peer and back
    /// unfragmented.
    public static func measurePathMTU(to echo: SocketEndpoint, from site: ProbeSite, sources: [IPAddress] = [],
                                      options: PathMTUOptions) throws -> PathMTUResult {
        let source = try SourceAddresses(sources, site: site).source(toward: echo.address)
        return try NetworkNamespace.run(in: site) {
            try PathMTUSearch(echo: echo, site: site, source: source, options: options).run()
        }
    }
}

/// The search behind `measurePathMTU`, on one connected UDP socket that sets the
/// don't-fragment bit and ignores any path MTU the kernel cached (PMTUDISC_PROBE): a
/// datagram too large for the sending netdev is refused at once (EMSGSIZE); one too
/// large for a hop further on is dropped there, and its echo never comes.
private struct PathMTUSearch {
    let echo: SocketEndpoint
    let site: ProbeSite
    let source: IPAddress?
    let options: PathMTUOptions

    /// IP and UDP headers: what a datagram adds to its payload in the packet.
    var headerBytes: Int { echo.address.family == .ipv4 ? 28 : 48 }
    /// The smallest packet every link must carry (RFC 791, RFC 8200).
    var floor: Int { echo.address.family == .ipv4 ? 576 : 1280 }

    func run() throws -> PathMTUResult {
        let socket = try Socket(family: echo.address.family, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                label: "path mtu")
        defer { socket.close() }
        try socket.setReceiveBuffer(1 << 20)
        if echo.address.family == .ipv4 {
            try socket.setOption(level: Int32(IPPROTO_IP), name: IP_MTU_DISCOVER, value: IP_PMTUDISC_PROBE, "IP_MTU_DISCOVER")
        } else {
            try socket.setOption(level: Int32(IPPROTO_IPV6), name: IPV6_MTU_DISCOVER, value: IPV6_PMTUDISC_PROBE, "IPV6_MTU_DISCOVER")
        }
        if let source { try socket.bindSource(source, stream: false) }
        _ = try socket.connect(echo)
        let local = try socket.localEndpoint()?.address
        var trials: [PathMTUTrial] = []
        var sequence: UInt64 = 0
        func crosses(_ size: Int) throws -> Bool {
            sequence += 1
            let trial = try self.trial(size, sequence: sequence, on: socket)
            trials.append(trial)
            return trial.crossed
        }
        let expected = min(max(options.expected, floor), PathMTUOptions.ceiling)
        var largest: Int?
        if try crosses(expected) {
            let larger = expected < PathMTUOptions.ceiling ? try crosses(expected + 1) : false
            largest = larger ? try search(above: expected + 1, below: PathMTUOptions.ceiling + 1, crosses) : expected
        } else if expected > floor {
            let minimum = try crosses(floor)
            largest = minimum ? try search(above: floor, below: expected, crosses) : nil
        }
        return PathMTUResult(path: TrafficPath(site: site, source: local, target: echo), options: options,
                             largestCrossing: largest, trials: trials)
    }

    /// The largest size that crosses, given that `low` does and `high` does not.
    private func search(above low: Int, below high: Int, _ crosses: (Int) throws -> Bool) throws -> Int {
        var low = low, high = high
        while high - low > 1 {
            let middle = (low + high) / 2
            if try crosses(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// Sends a packet of `size` bytes up to `attempts` times; crossed when its echo comes back whole.
    private func trial(_ size: Int, sequence: UInt64, on socket: Socket) throws -> PathMTUTrial {
        var datagram = [UInt8](repeating: 0x6d, count: max(8, size - headerBytes))
        datagram.withUnsafeMutableBytes { $0.storeBytes(of: sequence, as: UInt64.self) }
        for _ in 0..<max(1, options.attempts) {
            do {
                _ = try socket.send(datagram)
            } catch {
                if error.code == EMSGSIZE {
                    return PathMTUTrial(size: size, crossed: false, detail: "larger than the sending netdev's MTU")
                }
                guard [EAGAIN, ENOBUFS, ECONNREFUSED].contains(error.code) else { throw error }
                continue
            }
            let deadline = ContinuousClock.now + options.timeout
            while ContinuousClock.now < deadline {
                guard try socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
                let reply: [UInt8]?
                do {
                    reply = try socket.receiveIfReady(limit: 65536)
                } catch {
                    // An ICMP error for this or an earlier datagram: not an echo.
                    guard [ECONNREFUSED, EMSGSIZE, EHOSTUNREACH].contains(error.code) else { throw error }
                    continue
                }
                guard let reply, reply.count == datagram.count,
                      reply.withUnsafeBytes({ $0.loadUnaligned(as: UInt64.self) }) == sequence else { continue }
                return PathMTUTrial(size: size, crossed: true, detail: "echoed")
            }
        }
        return PathMTUTrial(size: size, crossed: false, detail: "no echo in \(options.attempts) tries of \(options.timeout.evidenceText)")
    }
}
