import Foundation

/// A 16-bit PCI identifier (vendor, device, subsystem), written as four lower-case hex
/// digits (`"15b3"`) as lspci prints it.
public struct PCIID: Sendable, Codable, Hashable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var value: UInt16

    public init(_ value: UInt16) { self.value = value }
    public init(integerLiteral value: UInt16) { self.value = value }

    public var description: String { HexField.format(UInt32(value), digits: 4) }

    public init(from decoder: any Decoder) throws {
        value = UInt16(try HexField.decode(from: decoder, digits: 4))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The 24-bit PCI class code (base class, subclass, programming interface), written as six
/// lower-case hex digits (`"020000"` for an Ethernet controller).
public struct PCIClassCode: Sendable, Codable, Hashable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Only the low 24 bits are meaningful.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value & 0xFF_FFFF }
    public init(integerLiteral value: UInt32) { self.init(value) }

    public var description: String { HexField.format(value, digits: 6) }

    public init(from decoder: any Decoder) throws {
        value = try HexField.decode(from: decoder, digits: 6)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Fixed-width lower-case hex text for PCI identifiers.
enum HexField {
    static func format(_ value: UInt32, digits: Int) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - hex.count)) + hex
    }

    static func decode(from decoder: any Decoder, digits: Int) throws -> UInt32 {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        let isLowerHex = text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard text.utf8.count == digits, isLowerHex, let value = UInt32(text, radix: 16) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "expected \(digits) lower-case hex digits, found \"\(text)\""
            )
        }
        return value
    }
}

/// One PCI function of the device under test that the profile matched.
public struct DUTFunction: Sendable, Codable, Hashable {
    /// Domain-qualified address as in sysfs: `0000:03:00.0`.
    public var address: String
    public var vendorID: PCIID
    public var deviceID: PCIID
    public var subsystemVendorID: PCIID?
    public var subsystemDeviceID: PCIID?
    public var classCode: PCIClassCode
    /// What this function is for on the card, in the profile's words (`pf`, `vf`,
    /// `management`, `storage`, …).
    public var role: String
    /// Kernel driver bound to the function, if any.
    public var driver: String?
    /// Firmware version reported for this function, if the driver exposes one.
    public var firmware: String?
    /// Further inventory facts (link speed, NUMA node, serial number, …), free-form.
    public var facts: [String: String]

    public init(
        address: String,
        vendorID: PCIID,
        deviceID: PCIID,
        subsystemVendorID: PCIID? = nil,
        subsystemDeviceID: PCIID? = nil,
        classCode: PCIClassCode,
        role: String,
        driver: String? = nil,
        firmware: String? = nil,
        facts: [String: String] = [:]
    ) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.subsystemVendorID = subsystemVendorID
        self.subsystemDeviceID = subsystemDeviceID
        self.classCode = classCode
        self.role = role
        self.driver = driver
        self.firmware = firmware
        self.facts = facts
    }

    /// One-line identity for the JUnit properties:
    /// `0000:03:00.0 15b3:a2dc [15b3:0051] class 020000 role pf driver mlx5_core firmware 24.35.1012`.
    var summaryLine: String {
        var parts = ["\(address) \(vendorID):\(deviceID)"]
        if let subsystemVendorID, let subsystemDeviceID {
            parts.append("[\(subsystemVendorID):\(subsystemDeviceID)]")
        }
        parts.append("class \(classCode)")
        parts.append("role \(role)")
        if let driver { parts.append("driver \(driver)") }
        if let firmware { parts.append("firmware \(firmware)") }
        return parts.joined(separator: " ")
    }
}

/// The device under test: the PCI functions the profile matched and the versions known
/// for the card as a whole.
public struct DUT: Sendable, Codable, Hashable {
    public var functions: [DUTFunction]
    public var firmwareVersion: String?
    public var driverVersion: String?

    public init(functions: [DUTFunction], firmwareVersion: String? = nil, driverVersion: String? = nil) {
        self.functions = functions
        self.firmwareVersion = firmwareVersion
        self.driverVersion = driverVersion
    }
}
