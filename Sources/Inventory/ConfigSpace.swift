/// Little-endian reads from a function's configuration space that return nil past
/// the end of what the access method could read, instead of inventing bytes.
public struct ConfigSpace: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var count: Int { bytes.count }

    public func u8(_ offset: Int) -> UInt8? {
        offset >= 0 && offset < bytes.count ? bytes[offset] : nil
    }

    public func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset + 2 <= bytes.count else { return nil }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}

/// Register offsets of the standard header and the capabilities decoded here
/// (PCI Local Bus / PCIe Base; the same values as Linux `pci_regs.h`).
enum Register {
    static let vendorID = 0x00, deviceID = 0x02, status = 0x06, revision = 0x08, classCode = 0x09
    static let headerType = 0x0e, subsystemVendorID = 0x2c, subsystemID = 0x2e
    static let capabilityPointer = 0x34, cardbusCapabilityPointer = 0x14
    static let statusCapabilityList: UInt16 = 0x10
    static let firstExtendedCapability = 0x100
}
