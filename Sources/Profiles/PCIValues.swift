// Small PCI value types used by profiles. Each parses the text form a profile uses and
// renders the canonical form (lower-case, zero-padded), so two spellings of one ID compare equal.

extension Profile {
    /// A 16-bit PCI vendor, device or subsystem ID, written in profiles as 4 hex digits
    /// (`15b3`, `0x15B3`). `description` is always 4 lower-case digits without `0x`.
    public struct PCIID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public let value: UInt16

        public init(_ value: UInt16) {
            self.value = value
        }

        /// Accepts exactly 4 hex digits, optionally prefixed with `0x`, in either case.
        public init?(_ text: String) {
            let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
            guard digits.count == 4, let value = UInt16(digits, radix: 16) else { return nil }
            self.value = value
        }

        public var description: String {
            hexString(UInt64(value), digits: 4)
        }

        public static func < (lhs: PCIID, rhs: PCIID) -> Bool {
            lhs.value < rhs.value
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "a 4-digit hex PCI ID", parse: PCIID.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// The 24-bit class code (base class, subclass, programming interface), written as
    /// 6 hex digits (`020000` = Ethernet controller), as sysfs `class` shows it without `0x`.
    public struct ClassCode: Sendable, Hashable, Codable, CustomStringConvertible {
        public let value: UInt32

        public init?(_ text: String) {
            let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
            guard digits.count == 6, let value = UInt32(digits, radix: 16) else { return nil }
            self.value = value
        }

        public var baseClass: UInt8 { UInt8(truncatingIfNeeded: value >> 16) }
        public var subclass: UInt8 { UInt8(truncatingIfNeeded: value >> 8) }
        public var programmingInterface: UInt8 { UInt8(truncatingIfNeeded: value) }

        public var description: String {
            hexString(UInt64(value), digits: 6)
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "a 6-digit hex class code", parse: ClassCode.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// A PCI function address `DDDD:BB:DD.F` (domain, bus, device 0-31, function 0-7),
    /// the name Linux gives the function's sysfs directory.
    public struct PCIAddress: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public let domain: UInt16
        public let bus: UInt8
        public let device: UInt8
        public let function: UInt8

        /// Accepts exactly `DDDD:BB:DD.F` in hex (either case); device 00-1f, function 0-7.
        public init?(_ text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            let deviceAndFunction = parts[2].split(separator: ".", omittingEmptySubsequences: false)
            guard parts[0].count == 4, parts[1].count == 2, deviceAndFunction.count == 2,
                  deviceAndFunction[0].count == 2, deviceAndFunction[1].count == 1,
                  let domain = UInt16(parts[0], radix: 16),
                  let bus = UInt8(parts[1], radix: 16),
                  let device = UInt8(deviceAndFunction[0], radix: 16), device <= 0x1f,
                  let function = UInt8(deviceAndFunction[1], radix: 16), function <= 7
            else { return nil }
            self.domain = domain
            self.bus = bus
            self.device = device
            self.function = function
        }

        public var description: String {
            "\(hexString(UInt64(domain), digits: 4)):\(hexString(UInt64(bus), digits: 2))"
                + ":\(hexString(UInt64(device), digits: 2)).\(function)"
        }

        public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
            (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
        }

        public init(from decoder: any Decoder) throws {
            self = try decodeText(from: decoder, as: "a PCI address DDDD:BB:DD.F", parse: PCIAddress.init)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// A PCIe link speed. The raw value is the encoding of the Link Capabilities / Link Status
    /// speed fields (1 = 2.5 GT/s … 6 = 64 GT/s); profiles and JSON write the rate in GT/s.
    public enum LinkSpeed: Int, Sendable, Hashable, Comparable, CaseIterable, Codable, CustomStringConvertible {
        case gen1 = 1
        case gen2 = 2
        case gen3 = 3
        case gen4 = 4
        case gen5 = 5
        case gen6 = 6

        public init?(gigatransfersPerSecond: Double) {
            guard let speed = LinkSpeed.allCases.first(where: { $0.gigatransfersPerSecond == gigatransfersPerSecond })
            else { return nil }
            self = speed
        }

        public var gigatransfersPerSecond: Double {
            switch self {
            case .gen1: 2.5
            case .gen2: 5
            case .gen3: 8
            case .gen4: 16
            case .gen5: 32
            case .gen6: 64
            }
        }

        /// `16 GT/s`, `2.5 GT/s`.
        public var description: String {
            "\(formatNumber(gigatransfersPerSecond)) GT/s"
        }

        public static func < (lhs: LinkSpeed, rhs: LinkSpeed) -> Bool {
            lhs.rawValue < rhs.rawValue
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let rate = try container.decode(Double.self)
            guard let speed = LinkSpeed(gigatransfersPerSecond: rate) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected a PCIe link speed in GT/s, found \(rate)")
            }
            self = speed
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(gigatransfersPerSecond)
        }
    }

    /// Capabilities a function can be required to expose, by the names profiles use.
    /// `isExtended` marks those in PCIe extended configuration space (offset 0x100 and up).
    public enum Capability: String, Sendable, Hashable, CaseIterable, Codable {
        case powerManagement = "pm"
        case msi
        case msix
        case pcie
        case vpd
        case aer
        case acs
        case ari
        case ats
        case sriov
        case dsn
        case secondaryPCIe = "secondary-pcie"
        case ptm
        case dpc
        case rebar

        /// The standard capability ID (list at 0x34) or the extended capability ID (list at 0x100).
        public var id: UInt16 {
            switch self {
            case .powerManagement: 0x01
            case .vpd: 0x03
            case .msi: 0x05
            case .pcie: 0x10
            case .msix: 0x11
            case .aer: 0x0001
            case .dsn: 0x0003
            case .acs: 0x000d
            case .ari: 0x000e
            case .ats: 0x000f
            case .sriov: 0x0010
            case .rebar: 0x0015
            case .secondaryPCIe: 0x0019
            case .ptm: 0x001f
            case .dpc: 0x001d
            }
        }

        public var isExtended: Bool {
            switch self {
            case .powerManagement, .msi, .msix, .pcie, .vpd: false
            case .aer, .acs, .ari, .ats, .sriov, .dsn, .secondaryPCIe, .ptm, .dpc, .rebar: true
            }
        }
    }

    /// ACS controls (ACS Capability/Control register bits) a function can be required to
    /// support; `bit` is the bit position in both registers.
    public enum ACSControl: String, Sendable, Hashable, CaseIterable, Codable {
        case sourceValidation = "source-validation"
        case translationBlocking = "translation-blocking"
        case requestRedirect = "request-redirect"
        case completionRedirect = "completion-redirect"
        case upstreamForwarding = "upstream-forwarding"
        case egressControl = "egress-control"
        case directTranslatedP2P = "direct-translated-p2p"

        public var bit: Int {
            switch self {
            case .sourceValidation: 0
            case .translationBlocking: 1
            case .requestRedirect: 2
            case .completionRedirect: 3
            case .upstreamForwarding: 4
            case .egressControl: 5
            case .directTranslatedP2P: 6
            }
        }
    }
}

func hexString(_ value: UInt64, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}

/// `16` for whole numbers, `2.5` otherwise: how thresholds and rates read in messages.
func formatNumber(_ value: Double) -> String {
    if value.rounded() == value, abs(value) < 1e15 {
        return String(Int64(value))
    }
    return String(value)
}

/// Decodes a value stored as text, with the same validation the YAML loader applies.
func decodeText<Value>(from decoder: any Decoder, as expectation: String, parse: (String) -> Value?) throws -> Value {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let value = parse(text) else {
        throw DecodingError.dataCorruptedError(
            in: container, debugDescription: "expected \(expectation), found \"\(text)\"")
    }
    return value
}
