import CNetShims
import Glibc
import Systems

/// ARP and NDP resolution sent directly on an interface (AF_PACKET for ARP, a raw
/// ICMPv6 socket for neighbour solicitations), whatever the routing table says: the
/// question is whether anyone on that link answers for the address.
enum NeighbourProbe {
    private static let arpEtherType: UInt16 = 0x0806
    private static let broadcast: [UInt8] = Array(repeating: 0xff, count: 6)

    static func arp(_ address: IPAddress, interface: String, timeout: Duration) throws -> Observation {
        guard address.family == .ipv4 else {
            return Observation(outcome: .notSent, detail: "not sent: ARP resolves IPv4 addresses only")
        }
        let index: UInt32
        do { index = try InterfaceIndex.lookup(interface) } catch { return Observation.notSent(error) ?? noInterface(interface) }
        let fd = try SystemCall.check("socket AF_PACKET", interface) { dpucert_packet_socket(Int32(index), arpEtherType) }
        let socket = Socket(descriptor: fd, label: "arp probe on \(interface)")
        defer { socket.close() }
        let mac = try hardwareAddress(of: interface, using: socket)
        // RFC 5227 probe: sender protocol address 0.0.0.0, so the answer does not
        // depend on the prober's own addressing and teaches the target nothing.
        let request: [UInt8] = [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01] + mac + [0, 0, 0, 0]
            + Array(repeating: 0, count: 6) + address.bytes
        do {
            try SystemCall.check("send ARP request", interface) {
                request.withUnsafeBytes { dpucert_packet_send(fd, Int32(index), arpEtherType, broadcast, $0.baseAddress, $0.count) }
            }
        } catch {
            if let observation = Observation.notSent(error) { return observation }
            throw error
        }
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 1500)
        while ContinuousClock.now < deadline {
            guard try socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
            var incoming: Int32 = 0
            let count = buffer.withUnsafeMutableBytes { dpucert_packet_receive(fd, $0.baseAddress, $0.count, &incoming) }
            guard count >= 28, incoming != 0 else { continue }
            let frame = Array(buffer.prefix(count))
            if frame[6] == 0 && frame[7] == 2 && Array(frame[14..<18]) == address.bytes {
                let answerer = MAC.text(Array(frame[8..<14]))
                return Observation(outcome: .open, detail: "ARP reply: \(address) is-at \(answerer)", answeredBy: answerer)
            }
        }
        return .dropped(timeout)
    }

    static func ndp(_ address: IPAddress, interface: String, timeout: Duration) throws -> Observation {
        guard address.family == .ipv6, let group = address.solicitedNodeMulticast else {
            return Observation(outcome: .notSent, detail: "not sent: NDP resolves IPv6 addresses only")
        }
        let index: UInt32
        do { index = try InterfaceIndex.lookup(interface) } catch { return Observation.notSent(error) ?? noInterface(interface) }
        let socket = try Socket(family: .ipv6, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                protocol: Int32(IPPROTO_ICMPV6), label: "ndp probe on \(interface)")
        defer { socket.close() }
        let ipv6 = Int32(IPPROTO_IPV6)
        try socket.setOption(level: ipv6, name: IPV6_MULTICAST_HOPS, value: 255, "IPV6_MULTICAST_HOPS")
        try socket.setOption(level: ipv6, name: IPV6_UNICAST_HOPS, value: 255, "IPV6_UNICAST_HOPS")
        try socket.setOption(level: ipv6, name: IPV6_MULTICAST_LOOP, value: 0, "IPV6_MULTICAST_LOOP")
        try socket.setOption(level: ipv6, name: IPV6_MULTICAST_IF, value: Int32(bitPattern: index), "IPV6_MULTICAST_IF")
        let mac = try hardwareAddress(of: interface, using: socket)
        // Neighbour solicitation (RFC 4861 4.3) with our link-layer address option.
        let solicitation: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + address.bytes + [1, 1] + mac
        do {
            try socket.send(solicitation, to: SocketEndpoint(group.scoped(to: interface), 0))
        } catch {
            if let observation = Observation.notSent(error) { return observation }
            throw error
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard try socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
            guard let (bytes, sender) = try socket.receiveFromIfReady(limit: 1500) else { continue }
            guard bytes.count >= 24, bytes[0] == 136, Array(bytes[8..<24]) == address.bytes else { continue }
            let answerer = targetLinkLayerAddress(Array(bytes[24...])).map(MAC.text) ?? sender?.address.description ?? "unknown"
            return Observation(outcome: .open, detail: "neighbour advertisement: \(address.unscoped) is-at \(answerer)",
                               answeredBy: answerer)
        }
        return .dropped(timeout)
    }

    private static func noInterface(_ interface: String) -> Observation {
        Observation(outcome: .notSent, detail: "not sent: no interface \(interface)")
    }

    private static func hardwareAddress(of interface: String, using socket: Socket) throws(SystemCallError) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 6)
        try SystemCall.check("SIOCGIFHWADDR", interface) { dpucert_interface_mac(socket.descriptor, interface, &mac) }
        return mac
    }

    /// The target link-layer address option (type 2) of an advertisement's options.
    private static func targetLinkLayerAddress(_ options: [UInt8]) -> [UInt8]? {
        var offset = 0
        while offset + 8 <= options.count {
            let length = Int(options[offset + 1]) * 8
            guard length > 0, offset + length <= options.count else { return nil }
            if options[offset] == 2 { return Array(options[(offset + 2)..<(offset + 8)]) }
            offset += length
        }
        return nil
    }
}

enum MAC {
    static func text(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
