import Glibc

/// An IPv4 or IPv6 address; IPv6 link-local addresses carry the interface (zone)
/// they are reached through, as in `fe80::1%eth0`.
public struct IPAddress: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public enum Family: String, Sendable, Hashable, Codable {
        case ipv4, ipv6
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]
    /// The interface name of a scoped (link-local) IPv6 address.
    public let zone: String?

    /// Parses `198.18.0.1`, `2001:db8::1` or `fe80::1%eth0`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let literal = String(parts[0])
        let zone = parts.count == 2 ? String(parts[1]) : nil
        if zone?.isEmpty == true { return nil }
        if let v4 = Self.parse(literal, family: AF_INET, length: 4), zone == nil {
            self.bytes = v4
            self.zone = nil
        } else if let v6 = Self.parse(literal, family: AF_INET6, length: 16) {
            self.bytes = v6
            self.zone = zone
        } else {
            return nil
        }
    }

    /// An address from network-order bytes (4 or 16 of them).
    public init?(bytes: [UInt8], zone: String? = nil) {
        guard bytes.count == 4 && zone == nil || bytes.count == 16 else { return nil }
        self.bytes = bytes
        self.zone = zone
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "expected an IP address, found \"\(text)\""))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var family: Family { bytes.count == 4 ? .ipv4 : .ipv6 }

    /// 127.0.0.1.
    public static let loopbackV4 = IPAddress(bytes: [127, 0, 0, 1])!

    public var isLinkLocal: Bool {
        switch family {
        case .ipv4: bytes[0] == 169 && bytes[1] == 254
        case .ipv6: bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80
        }
    }

    /// 127.0.0.0/8 or ::1 (and ::ffff:127.0.0.0/104): reachable only from the machine itself.
    public var isLoopback: Bool {
        switch family {
        case .ipv4: bytes[0] == 127
        case .ipv6: bytes == Array(repeating: 0, count: 15) + [1] || (bytes[..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] && bytes[12] == 127)
        }
    }

    /// 0.0.0.0 or ::, the wildcard a socket binds to for every address of its machine.
    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }

    public var isMulticast: Bool {
        switch family {
        case .ipv4: bytes[0] & 0xf0 == 0xe0
        case .ipv6: bytes[0] == 0xff
        }
    }

    /// The same address reached through `interface` (meaningful for link-local IPv6).
    public func scoped(to interface: String) -> IPAddress {
        IPAddress(bytes: bytes, zone: family == .ipv6 ? interface : nil) ?? self
    }

    /// The address without its zone.
    public var unscoped: IPAddress { IPAddress(bytes: bytes) ?? self }

    /// The literal without the zone.
    public var literal: String {
        let family = family == .ipv4 ? AF_INET : AF_INET6
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let converted = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count))
        }
        guard converted != nil else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        zone.map { "\(literal)%\($0)" } ?? literal
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
        if lhs.bytes != rhs.bytes { return lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
        return (lhs.zone ?? "") < (rhs.zone ?? "")
    }

    /// The IPv6 solicited-node multicast group of this address (RFC 4291 2.7.1).
    public var solicitedNodeMulticast: IPAddress? {
        guard family == .ipv6 else { return nil }
        let group: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + bytes[13...]
        return IPAddress(bytes: group, zone: zone)
    }

    private static func parse(_ literal: String, family: Int32, length: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let parsed = buffer.withUnsafeMutableBytes { inet_pton(family, literal, $0.baseAddress) }
        return parsed == 1 ? Array(buffer.prefix(length)) : nil
    }
}

/// An address with its prefix length, as assigned to an interface (`198.19.0.2/24`).
public struct InterfaceAddress: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.bytes.count * 8 else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/LENGTH`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])),
              let length = Int(parts[1]) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = InterfaceAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "expected ADDRESS/LENGTH, found \"\(text)\""))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// The network's first address (host bits cleared).
    public var network: IPAddress {
        IPAddress(bytes: Self.masked(address.bytes, prefixLength)) ?? address
    }

    /// The network prefix itself (`198.19.0.0/24`).
    public var prefix: InterfaceAddress {
        InterfaceAddress(address: network, prefixLength: prefixLength) ?? self
    }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == address.family
            && Self.masked(other.bytes, prefixLength) == Self.masked(address.bytes, prefixLength)
    }

    /// Whether the two networks share any address.
    public func overlaps(_ other: InterfaceAddress) -> Bool {
        guard other.address.family == address.family else { return false }
        let shorter = min(prefixLength, other.prefixLength)
        return Self.masked(address.bytes, shorter) == Self.masked(other.address.bytes, shorter)
    }

    /// The address `offset` positions after the network address, in the same network.
    public func host(_ offset: Int) -> IPAddress? {
        var bytes = Self.masked(address.bytes, prefixLength)
        var carry = offset
        for index in bytes.indices.reversed() where carry > 0 {
            let sum = Int(bytes[index]) + carry
            bytes[index] = UInt8(sum & 0xff)
            carry = sum >> 8
        }
        guard carry == 0, let host = IPAddress(bytes: bytes), contains(host) else { return nil }
        return host
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, length - index * 8))
            return bits == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }
}

/// A transport-layer address: IP address and port.
public struct SocketEndpoint: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `198.18.0.2:7471`, `[2001:db8::2]:7471` or `[fe80::1%eth0]:22`.
    public init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), let port = UInt16(portText) else { return nil }
        if address.family == .ipv6 && !text.hasPrefix("[") { return nil }
        self.init(address, port)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = SocketEndpoint(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "expected ADDRESS:PORT, found \"\(text)\""))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    public static func < (lhs: SocketEndpoint, rhs: SocketEndpoint) -> Bool {
        lhs.address != rhs.address ? lhs.address < rhs.address : lhs.port < rhs.port
    }
}

/// TCP or UDP.
public enum TransportProtocol: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case tcp, udp

    public var description: String { rawValue }
}

/// A named service on a transport port (`tcp 7471 dpucert-agent-control`).
public struct NetworkService: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var transport: TransportProtocol
    public var port: UInt16

    public init(name: String, transport: TransportProtocol, port: UInt16) {
        self.name = name
        self.transport = transport
        self.port = port
    }

    public var description: String { "\(transport)/\(port) \(name)" }
}
