// IP addresses and firmware versions as profiles write them. Addresses are parsed with
// inet_pton (the parser the probes' sockets use) and rendered canonically.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Profile {
    /// An IPv4 address in dotted-quad form. `value` is in host byte order.
    public struct IPv4Address: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public let value: UInt32

        public init?(_ text: String) {
            var address = in_addr()
            guard text.withCString({ inet_pton(AF_INET, $0, &address) }) == 1 else { return nil }
            value = UInt32(bigEndian: address.s_addr)
        }

        /// Whether the address lies in `network/prefixLength`.
        public func isWithin(_ network: IPv4Address, prefixLength: Int) -> Bool {
            guard prefixLength > 0 else { return true }
            let mask = UInt32.max << UInt32(32 - min(prefixLength, 32))
            return value & mask == network.value & mask
        }

        public var description: String {
            [24, 16, 8, 0].map { String(value >> UInt32($0) & 0xff) }.joined(separator: ".")
        }

        public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
            lhs.value < rhs.value
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "an IPv4 address", parse: IPv4Address.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// An IPv6 address without a zone index. `description` is the RFC 5952 form.
    public struct IPv6Address: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        /// The 16 address bytes in network order.
        public let bytes: [UInt8]

        public init?(_ text: String) {
            var address = in6_addr()
            guard text.withCString({ inet_pton(AF_INET6, $0, &address) }) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        }

        /// Whether the address lies in `network/prefixLength`.
        public func isWithin(_ network: IPv6Address, prefixLength: Int) -> Bool {
            var remaining = min(max(prefixLength, 0), 128)
            for (own, other) in zip(bytes, network.bytes) where remaining > 0 {
                let bits = min(remaining, 8)
                let mask = UInt8.max << UInt8(8 - bits)
                if own & mask != other & mask { return false }
                remaining -= bits
            }
            return true
        }

        public var description: String {
            let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            // RFC 5952 section 4.2: compress the longest run of two or more zero groups, the first if tied.
            var longest: Range<Int>?
            var index = 0
            while index < groups.count {
                guard groups[index] == 0 else {
                    index += 1
                    continue
                }
                var end = index
                while end < groups.count, groups[end] == 0 { end += 1 }
                if end - index >= 2, end - index > (longest?.count ?? 0) {
                    longest = index..<end
                }
                index = end
            }
            let hex = groups.map { String($0, radix: 16) }
            guard let longest else { return hex.joined(separator: ":") }
            let head = hex[..<longest.lowerBound].joined(separator: ":")
            let tail = hex[longest.upperBound...].joined(separator: ":")
            return "\(head)::\(tail)"
        }

        public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
            lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "an IPv6 address", parse: IPv6Address.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// A dotted decimal firmware version (`24.35.1012`). Versions compare numerically, component
    /// by component, and missing trailing components count as 0 (`1.2` == `1.2.0`).
    public struct FirmwareVersion: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public let components: [Int]

        /// Accepts 1 to 6 dot-separated decimal components of at most 9 digits each.
        public init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...6).contains(parts.count) else { return nil }
            var components: [Int] = []
            for part in parts {
                guard (1...9).contains(part.count), part.allSatisfy(\.isASCIIDigit), let number = Int(part)
                else { return nil }
                components.append(number)
            }
            self.components = components
        }

        public var description: String {
            components.map(String.init).joined(separator: ".")
        }

        public static func < (lhs: FirmwareVersion, rhs: FirmwareVersion) -> Bool {
            let count = max(lhs.components.count, rhs.components.count)
            return lhs.padded(to: count).lexicographicallyPrecedes(rhs.padded(to: count))
        }

        public static func == (lhs: FirmwareVersion, rhs: FirmwareVersion) -> Bool {
            let count = max(lhs.components.count, rhs.components.count)
            return lhs.padded(to: count) == rhs.padded(to: count)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(Array(components.reversed().drop(while: { $0 == 0 })))
        }

        private func padded(to count: Int) -> [Int] {
            components + Array(repeating: 0, count: count - components.count)
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "a dotted decimal version", parse: FirmwareVersion.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }
}

extension Character {
    var isASCIIDigit: Bool {
        isASCII && isNumber
    }
}
