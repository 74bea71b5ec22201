/// A PCI function's address, `DDDD:BB:SS.F`, and its routing ID.
public struct PCIAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var domain: UInt32
    public var bus: UInt8
    /// 0…31; stored as given, so a description with a wrong value can be refused.
    public var device: UInt8
    /// 0…7.
    public var function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// From an 8-bit devfn, as the kernel splits it (`PCI_SLOT`, `PCI_FUNC`); an ARI
    /// function number is a devfn too, so ARI function 9 becomes device 1 function 1.
    public init(domain: UInt32 = 0, bus: UInt8, devfn: UInt8) {
        self.init(domain: domain, bus: bus, device: devfn >> 3, function: devfn & 0x7)
    }

    /// The address of routing ID `routingID` (bus << 8 | devfn) in `domain`.
    public init(domain: UInt32, routingID: UInt16) {
        self.init(domain: domain, bus: UInt8(routingID >> 8), devfn: UInt8(routingID & 0xff))
    }

    /// Parses `DDDD:BB:SS.F` or `BB:SS.F` (hex), as the kernel and lspci print them.
    public init?(_ text: some StringProtocol) {
        // Split on bytes: `Character`-wise splitting costs more than the rest of the parse,
        // and an inventory parses an address for every VF link.
        let parts = String(text).utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            .map(Substring.init)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let slotFunction = parts[parts.count - 1].utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            .map(Substring.init)
        guard slotFunction.count == 2,
              let bus = UInt8(parts[parts.count - 2], radix: 16),
              let device = UInt8(slotFunction[0], radix: 16), device < 32,
              let function = UInt8(slotFunction[1], radix: 16), function < 8
        else { return nil }
        var domain: UInt32 = 0
        if parts.count == 3 {
            guard let parsed = UInt32(parts[0], radix: 16) else { return nil }
            domain = parsed
        }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    public var devfn: UInt8 { UInt8(truncatingIfNeeded: Int(device) << 3 | Int(function & 0x7)) }
    public var routingID: UInt16 { UInt16(bus) << 8 | UInt16(devfn) }

    public var description: String {
        hex(domain, width: 4) + ":" + hex(bus, width: 2) + ":" + hex(device, width: 2) + "." + String(function)
    }

    /// The address `distance` routing IDs further on, or nil past the last routing ID of
    /// the domain (what `pci_iov_virtfn_bus`/`pci_iov_virtfn_devfn` compute for VFs).
    public func advanced(byRoutingIDs distance: Int) -> PCIAddress? {
        let target = Int(routingID) + distance
        guard distance >= 0, target <= 0xffff else { return nil }
        return PCIAddress(domain: domain, routingID: UInt16(target))
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.routingID) < (rhs.domain, rhs.routingID)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = PCIAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "expected a PCI address DDDD:BB:SS.F, found \"\(text)\""))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Lower-case hex without `0x`, zero-padded to `width` digits.
public func hex(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
