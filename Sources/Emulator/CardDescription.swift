// The description of an emulated card: what the hardware is and how the host sees it.
// Plain values, easy to fill from a profile; `ConfigSpaceEncoder` and `EmulatedSysfsTree`
// derive every byte and file from them.
import Inventory

/// `domain:bus:device.function`: the inventory's address type, so emulated and read
/// functions compare directly.
public typealias EmulatedPCIAddress = PCIAddress

/// A PCIe link: what the port can do (LnkCap, LnkCap2) and what it trained to (LnkSta).
public struct EmulatedLink: Sendable, Hashable {
    /// Link speed in the LnkCap/LnkSta encoding (value N = bit N-1 of the LnkCap2 vector).
    public enum Speed: Int, Sendable, Hashable, CaseIterable, Comparable {
        case gt2_5 = 1, gt5 = 2, gt8 = 3, gt16 = 4, gt32 = 5, gt64 = 6

        public init?(gigatransfersPerSecond: Double) {
            guard let speed = Speed.allCases.first(where: { $0.gigatransfersPerSecond == gigatransfersPerSecond }) else {
                return nil
            }
            self = speed
        }

        public var gigatransfersPerSecond: Double {
            switch self {
            case .gt2_5: 2.5
            case .gt5: 5
            case .gt8: 8
            case .gt16: 16
            case .gt32: 32
            case .gt64: 64
            }
        }

        /// The kernel's `pci_speed_string()`, as `current_link_speed`/`max_link_speed` show it.
        public var sysfsValue: String {
            switch self {
            case .gt2_5: "2.5 GT/s PCIe"
            case .gt5: "5.0 GT/s PCIe"
            case .gt8: "8.0 GT/s PCIe"
            case .gt16: "16.0 GT/s PCIe"
            case .gt32: "32.0 GT/s PCIe"
            case .gt64: "64.0 GT/s PCIe"
            }
        }

        public static func < (lhs: Speed, rhs: Speed) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Lane counts a link can be built or trained with.
    public static let validWidths: Set<Int> = [1, 2, 4, 8, 12, 16, 32]

    public var maxSpeed: Speed
    public var maxWidth: Int
    public var currentSpeed: Speed
    /// 0 means the link is down.
    public var currentWidth: Int
    /// The LnkCap2 Supported Link Speeds Vector; its highest speed is `maxSpeed`.
    public var supportedSpeeds: Set<Speed>

    /// A link trained at its capability unless `currentSpeed`/`currentWidth` say otherwise;
    /// supported speeds default to every speed up to `maxSpeed`.
    public init(
        maxSpeed: Speed,
        maxWidth: Int,
        currentSpeed: Speed? = nil,
        currentWidth: Int? = nil,
        supportedSpeeds: Set<Speed>? = nil
    ) {
        self.maxSpeed = maxSpeed
        self.maxWidth = maxWidth
        self.currentSpeed = currentSpeed ?? maxSpeed
        self.currentWidth = currentWidth ?? maxWidth
        self.supportedSpeeds = supportedSpeeds ?? Set(Speed.allCases.filter { $0 <= maxSpeed })
    }
}

/// MSI-X capability.
public struct EmulatedMSIX: Sendable, Hashable {
    /// Number of table entries, 1…2048.
    public var tableSize: Int

    public init(tableSize: Int) {
        self.tableSize = tableSize
    }
}

/// Access Control Services capability.
public struct EmulatedACS: Sendable, Hashable {
    /// ACS Capability / ACS Control bits (same positions in both registers).
    public struct Controls: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let sourceValidation = Controls(rawValue: 1 << 0)
        public static let translationBlocking = Controls(rawValue: 1 << 1)
        public static let p2pRequestRedirect = Controls(rawValue: 1 << 2)
        public static let p2pCompletionRedirect = Controls(rawValue: 1 << 3)
        public static let upstreamForwarding = Controls(rawValue: 1 << 4)
        public static let p2pEgressControl = Controls(rawValue: 1 << 5)
        public static let directTranslatedP2P = Controls(rawValue: 1 << 6)

        /// What Linux enables for isolation (`pci_std_enable_acs`).
        public static let isolation: Controls = [
            .sourceValidation, .p2pRequestRedirect, .p2pCompletionRedirect, .upstreamForwarding,
        ]
    }

    public var capability: Controls
    public var control: Controls

    /// By default the port enables every isolation control it has, as Linux does.
    public init(capability: Controls, control: Controls? = nil) {
        self.capability = capability
        self.control = control ?? capability.intersection(.isolation)
    }
}

/// Advanced Error Reporting: status registers and the kernel's error counters.
public struct EmulatedAER: Sendable, Hashable {
    /// Uncorrectable error bits, raw value = bit position (kernel `aer_uncorrectable_error_string`).
    public enum UncorrectableError: Int, Sendable, Hashable, CaseIterable {
        case undefined = 0
        case dataLinkProtocol = 4
        case surpriseDown = 5
        case poisonedTLP = 12
        case flowControlProtocol = 13
        case completionTimeout = 14
        case completerAbort = 15
        case unexpectedCompletion = 16
        case receiverOverflow = 17
        case malformedTLP = 18
        case ecrc = 19
        case unsupportedRequest = 20
        case acsViolation = 21
        case uncorrectableInternal = 22
        case mcBlockedTLP = 23
        case atomicOpEgressBlocked = 24
        case tlpPrefixBlocked = 25
        case poisonedTLPEgressBlocked = 26
        case dmwrRequestEgressBlocked = 27
        case ideCheck = 28
        case misroutedIDETLP = 29
        case pcrcCheck = 30
        case tlpTranslationEgressBlocked = 31

        /// The name in `aer_dev_fatal`/`aer_dev_nonfatal`.
        public var kernelName: String {
            switch self {
            case .undefined: "Undefined"
            case .dataLinkProtocol: "DLP"
            case .surpriseDown: "SDES"
            case .poisonedTLP: "TLP"
            case .flowControlProtocol: "FCP"
            case .completionTimeout: "CmpltTO"
            case .completerAbort: "CmpltAbrt"
            case .unexpectedCompletion: "UnxCmplt"
            case .receiverOverflow: "RxOF"
            case .malformedTLP: "MalfTLP"
            case .ecrc: "ECRC"
            case .unsupportedRequest: "UnsupReq"
            case .acsViolation: "ACSViol"
            case .uncorrectableInternal: "UncorrIntErr"
            case .mcBlockedTLP: "BlockedTLP"
            case .atomicOpEgressBlocked: "AtomicOpBlocked"
            case .tlpPrefixBlocked: "TLPBlockedErr"
            case .poisonedTLPEgressBlocked: "PoisonTLPBlocked"
            case .dmwrRequestEgressBlocked: "DMWrReqBlocked"
            case .ideCheck: "IDECheck"
            case .misroutedIDETLP: "MisIDETLP"
            case .pcrcCheck: "PCRC_CHECK"
            case .tlpTranslationEgressBlocked: "TLPXlatBlocked"
            }
        }
    }

    /// Correctable error bits, raw value = bit position (kernel `aer_correctable_error_string`).
    public enum CorrectableError: Int, Sendable, Hashable, CaseIterable {
        case receiverError = 0
        case badTLP = 6
        case badDLLP = 7
        case replayNumRollover = 8
        case replayTimerTimeout = 12
        case advisoryNonFatal = 13
        case correctedInternal = 14
        case headerLogOverflow = 15

        /// The name in `aer_dev_correctable`.
        public var kernelName: String {
            switch self {
            case .receiverError: "RxErr"
            case .badTLP: "BadTLP"
            case .badDLLP: "BadDLLP"
            case .replayNumRollover: "Rollover"
            case .replayTimerTimeout: "Timeout"
            case .advisoryNonFatal: "NonFatalErr"
            case .correctedInternal: "CorrIntErr"
            case .headerLogOverflow: "HeaderOF"
            }
        }
    }

    /// The default Uncorrectable Error Severity (DLP, SDES, FCP, RxOF, MalfTLP, UncorrIntErr fatal).
    public static let defaultFatalErrors: Set<UncorrectableError> = [
        .dataLinkProtocol, .surpriseDown, .flowControlProtocol, .receiverOverflow, .malformedTLP,
        .uncorrectableInternal,
    ]

    public var uncorrectableStatus: Set<UncorrectableError>
    public var correctableStatus: Set<CorrectableError>
    /// Errors whose severity bit is set (reported as fatal).
    public var fatalErrors: Set<UncorrectableError>
    public var correctableCounts: [CorrectableError: UInt64]
    public var fatalCounts: [UncorrectableError: UInt64]
    public var nonFatalCounts: [UncorrectableError: UInt64]

    /// A clean AER capability: nothing logged, nothing counted.
    public init(
        uncorrectableStatus: Set<UncorrectableError> = [],
        correctableStatus: Set<CorrectableError> = [],
        fatalErrors: Set<UncorrectableError> = EmulatedAER.defaultFatalErrors,
        correctableCounts: [CorrectableError: UInt64] = [:],
        fatalCounts: [UncorrectableError: UInt64] = [:],
        nonFatalCounts: [UncorrectableError: UInt64] = [:]
    ) {
        self.uncorrectableStatus = uncorrectableStatus
        self.correctableStatus = correctableStatus
        self.fatalErrors = fatalErrors
        self.correctableCounts = correctableCounts
        self.fatalCounts = fatalCounts
        self.nonFatalCounts = nonFatalCounts
    }
}

/// How the host's IOMMU groups the VFs of a PF.
public enum EmulatedVFIOMMUGroups: Sendable, Hashable {
    /// No `iommu_group` links (no IOMMU).
    case none
    /// VF k in group `first + k`: every VF isolated.
    case sequential(first: Int)
    /// Every VF in this one group.
    case shared(group: Int)
}

/// Single Root I/O Virtualization capability of a PF, and the VFs the host sees.
public struct EmulatedSRIOV: Sendable, Hashable {
    public var initialVFs: Int
    public var totalVFs: Int
    /// NumVFs: VFs enabled when the tree is written (VF Enable set when > 0).
    public var enabledVFs: Int
    public var firstVFOffset: Int
    public var vfStride: Int
    public var vfDeviceID: UInt16
    /// SR-IOV Control "ARI Capable Hierarchy" (set by Linux on the first PF when ARI
    /// forwarding is enabled above it).
    public var ariCapableHierarchy: Bool
    public var supportedPageSizes: UInt32
    /// Size of each VF's BAR0 (64-bit prefetchable), a power of two ≥ 4 KiB; all TotalVFs of
    /// them fit in the PF's 2 GiB slot with its BAR0.
    public var vfBARSize: UInt64
    public var vfMSIX: EmulatedMSIX?
    /// Driver the VFs bind to on the host (nil: unbound).
    public var vfDriver: String?
    /// VF k's netdev is `"\(prefix)\(k)"` (nil: VFs have no netdev).
    public var vfNetdevPrefix: String?
    public var vfIOMMUGroups: EmulatedVFIOMMUGroups
    /// What the PF driver reports in `sriov_totalvfs` when it lowers the limit below
    /// TotalVFs (`pci_sriov_set_totalvfs`); nil: the capability's TotalVFs.
    public var driverTotalVFs: Int?
    /// VF indices the hardware fails to present although they are enabled.
    public var absentVFs: Set<Int>

    public init(
        initialVFs: Int? = nil,
        totalVFs: Int,
        enabledVFs: Int = 0,
        firstVFOffset: Int,
        vfStride: Int,
        vfDeviceID: UInt16,
        ariCapableHierarchy: Bool,
        supportedPageSizes: UInt32 = 0x553,
        vfBARSize: UInt64 = 1 << 20,
        vfMSIX: EmulatedMSIX? = EmulatedMSIX(tableSize: 16),
        vfDriver: String? = nil,
        vfNetdevPrefix: String? = nil,
        vfIOMMUGroups: EmulatedVFIOMMUGroups = .none,
        driverTotalVFs: Int? = nil,
        absentVFs: Set<Int> = []
    ) {
        self.initialVFs = initialVFs ?? totalVFs
        self.totalVFs = totalVFs
        self.enabledVFs = enabledVFs
        self.firstVFOffset = firstVFOffset
        self.vfStride = vfStride
        self.vfDeviceID = vfDeviceID
        self.ariCapableHierarchy = ariCapableHierarchy
        self.supportedPageSizes = supportedPageSizes
        self.vfBARSize = vfBARSize
        self.vfMSIX = vfMSIX
        self.vfDriver = vfDriver
        self.vfNetdevPrefix = vfNetdevPrefix
        self.vfIOMMUGroups = vfIOMMUGroups
        self.driverTotalVFs = driverTotalVFs
        self.absentVFs = absentVFs
    }

    /// The limit `sriov_totalvfs` shows and `sriov_numvfs` writes are checked against.
    public var reportedTotalVFs: Int { driverTotalVFs ?? totalVFs }
}

/// Vital Product Data: what the board says it is (read through the VPD capability,
/// which Linux exposes as the `vpd` file).
public struct EmulatedVPD: Sendable, Hashable {
    public var productName: String
    public var partNumber: String
    public var serialNumber: String

    public init(productName: String, partNumber: String, serialNumber: String) {
        self.productName = productName
        self.partNumber = partNumber
        self.serialNumber = serialNumber
    }

    /// The VPD resources: identifier string (0x82), read-only keywords PN/SN and the RV
    /// checksum (0x90), end tag (0x78). The RV byte makes the sum of all bytes up to and
    /// including it zero, as readers verify.
    public var bytes: [UInt8] {
        func field(_ keyword: String, _ value: String) -> [UInt8] {
            let data = Array(value.utf8.prefix(255))
            return Array(keyword.utf8) + [UInt8(data.count)] + data
        }
        let identifier = Array(productName.utf8.prefix(255))
        var bytes: [UInt8] = [0x82, UInt8(identifier.count), 0] + identifier
        let readOnly = field("PN", partNumber) + field("SN", serialNumber) + Array("RV".utf8) + [1]
        bytes += [0x90, UInt8(readOnly.count + 1), 0] + readOnly
        let sum = bytes.reduce(UInt8(0)) { $0 &+ $1 }
        bytes.append(0 &- sum)
        bytes.append(0x78)
        return bytes
    }
}

/// A physical function of the card (a PF with or without SR-IOV), always a PCIe endpoint.
public struct EmulatedFunction: Sendable, Hashable {
    public var address: EmulatedPCIAddress
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var subsystemVendorID: UInt16
    public var subsystemDeviceID: UInt16
    /// Class << 16 | subclass << 8 | prog-if, e.g. 0x020000 for an Ethernet controller.
    public var classCode: UInt32
    public var revision: UInt8
    public var link: EmulatedLink
    public var powerManagement: Bool
    public var vpd: EmulatedVPD?
    public var msix: EmulatedMSIX?
    public var aer: EmulatedAER?
    public var acs: EmulatedACS?
    /// ARI extended capability (its Next Function Number chains the card's ARI PFs).
    public var ari: Bool
    public var sriov: EmulatedSRIOV?
    /// Device Serial Number capability.
    public var serialNumber: UInt64?
    /// `numa_node`; -1 when the platform does not say.
    public var numaNode: Int
    /// Bound driver (`driver` link); nil: unbound.
    public var driver: String?
    public var iommuGroup: Int?
    public var netdevs: [String]
    /// NVMe namespaces the function's controller shows the block layer.
    public var blockDevices: [EmulatedBlockDevice]
    /// `irq` (INTx; MSI-X vectors do not show there).
    public var irq: UInt32
    /// Size of BAR0 (64-bit prefetchable, holds the MSI-X table), a power of two from 16 KiB
    /// to 2 GiB; BAR0 and the VF BARs of one PF share a 2 GiB slot.
    public var barSize: UInt64

    public init(
        address: EmulatedPCIAddress,
        vendorID: UInt16,
        deviceID: UInt16,
        subsystemVendorID: UInt16? = nil,
        subsystemDeviceID: UInt16 = 0,
        classCode: UInt32 = 0x02_00_00,
        revision: UInt8 = 0,
        link: EmulatedLink,
        powerManagement: Bool = true,
        vpd: EmulatedVPD? = nil,
        msix: EmulatedMSIX? = EmulatedMSIX(tableSize: 64),
        aer: EmulatedAER? = EmulatedAER(),
        acs: EmulatedACS? = nil,
        ari: Bool = true,
        sriov: EmulatedSRIOV? = nil,
        serialNumber: UInt64? = nil,
        numaNode: Int = -1,
        driver: String? = nil,
        iommuGroup: Int? = nil,
        netdevs: [String] = [],
        blockDevices: [EmulatedBlockDevice] = [],
        irq: UInt32 = 16,
        barSize: UInt64 = 32 << 20
    ) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.subsystemVendorID = subsystemVendorID ?? vendorID
        self.subsystemDeviceID = subsystemDeviceID
        self.classCode = classCode
        self.revision = revision
        self.link = link
        self.powerManagement = powerManagement
        self.vpd = vpd
        self.msix = msix
        self.aer = aer
        self.acs = acs
        self.ari = ari
        self.sriov = sriov
        self.serialNumber = serialNumber
        self.numaNode = numaNode
        self.driver = driver
        self.iommuGroup = iommuGroup
        self.netdevs = netdevs
        self.blockDevices = blockDevices
        self.irq = irq
        self.barSize = barSize
    }
}

/// The host bridge at `domain:bus:00.0` of the root port's bus.
public struct EmulatedHostBridge: Sendable, Hashable {
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var revision: UInt8

    public init(vendorID: UInt16 = 0x8086, deviceID: UInt16 = 0x09a2, revision: UInt8 = 4) {
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.revision = revision
    }
}

/// The PCIe Root Port the card sits behind. Its secondary bus is the card's lowest bus and
/// its subordinate bus covers every bus a VF can land on; its trained link is the card's.
public struct EmulatedRootPort: Sendable, Hashable {
    public var address: EmulatedPCIAddress
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var revision: UInt8
    public var maxLinkSpeed: EmulatedLink.Speed
    public var maxLinkWidth: Int
    public var acs: EmulatedACS?
    public var aer: EmulatedAER?
    /// DevCap2/DevCtl2 ARI Forwarding Supported and Enabled.
    public var ariForwarding: Bool
    public var numaNode: Int
    public var driver: String?
    public var iommuGroup: Int?
    public var irq: UInt32
    public var hostBridge: EmulatedHostBridge

    public init(
        address: EmulatedPCIAddress,
        vendorID: UInt16 = 0x8086,
        deviceID: UInt16 = 0x347a,
        revision: UInt8 = 4,
        maxLinkSpeed: EmulatedLink.Speed,
        maxLinkWidth: Int,
        acs: EmulatedACS? = EmulatedACS(capability: [
            .sourceValidation, .translationBlocking, .p2pRequestRedirect, .p2pCompletionRedirect,
            .upstreamForwarding,
        ]),
        aer: EmulatedAER? = EmulatedAER(),
        ariForwarding: Bool = true,
        numaNode: Int = -1,
        driver: String? = "pcieport",
        iommuGroup: Int? = nil,
        irq: UInt32 = 24,
        hostBridge: EmulatedHostBridge = EmulatedHostBridge()
    ) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.revision = revision
        self.maxLinkSpeed = maxLinkSpeed
        self.maxLinkWidth = maxLinkWidth
        self.acs = acs
        self.aer = aer
        self.ariForwarding = ariForwarding
        self.numaNode = numaNode
        self.driver = driver
        self.iommuGroup = iommuGroup
        self.irq = irq
        self.hostBridge = hostBridge
    }

    public var hostBridgeAddress: EmulatedPCIAddress {
        EmulatedPCIAddress(domain: address.domain, bus: address.bus, device: 0, function: 0)
    }
}

/// One emulated card: its physical functions and the root port above it.
public struct EmulatedCard: Sendable, Hashable, Identifiable {
    public var id: String
    public var rootPort: EmulatedRootPort
    /// Physical functions; VFs are derived from each PF's `sriov`.
    public var functions: [EmulatedFunction]
    /// Physical functions the card has but its management mode keeps off the host's bus (a
    /// restricted host's SoC management interface); not written, unless a fault exposes them.
    public var withheldFunctions: [EmulatedFunction]

    public init(id: String, rootPort: EmulatedRootPort, functions: [EmulatedFunction],
                withheldFunctions: [EmulatedFunction] = []) {
        self.id = id
        self.rootPort = rootPort
        self.functions = functions
        self.withheldFunctions = withheldFunctions
    }
}

/// A VF as the host sees it once enabled.
public struct EmulatedVirtualFunction: Sendable, Hashable {
    /// k in `virtfn<k>`.
    public var index: Int
    public var address: EmulatedPCIAddress
    public var physicalFunction: EmulatedPCIAddress
    public var iommuGroup: Int?
    public var netdevs: [String]
    public var driver: String?
}

extension EmulatedFunction {
    /// VF k's address: PF routing ID + First VF Offset + k × VF Stride; nil past the domain's
    /// last routing ID or without SR-IOV.
    public func virtualFunctionAddress(_ index: Int) -> EmulatedPCIAddress? {
        guard let sriov, index >= 0 else { return nil }
        return address.advanced(byRoutingIDs: sriov.firstVFOffset + index * sriov.vfStride)
    }

    /// The VFs present when `count` are enabled (absent ones left out), in `virtfn` order.
    public func virtualFunctions(enabled count: Int) -> [EmulatedVirtualFunction] {
        guard let sriov else { return [] }
        return (0..<max(0, count)).compactMap { index in
            guard !sriov.absentVFs.contains(index), let vfAddress = virtualFunctionAddress(index) else {
                return nil
            }
            let group: Int? =
                switch sriov.vfIOMMUGroups {
                case .none: nil
                case let .sequential(first): first + index
                case let .shared(group): group
                }
            return EmulatedVirtualFunction(
                index: index,
                address: vfAddress,
                physicalFunction: address,
                iommuGroup: group,
                netdevs: sriov.vfNetdevPrefix.map { ["\($0)\(index)"] } ?? [],
                driver: sriov.vfDriver
            )
        }
    }

    /// The VFs present as described (`sriov.enabledVFs` enabled).
    public var enabledVirtualFunctions: [EmulatedVirtualFunction] {
        virtualFunctions(enabled: sriov?.enabledVFs ?? 0)
    }
}

/// Lower-case hex, zero padded: the `%0Nx` of kernel and lspci names.
func hex<Value: BinaryInteger>(_ value: Value, digits: Int) -> String {
    let text = String(value, radix: 16)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}

/// An NVMe namespace of an emulated storage function: the controller and block device
/// the tree shows (`nvme/nvmeK/nvmeKn1`, `class/block/nvmeKn1`) and where its node
/// (`dev/nvmeKn1`) leads: the file that serves the namespace's data, when one does.
public struct EmulatedBlockDevice: Sendable, Hashable {
    public var controller: String
    public var name: String
    public var sizeBytes: UInt64
    public var logicalBlockSize: Int
    public var model: String
    public var serial: String
    public var firmware: String
    /// The file `dev/NAME` links to; nil: the tree has no node for it.
    public var node: String?

    public init(controller: String, name: String, sizeBytes: UInt64, logicalBlockSize: Int, model: String, serial: String,
                firmware: String, node: String? = nil) {
        self.controller = controller
        self.name = name
        self.sizeBytes = sizeBytes
        self.logicalBlockSize = logicalBlockSize
        self.model = model
        self.serial = serial
        self.firmware = firmware
        self.node = node
    }
}

extension EmulatedCard {
    /// Every block device of the card's functions.
    public var blockDevices: [EmulatedBlockDevice] { functions.flatMap(\.blockDevices) }

    /// The card with the storage faults that act on the card itself applied.
    public func applying(_ fault: StorageFault?) -> EmulatedCard {
        guard fault == .namespaceMissing else { return self }
        var card = self
        for index in card.functions.indices { card.functions[index].blockDevices = [] }
        return card
    }

    /// The card with each block device's node (`dev/NAME`) leading where `node` says.
    public func withBlockDeviceNodes(_ node: (EmulatedBlockDevice) -> String?) -> EmulatedCard {
        var card = self
        for index in card.functions.indices {
            for device in card.functions[index].blockDevices.indices {
                card.functions[index].blockDevices[device].node = node(card.functions[index].blockDevices[device])
            }
        }
        return card
    }
}
