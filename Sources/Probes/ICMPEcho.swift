import Glibc
import Synchronization
import Systems

/// Who answered an all-nodes (ff02::1) echo on one link: link-local neighbour discovery.
public struct MulticastEchoResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var site: ProbeSite
    public var interface: String
    /// Source addresses of the echo replies, scoped to `interface`, sorted.
    public var responders: [IPAddress]
    public var window: Duration

    public init(site: ProbeSite, interface: String, responders: [IPAddress], window: Duration) {
        self.site = site
        self.interface = interface
        self.responders = responders
        self.window = window
    }

    public var description: String {
        let list = responders.isEmpty ? "none" : responders.map(\.description).joined(separator: ", ")
        return "from \(site): icmpv6 echo ff02::1%\(interface), listening \(window.evidenceText) → responders: \(list)"
    }
}

extension Prober {
    /// How long all-nodes echo listens for replies unless told otherwise.
    public static let linkNeighbourWindow = Duration.milliseconds(500)

    /// Pings the all-nodes group on `interface` and lists every responder during `window`.
    public static func discoverLinkNeighbours(on interface: String, from site: ProbeSite,
                                              window: Duration = linkNeighbourWindow) throws -> MulticastEchoResult {
        try NetworkNamespace.run(in: site) {
            let allNodes = IPAddress(bytes: [0xff, 0x02] + Array(repeating: 0, count: 13) + [1], zone: interface)!
            let responders = try ICMPEcho.exchange(allNodes, timeout: window, collectAll: true).responders
            return MulticastEchoResult(site: site, interface: interface,
                                       responders: responders.map { $0.scoped(to: interface) }.sorted(), window: window)
        }
    }
}

enum ICMPEcho {
    private static let nextIdentifier = Atomic<UInt16>(UInt16.random(in: 1...UInt16.max))
    private static let payload = Array("dpucert-echo-probe-0123456".utf8)

    static func ping(_ address: IPAddress, from source: IPAddress?, timeout: Duration) throws -> Observation {
        try exchange(address, from: source, timeout: timeout, collectAll: false).observation
    }

    /// Sends one echo request (from `source` when given) and reads replies and errors
    /// about it until the first reply (or, with `collectAll`, until the timeout,
    /// gathering every replier).
    static func exchange(_ address: IPAddress, from source: IPAddress? = nil, timeout: Duration, collectAll: Bool) throws
        -> (observation: Observation, responders: [IPAddress]) {
        let family = address.family
        let identifier = nextIdentifier.add(1, ordering: .relaxed).newValue
        let sequence: UInt16 = 1
        let socket = try Socket(family: family, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                protocol: family == .ipv4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6), label: "icmp echo")
        defer { socket.close() }
        if let source { try socket.bindSource(source, stream: false) }
        if family == .ipv6 && address.isMulticast {
            try socket.setOption(level: Int32(IPPROTO_IPV6), name: IPV6_MULTICAST_LOOP, value: 0, "IPV6_MULTICAST_LOOP")
            if let zone = address.zone {
                try socket.setOption(level: Int32(IPPROTO_IPV6), name: IPV6_MULTICAST_IF,
                                     value: Int32(bitPattern: try InterfaceIndex.lookup(zone)), "IPV6_MULTICAST_IF")
            }
        }
        var request: [UInt8] = [family == .ipv4 ? 8 : 128, 0, 0, 0,
                                UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)] + payload
        if family == .ipv4 {
            let sum = Checksum.internet(request)
            request[2] = UInt8(sum >> 8)
            request[3] = UInt8(sum & 0xff)
        }
        do {
            try socket.send(request, to: SocketEndpoint(address, 0))
        } catch {
            if let observation = Observation.notSent(error) { return (observation, []) }
            throw error
        }

        var responders: [IPAddress] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard try socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
            guard let (bytes, sender) = try socket.receiveFromIfReady(limit: 2048) else { continue }
            guard let sender, let message = Message(bytes, family: family) else { continue }
            switch message.kind(identifier: identifier, sequence: sequence) {
            case .reply:
                if collectAll {
                    if !responders.contains(sender.address) { responders.append(sender.address) }
                } else if sender.address.unscoped == address.unscoped {
                    return (Observation(outcome: .open, detail: "echo reply", answeredBy: sender.address.description), [sender.address])
                }
            case .error(let type, let code) where !collectAll:
                return (Observation(outcome: .answeredClosed, detail: ICMPText.describe(family, type: type, code: code),
                                    answeredBy: sender.address.description), [])
            case .error, .unrelated:
                continue
            }
        }
        if collectAll && !responders.isEmpty {
            return (Observation(outcome: .open, detail: "\(responders.count) echo replies"), responders)
        }
        return (.dropped(timeout), responders)
    }

    /// An ICMP/ICMPv6 message as received on a raw socket (IPv4 includes the IP header).
    private struct Message {
        let icmp: [UInt8]
        let family: IPAddress.Family

        init?(_ bytes: [UInt8], family: IPAddress.Family) {
            self.family = family
            if family == .ipv4 {
                guard let first = bytes.first else { return nil }
                let headerLength = Int(first & 0x0f) * 4
                guard bytes.count >= headerLength + 8 else { return nil }
                icmp = Array(bytes[headerLength...])
            } else {
                guard bytes.count >= 8 else { return nil }
                icmp = bytes
            }
        }

        enum Kind { case reply, error(type: UInt8, code: UInt8), unrelated }

        func kind(identifier: UInt16, sequence: UInt16) -> Kind {
            let replyType: UInt8 = family == .ipv4 ? 0 : 129
            let requestType: UInt8 = family == .ipv4 ? 8 : 128
            let errorTypes: Set<UInt8> = family == .ipv4 ? [3, 11] : [1, 3]
            if icmp[0] == replyType {
                return Self.matches(Array(icmp[4...]), identifier, sequence) ? .reply : .unrelated
            }
            guard errorTypes.contains(icmp[0]) else { return .unrelated }
            // The error quotes our request: inner IP header, then the echo request header.
            let inner = Array(icmp[8...])
            let innerHeaderLength: Int
            if family == .ipv4 {
                guard let first = inner.first else { return .unrelated }
                innerHeaderLength = Int(first & 0x0f) * 4
            } else {
                innerHeaderLength = 40
            }
            guard inner.count >= innerHeaderLength + 8, inner[innerHeaderLength] == requestType,
                  Self.matches(Array(inner[(innerHeaderLength + 4)...]), identifier, sequence) else { return .unrelated }
            return .error(type: icmp[0], code: icmp[1])
        }

        private static func matches(_ bytes: [UInt8], _ identifier: UInt16, _ sequence: UInt16) -> Bool {
            bytes.count >= 4 && UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == identifier
                && UInt16(bytes[2]) << 8 | UInt16(bytes[3]) == sequence
        }
    }
}

enum Checksum {
    /// The Internet checksum (RFC 1071) of `bytes`.
    static func internet(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
