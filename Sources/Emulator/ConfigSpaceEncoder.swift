// Configuration space as the hardware would present it: standard header, a capability chain
// from 0x34 and an extended chain from 0x100, all little-endian.

/// The capabilities the encoder can place.
public enum CapabilityKind: Sendable, Hashable, CaseIterable {
    case powerManagement
    case vitalProductData
    case msix
    case pciExpress
    case advancedErrorReporting
    case accessControlServices
    case alternativeRoutingID
    case singleRootIOV
    case deviceSerialNumber

    /// Capability ID (standard: 8-bit, extended: 16-bit).
    public var id: UInt16 {
        switch self {
        case .powerManagement: 0x01
        case .vitalProductData: 0x03
        case .msix: 0x11
        case .pciExpress: 0x10
        case .advancedErrorReporting: 0x0001
        case .accessControlServices: 0x000d
        case .alternativeRoutingID: 0x000e
        case .singleRootIOV: 0x0010
        case .deviceSerialNumber: 0x0003
        }
    }

    /// Whether it lives in the extended chain (0x100 and up).
    public var isExtended: Bool {
        switch self {
        case .powerManagement, .vitalProductData, .msix, .pciExpress: false
        default: true
        }
    }
}

public struct PlacedCapability: Sendable, Hashable {
    public var kind: CapabilityKind
    public var offset: Int
}

/// One function's configuration space.
public struct EncodedConfigSpace: Sendable, Hashable {
    public enum Role: Sendable, Hashable {
        case hostBridge
        case rootPort
        case physicalFunction
        case virtualFunction(index: Int, physicalFunction: EmulatedPCIAddress)
    }

    public var address: EmulatedPCIAddress
    public var role: Role
    /// 4096 bytes for PCIe functions, 256 for the conventional host bridge.
    public var bytes: [UInt8]
    /// In chain order: standard ones first, then extended ones.
    public var capabilities: [PlacedCapability]

    public func offset(of kind: CapabilityKind) -> Int? {
        capabilities.first { $0.kind == kind }?.offset
    }
}

public enum ConfigSpaceEncoder {
    /// Every function the card presents with its VFs enabled as described: host bridge,
    /// root port, PFs, then each PF's VFs.
    public static func encode(_ card: EmulatedCard) throws(EmulatorError) -> [EncodedConfigSpace] {
        let layout = try CardLayout(card)
        var spaces = [layout.hostBridgeConfig(), layout.rootPortConfig()]
        for index in card.functions.indices {
            spaces.append(layout.physicalFunctionConfig(index))
        }
        for (index, function) in card.functions.enumerated() {
            for vf in function.enabledVirtualFunctions {
                spaces.append(layout.virtualFunctionConfig(vf, physicalFunction: index))
            }
        }
        return spaces
    }
}

// Register offsets and bits used below ([regs] pci_regs.h).
private enum Register {
    static let command = 0x04
    static let status = 0x06
    static let revision = 0x08
    static let classCode = 0x09
    static let headerType = 0x0e
    static let bar0 = 0x10
    static let subsystemVendor = 0x2c
    static let capabilitiesPointer = 0x34
    static let interruptLine = 0x3c
    static let interruptPin = 0x3d

    static let commandMemory: UInt16 = 1 << 1
    static let commandBusMaster: UInt16 = 1 << 2
    static let commandINTxDisable: UInt16 = 1 << 10
    static let statusCapabilities: UInt16 = 1 << 4
    /// Memory BAR, 64-bit, prefetchable.
    static let bar64Prefetchable: UInt32 = 0xc
}

/// Builds one configuration space and its two capability chains.
struct ConfigSpaceBuilder {
    private(set) var bytes: [UInt8]
    private(set) var capabilities: [PlacedCapability] = []
    private var lastStandardPointer = Register.capabilitiesPointer
    private var nextStandard = 0x40
    private var lastExtendedHeader: Int?
    private var nextExtended = 0x100

    init(size: Int) {
        bytes = [UInt8](repeating: 0, count: size)
    }

    mutating func set8(_ offset: Int, _ value: UInt8) {
        bytes[offset] = value
    }

    mutating func set16(_ offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(truncatingIfNeeded: value)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    mutating func set32(_ offset: Int, _ value: UInt32) {
        for byte in 0..<4 {
            bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte))
        }
    }

    mutating func set64(_ offset: Int, _ value: UInt64) {
        set32(offset, UInt32(truncatingIfNeeded: value))
        set32(offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    }

    func get16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }

    /// Header fields every function has.
    mutating func identity(
        vendorID: UInt16, deviceID: UInt16, classCode: UInt32, revision: UInt8, headerType: UInt8
    ) {
        set16(0x00, vendorID)
        set16(0x02, deviceID)
        set8(Register.revision, revision)
        set8(Register.classCode, UInt8(truncatingIfNeeded: classCode))
        set16(Register.classCode + 1, UInt16(truncatingIfNeeded: classCode >> 8))
        set8(Register.headerType, headerType)
    }

    /// Appends a standard capability 16-byte aligned, links it, sets Status.Capabilities.
    mutating func appendStandard(_ kind: CapabilityKind, size: Int) -> Int {
        let offset = nextStandard
        set8(offset, UInt8(kind.id))
        set8(lastStandardPointer, UInt8(offset))
        lastStandardPointer = offset + 1
        nextStandard = Int(roundUp(UInt64(offset + size), to: 0x10))
        set16(Register.status, get16(Register.status) | Register.statusCapabilities)
        capabilities.append(PlacedCapability(kind: kind, offset: offset))
        return offset
    }

    /// Appends an extended capability dword aligned and links it from the previous header.
    mutating func appendExtended(_ kind: CapabilityKind, version: UInt32, size: Int) -> Int {
        let offset = nextExtended
        set32(offset, UInt32(kind.id) | version << 16)
        if let previous = lastExtendedHeader {
            bytes[previous + 2] |= UInt8((offset << 4) & 0xf0)
            bytes[previous + 3] = UInt8(offset >> 4)
        }
        lastExtendedHeader = offset
        nextExtended = Int(roundUp(UInt64(offset + size), to: 4))
        capabilities.append(PlacedCapability(kind: kind, offset: offset))
        return offset
    }
}

/// What a PCI Express capability says about the link and the port.
private struct PCIeCapabilityContent {
    enum PortType: UInt16 {
        case endpoint = 0
        case rootPort = 4
    }

    var type: PortType
    var link: EmulatedLink
    var portNumber: UInt8
    var ariForwarding: Bool
    var deviceStatus: UInt16
    /// Root ports report Data Link Layer Link Active.
    var reportsLinkActive: Bool
}

extension CardLayout {
    func hostBridgeConfig() -> EncodedConfigSpace {
        let bridge = card.rootPort.hostBridge
        var builder = ConfigSpaceBuilder(size: 256)
        builder.identity(
            vendorID: bridge.vendorID, deviceID: bridge.deviceID, classCode: 0x06_00_00,
            revision: bridge.revision, headerType: 0)
        builder.set16(Register.command, Register.commandMemory | Register.commandBusMaster)
        builder.set16(Register.subsystemVendor, bridge.vendorID)
        return EncodedConfigSpace(
            address: card.rootPort.hostBridgeAddress, role: .hostBridge, bytes: builder.bytes, capabilities: [])
    }

    func rootPortConfig() -> EncodedConfigSpace {
        let port = card.rootPort
        var builder = ConfigSpaceBuilder(size: 4096)
        builder.identity(
            vendorID: port.vendorID, deviceID: port.deviceID, classCode: 0x06_04_00, revision: port.revision,
            headerType: 1)
        builder.set16(Register.command, Register.commandMemory | Register.commandBusMaster)
        builder.set8(0x18, port.address.bus)
        builder.set8(0x19, secondaryBus)
        builder.set8(0x1a, subordinateBus)
        // I/O and non-prefetchable windows closed (base above limit).
        builder.set8(0x1c, 0xf0)
        builder.set8(0x1d, 0x00)
        builder.set16(0x20, 0xfff0)
        builder.set16(0x22, 0x0000)
        // Prefetchable window, 64-bit (type 1 in the low nibble), 1 MiB granular.
        builder.set16(0x24, UInt16(truncatingIfNeeded: (windowBase >> 16) & 0xfff0) | 0x1)
        builder.set16(0x26, UInt16(truncatingIfNeeded: (windowLimit >> 16) & 0xfff0) | 0x1)
        builder.set32(0x28, UInt32(truncatingIfNeeded: windowBase >> 32))
        builder.set32(0x2c, UInt32(truncatingIfNeeded: windowLimit >> 32))
        builder.set8(Register.interruptLine, UInt8(truncatingIfNeeded: port.irq))
        builder.set8(Register.interruptPin, 1)

        builder.appendPowerManagement()
        let trained = card.functions[0].link
        let link = EmulatedLink(
            maxSpeed: port.maxLinkSpeed, maxWidth: port.maxLinkWidth, currentSpeed: trained.currentSpeed,
            currentWidth: trained.currentWidth)
        builder.appendPCIExpress(
            PCIeCapabilityContent(
                type: .rootPort, link: link, portNumber: port.address.device, ariForwarding: port.ariForwarding,
                deviceStatus: deviceStatus(port.aer), reportsLinkActive: true))
        if let aer = port.aer {
            builder.appendAER(aer, rootPort: true)
        }
        if let acs = port.acs {
            builder.appendACS(acs)
        }
        return EncodedConfigSpace(
            address: port.address, role: .rootPort, bytes: builder.bytes, capabilities: builder.capabilities)
    }

    /// The PF's configuration space; `enabledVFs` overrides the description's NumVFs.
    func physicalFunctionConfig(_ index: Int, enabledVFs: Int? = nil) -> EncodedConfigSpace {
        let function = card.functions[index]
        var builder = ConfigSpaceBuilder(size: 4096)
        builder.identity(
            vendorID: function.vendorID, deviceID: function.deviceID, classCode: function.classCode,
            revision: function.revision, headerType: multiFunction[index] ? 0x80 : 0)
        let driverBound = function.driver != nil
        var command = Register.commandMemory
        if driverBound {
            command |= Register.commandBusMaster
            if function.msix != nil { command |= Register.commandINTxDisable }
        }
        builder.set16(Register.command, command)
        builder.set32(Register.bar0, UInt32(truncatingIfNeeded: barBases[index]) | Register.bar64Prefetchable)
        builder.set32(Register.bar0 + 4, UInt32(truncatingIfNeeded: barBases[index] >> 32))
        builder.set16(Register.subsystemVendor, function.subsystemVendorID)
        builder.set16(Register.subsystemVendor + 2, function.subsystemDeviceID)
        builder.set8(Register.interruptLine, UInt8(truncatingIfNeeded: function.irq))
        builder.set8(Register.interruptPin, 1)

        if function.powerManagement {
            builder.appendPowerManagement()
        }
        if function.vpd != nil {
            // Address/flag and data registers stay zero: the data is read through sysfs `vpd`.
            _ = builder.appendStandard(.vitalProductData, size: 8)
        }
        if let msix = function.msix {
            builder.appendMSIX(msix, enabled: driverBound)
        }
        builder.appendPCIExpress(
            PCIeCapabilityContent(
                type: .endpoint, link: function.link, portNumber: 0, ariForwarding: false,
                deviceStatus: deviceStatus(function.aer), reportsLinkActive: false))
        if let aer = function.aer {
            builder.appendAER(aer, rootPort: false)
        }
        if let acs = function.acs {
            builder.appendACS(acs)
        }
        if function.ari {
            builder.appendARI(nextFunction: ariNextFunction[index])
        }
        if let sriov = function.sriov {
            builder.appendSRIOV(
                sriov, numVFs: enabledVFs ?? sriov.enabledVFs, dependencyLink: function.address.function,
                vfBARBase: vfBARBases[index] ?? 0)
        }
        if let serial = function.serialNumber {
            let offset = builder.appendExtended(.deviceSerialNumber, version: 1, size: 12)
            builder.set64(offset + 4, serial)
        }
        return EncodedConfigSpace(
            address: function.address, role: .physicalFunction, bytes: builder.bytes,
            capabilities: builder.capabilities)
    }

    /// A VF as hardware presents it: Vendor/Device ID read 0xffff, BARs read 0 (the PF's
    /// SR-IOV capability holds them), no INTx; PCIe and MSI-X present; link as the PF's.
    func virtualFunctionConfig(_ vf: EmulatedVirtualFunction, physicalFunction index: Int) -> EncodedConfigSpace {
        let pf = card.functions[index]
        var builder = ConfigSpaceBuilder(size: 4096)
        builder.identity(vendorID: 0xffff, deviceID: 0xffff, classCode: pf.classCode, revision: pf.revision, headerType: 0)
        let driverBound = vf.driver != nil
        builder.set16(Register.command, driverBound ? Register.commandBusMaster : 0)
        builder.set16(Register.subsystemVendor, pf.subsystemVendorID)
        builder.set16(Register.subsystemVendor + 2, pf.subsystemDeviceID)
        if let msix = pf.sriov?.vfMSIX {
            builder.appendMSIX(msix, enabled: driverBound)
        }
        builder.appendPCIExpress(
            PCIeCapabilityContent(
                type: .endpoint, link: pf.link, portNumber: 0, ariForwarding: false, deviceStatus: 0,
                reportsLinkActive: false))
        if pf.ari {
            builder.appendARI(nextFunction: 0)
        }
        return EncodedConfigSpace(
            address: vf.address, role: .virtualFunction(index: vf.index, physicalFunction: pf.address),
            bytes: builder.bytes, capabilities: builder.capabilities)
    }

    /// Device Status error bits follow what AER has logged.
    private func deviceStatus(_ aer: EmulatedAER?) -> UInt16 {
        guard let aer else { return 0 }
        var status: UInt16 = 0
        if !aer.correctableStatus.isEmpty { status |= 1 << 0 }
        if aer.uncorrectableStatus.contains(where: { !aer.fatalErrors.contains($0) }) { status |= 1 << 1 }
        if aer.uncorrectableStatus.contains(where: { aer.fatalErrors.contains($0) }) { status |= 1 << 2 }
        if aer.uncorrectableStatus.contains(.unsupportedRequest) { status |= 1 << 3 }
        return status
    }
}

extension ConfigSpaceBuilder {
    mutating func appendPowerManagement() {
        let offset = appendStandard(.powerManagement, size: 8)
        set16(offset + 2, 0x0003)  // PM version 3
        set16(offset + 4, 0x0008)  // D0, No Soft Reset
    }

    mutating func appendMSIX(_ msix: EmulatedMSIX, enabled: Bool) {
        let offset = appendStandard(.msix, size: 12)
        set16(offset + 2, UInt16(msix.tableSize - 1) | (enabled ? 0x8000 : 0))
        set32(offset + 4, MSIXPlacement.tableOffset)  // BIR 0
        set32(offset + 8, MSIXPlacement.pendingBitArrayOffset(tableSize: msix.tableSize))
    }

    fileprivate mutating func appendPCIExpress(_ content: PCIeCapabilityContent) {
        let offset = appendStandard(.pciExpress, size: 0x3c)
        set16(offset + 0x02, 0x2 | content.type.rawValue << 4)
        let isRootPort = content.type == .rootPort
        // MaxPayload 512 (endpoint) / 256 (root port), Role-Based Error Reporting, FLR on endpoints.
        let deviceCapabilities: UInt32 = isRootPort ? 0x1 | 1 << 15 : 0x2 | 1 << 5 | 1 << 15 | 1 << 28
        set32(offset + 0x04, deviceCapabilities)
        set16(offset + 0x08, 0x2830)  // RlxdOrd, NoSnoop, MaxPayload 256, MaxReadReq 512
        set16(offset + 0x0a, content.deviceStatus)
        let link = content.link
        var linkCapabilities = UInt32(link.maxSpeed.rawValue) | UInt32(link.maxWidth) << 4
        linkCapabilities |= UInt32(content.portNumber) << 24
        if content.reportsLinkActive { linkCapabilities |= 1 << 20 | 1 << 21 }
        set32(offset + 0x0c, linkCapabilities)
        set16(offset + 0x10, 1 << 6)  // Common Clock
        var linkStatus = UInt16(link.currentSpeed.rawValue) | UInt16(link.currentWidth) << 4 | 1 << 12
        if content.reportsLinkActive && link.currentWidth > 0 { linkStatus |= 1 << 13 }
        set16(offset + 0x12, linkStatus)
        // Completion timeout ranges A-D, timeout disable; ARI forwarding on root ports.
        set32(offset + 0x24, 0x1f | (content.ariForwarding ? 1 << 5 : 0))
        set16(offset + 0x28, content.ariForwarding ? 1 << 5 : 0)
        let speedVector = link.supportedSpeeds.reduce(UInt32(0)) { $0 | 1 << UInt32($1.rawValue) }
        set32(offset + 0x2c, speedVector)
        set16(offset + 0x30, UInt16(link.maxSpeed.rawValue))
        // Equalization complete (phases 1-3) once trained at 8 GT/s or above.
        set16(offset + 0x32, link.currentSpeed >= .gt8 && link.currentWidth > 0 ? 0x1e : 0)
    }

    mutating func appendAER(_ aer: EmulatedAER, rootPort: Bool) {
        let offset = appendExtended(.advancedErrorReporting, version: 1, size: 0x38)
        set32(offset + 0x04, aer.uncorrectableStatus.reduce(0) { $0 | 1 << UInt32($1.rawValue) })
        set32(offset + 0x0c, aer.fatalErrors.reduce(0) { $0 | 1 << UInt32($1.rawValue) })
        set32(offset + 0x10, aer.correctableStatus.reduce(0) { $0 | 1 << UInt32($1.rawValue) })
        set32(offset + 0x14, 1 << 13)  // Advisory Non-Fatal masked (the reset default)
        set32(offset + 0x18, 1 << 5 | 1 << 7)  // ECRC generation and check capable
        if rootPort {
            set32(offset + 0x2c, 0x7)  // Root Error Command: report all, as the AER driver sets it
        }
    }

    mutating func appendACS(_ acs: EmulatedACS) {
        // Egress Control Vector Size 0 encodes 256 bits (32 bytes) after the two registers.
        let hasEgressVector = acs.capability.contains(.p2pEgressControl)
        let offset = appendExtended(.accessControlServices, version: 1, size: hasEgressVector ? 8 + 32 : 8)
        set16(offset + 4, acs.capability.rawValue)
        set16(offset + 6, acs.control.rawValue)
    }

    mutating func appendARI(nextFunction: UInt8) {
        let offset = appendExtended(.alternativeRoutingID, version: 1, size: 8)
        set16(offset + 4, UInt16(nextFunction) << 8)
    }

    mutating func appendSRIOV(_ sriov: EmulatedSRIOV, numVFs: Int, dependencyLink: UInt8, vfBARBase: UInt64) {
        let offset = appendExtended(.singleRootIOV, version: 1, size: 0x40)
        var control: UInt16 = sriov.ariCapableHierarchy ? 1 << 4 : 0
        if numVFs > 0 { control |= 1 << 0 | 1 << 3 }  // VF Enable, VF MSE
        set16(offset + 0x08, control)
        set16(offset + 0x0c, UInt16(sriov.initialVFs))
        set16(offset + 0x0e, UInt16(sriov.totalVFs))
        set16(offset + 0x10, UInt16(numVFs))
        set8(offset + 0x12, dependencyLink)
        set16(offset + 0x14, UInt16(sriov.firstVFOffset))
        set16(offset + 0x16, UInt16(sriov.vfStride))
        set16(offset + 0x1a, sriov.vfDeviceID)
        set32(offset + 0x1c, sriov.supportedPageSizes)
        set32(offset + 0x20, 1)  // System Page Size 4 KiB
        if sriov.totalVFs > 0 {
            set32(offset + 0x24, UInt32(truncatingIfNeeded: vfBARBase) | Register.bar64Prefetchable)
            set32(offset + 0x28, UInt32(truncatingIfNeeded: vfBARBase >> 32))
        }
    }
}
