/// Everything decoded from one function's configuration space.
public struct DecodedConfig: Sendable, Hashable {
    public var length: Int
    public var vendorID: UInt16?
    public var deviceID: UInt16?
    public var classCode: UInt32?
    public var revision: UInt8?
    /// Low 7 bits of the Header Type register (0 endpoint, 1 bridge, 2 CardBus).
    public var headerType: Int?
    public var multiFunction: Bool
    public var subsystemVendorID: UInt16?
    public var subsystemDeviceID: UInt16?
    public var capabilities: [CapabilityEntry] = []
    /// Broken chains: loops, pointers past the readable space, unreadable capabilities.
    public var chainProblems: [String] = []
    public var pcie: PCIeCapability?
    public var sriov: SRIOVCapability?
    public var acs: ACSCapability?
    public var aer: AERCapability?
    public var msix: MSIXCapability?
    public var msi: MSICapability?
    public var ariNextFunction: Int?
    public var deviceSerialNumber: UInt64?

    public func capability(_ name: String) -> CapabilityEntry? {
        capabilities.first { $0.name == name }
    }
}

/// Decodes configuration space as lspci does: the standard chain when Status says it
/// exists, the extended chain from 0x100 when the function is PCI Express (or PCI-X
/// 266/533) and more than 256 bytes are readable. Loops and truncations are reported
/// in `chainProblems`, never followed.
public enum ConfigDecoder {
    /// More entries than this means a chain that does not end (there are at most 48
    /// standard and 960 extended dword-aligned slots).
    static let maximumChainLength = 1024

    public static func decode(_ config: ConfigSpace) -> DecodedConfig {
        var decoded = DecodedConfig(length: config.count, multiFunction: false)
        guard config.count >= 64 else {
            if config.count > 0 { decoded.chainProblems.append("only \(config.count) bytes of configuration space are readable") }
            return decoded
        }
        decoded.vendorID = config.u16(Register.vendorID)
        decoded.deviceID = config.u16(Register.deviceID)
        decoded.revision = config.u8(Register.revision)
        if let progIF = config.u8(Register.classCode), let subclass = config.u8(Register.classCode + 1),
           let base = config.u8(Register.classCode + 2) {
            decoded.classCode = UInt32(base) << 16 | UInt32(subclass) << 8 | UInt32(progIF)
        }
        let headerTypeRegister = config.u8(Register.headerType) ?? 0
        decoded.headerType = Int(headerTypeRegister & 0x7f)
        decoded.multiFunction = headerTypeRegister & 0x80 != 0
        if decoded.headerType == 0 {
            decoded.subsystemVendorID = config.u16(Register.subsystemVendorID)
            decoded.subsystemDeviceID = config.u16(Register.subsystemID)
        }
        guard let status = config.u16(Register.status), status & Register.statusCapabilityList != 0 else {
            return decoded
        }
        let pointerRegister = decoded.headerType == 2 ? Register.cardbusCapabilityPointer : Register.capabilityPointer
        var extendedPossible = walkStandard(config, from: Int(config.u8(pointerRegister) ?? 0), into: &decoded)
        extendedPossible = extendedPossible && config.count > 256
        if extendedPossible {
            walkExtended(config, into: &decoded)
        }
        return decoded
    }

    /// Returns whether the function can have extended capabilities.
    private static func walkStandard(_ config: ConfigSpace, from start: Int, into decoded: inout DecodedConfig) -> Bool {
        var offset = start & ~3
        var visited = Set<Int>()
        var extendedPossible = false
        while offset != 0 {
            guard visited.insert(offset).inserted, visited.count <= maximumChainLength else {
                decoded.chainProblems.append("standard capability chain loops back to 0x\(hex(offset, width: 2))")
                break
            }
            guard let id = config.u8(offset), let next = config.u8(offset + 1), config.u32(offset) != nil else {
                decoded.chainProblems.append("standard capability at 0x\(hex(offset, width: 2)) is beyond the readable configuration space")
                break
            }
            if id == 0xff {
                decoded.chainProblems.append("standard capability chain broken at 0x\(hex(offset, width: 2)) (ID 0xff)")
                break
            }
            decoded.capabilities.append(CapabilityEntry(space: .standard, id: UInt16(id), offset: offset))
            switch id {
            case 0x10:
                decoded.pcie = decodePCIe(config, at: offset)
                extendedPossible = true
            case 0x07:
                // PCI-X 266/533-capable devices may have extended config space (lspci's rule).
                if decoded.headerType == 0, let pcixStatus = config.u32(offset + 4), pcixStatus & 0xc000_0000 != 0 {
                    extendedPossible = true
                }
            case 0x11:
                if let control = config.u16(offset + 2) {
                    decoded.msix = MSIXCapability(tableSize: Int(control & 0x7ff) + 1,
                                                  enabled: control & 0x8000 != 0, functionMasked: control & 0x4000 != 0)
                }
            case 0x05:
                if let control = config.u16(offset + 2) {
                    decoded.msi = MSICapability(enabled: control & 1 != 0, vectorsCapable: 1 << Int((control >> 1) & 7),
                                                is64Bit: control & 0x80 != 0)
                }
            case 0x0d:
                if decoded.headerType == 1 {
                    decoded.subsystemVendorID = config.u16(offset + 4)
                    decoded.subsystemDeviceID = config.u16(offset + 6)
                }
            default:
                break
            }
            offset = Int(next) & ~3
        }
        return extendedPossible
    }

    private static func walkExtended(_ config: ConfigSpace, into decoded: inout DecodedConfig) {
        var offset = Register.firstExtendedCapability
        var visited = Set<Int>()
        while offset != 0 {
            guard let header = config.u32(offset) else {
                decoded.chainProblems.append("extended capability at 0x\(hex(offset, width: 3)) is beyond the readable configuration space")
                break
            }
            if header == 0 || header == 0xffff_ffff { break }
            guard visited.insert(offset).inserted, visited.count <= maximumChainLength else {
                decoded.chainProblems.append("extended capability chain loops back to 0x\(hex(offset, width: 3))")
                break
            }
            let id = UInt16(header & 0xffff)
            decoded.capabilities.append(CapabilityEntry(space: .extended, id: id, offset: offset,
                                                        version: Int((header >> 16) & 0xf)))
            decodeExtended(id: id, config, at: offset, into: &decoded)
            let next = Int(header >> 20) & ~3
            if next != 0 && next < Register.firstExtendedCapability {
                decoded.chainProblems.append("extended capability at 0x\(hex(offset, width: 3)) points into the standard space (0x\(hex(next, width: 3)))")
                break
            }
            offset = next
        }
    }

    private static func decodeExtended(id: UInt16, _ config: ConfigSpace, at offset: Int, into decoded: inout DecodedConfig) {
        switch id {
        case 0x0001:
            if let uncorrectable = config.u32(offset + 0x04), let uncorrectableMask = config.u32(offset + 0x08),
               let severity = config.u32(offset + 0x0c), let correctable = config.u32(offset + 0x10),
               let correctableMask = config.u32(offset + 0x14) {
                decoded.aer = AERCapability(uncorrectableStatus: uncorrectable, uncorrectableMask: uncorrectableMask,
                                            uncorrectableSeverity: severity, correctableStatus: correctable,
                                            correctableMask: correctableMask)
            }
        case 0x0003:
            if let low = config.u32(offset + 4), let high = config.u32(offset + 8) {
                decoded.deviceSerialNumber = UInt64(high) << 32 | UInt64(low)
            }
        case 0x000d:
            if let capability = config.u16(offset + 4), let control = config.u16(offset + 6) {
                decoded.acs = ACSCapability(capability: .init(rawValue: capability), control: .init(rawValue: control))
            }
        case 0x000e:
            if let capability = config.u16(offset + 4) {
                decoded.ariNextFunction = Int(capability >> 8)
            }
        case 0x0010:
            if let control = config.u16(offset + 0x08), let initial = config.u16(offset + 0x0c),
               let total = config.u16(offset + 0x0e), let number = config.u16(offset + 0x10),
               let dependency = config.u8(offset + 0x12), let firstOffset = config.u16(offset + 0x14),
               let stride = config.u16(offset + 0x16), let vfDevice = config.u16(offset + 0x1a) {
                decoded.sriov = SRIOVCapability(
                    initialVFs: Int(initial), totalVFs: Int(total), numVFs: Int(number),
                    vfEnabled: control & 0x01 != 0, vfMemorySpaceEnabled: control & 0x08 != 0,
                    ariCapableHierarchy: control & 0x10 != 0, functionDependencyLink: Int(dependency),
                    firstVFOffset: Int(firstOffset), vfStride: Int(stride), vfDeviceID: vfDevice)
            } else {
                decoded.chainProblems.append("SR-IOV capability at 0x\(hex(offset, width: 3)) is truncated")
            }
        default:
            break
        }
    }

    private static func decodePCIe(_ config: ConfigSpace, at offset: Int) -> PCIeCapability? {
        guard let flags = config.u16(offset + 2) else { return nil }
        let version = Int(flags & 0xf)
        let type = Int((flags >> 4) & 0xf)
        var link: PCIeLink?
        let hasLink = type != PCIeCapability.PortType.rootComplexIntegratedEndpoint.rawValue
            && type != PCIeCapability.PortType.rootComplexEventCollector.rawValue
        if hasLink, let linkCapabilities = config.u32(offset + 0x0c), let linkStatus = config.u16(offset + 0x12) {
            var supported: [Double] = []
            if version >= 2, let linkCapabilities2 = config.u32(offset + 0x2c) {
                supported = (1...7).compactMap { bit in
                    linkCapabilities2 & (1 << UInt32(bit)) != 0 ? PCIeLink.gigatransfers(code: bit) : nil
                }
            }
            link = PCIeLink(maxSpeedCode: Int(linkCapabilities & 0xf), maxWidth: Int((linkCapabilities >> 4) & 0x3f),
                            currentSpeedCode: Int(linkStatus & 0xf), currentWidth: Int((linkStatus >> 4) & 0x3f),
                            supportedSpeedsGTs: supported)
        }
        let deviceCapabilities2 = version >= 2 ? config.u32(offset + 0x24) ?? 0 : 0
        let deviceControl2 = version >= 2 ? config.u16(offset + 0x28) ?? 0 : 0
        return PCIeCapability(version: version, portTypeCode: type, link: link,
                              ariForwardingSupported: deviceCapabilities2 & 0x20 != 0,
                              ariForwardingEnabled: deviceControl2 & 0x20 != 0)
    }
}
