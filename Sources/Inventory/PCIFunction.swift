/// One function of the inventory: identity, decoded capabilities, link, SR-IOV and the
/// kernel's view, with the places where the two disagree.
public struct PCIFunction: Sendable, Hashable {
    public var address: PCIAddress
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var subsystemVendorID: UInt16?
    public var subsystemDeviceID: UInt16?
    public var classCode: UInt32
    public var revision: UInt8
    public var headerType: Int?
    public var vendorName: String?
    public var deviceName: String?
    /// The PF this function is a VF of: the sysfs `physfn` link, or for a dump the PF
    /// whose SR-IOV routing IDs include this address.
    public var physicalFunction: PCIAddress?
    public var config: DecodedConfig
    /// VF addresses the kernel computes for the enabled VFs (empty when VFs are off).
    public var vfAddresses: [PCIAddress]
    public var sysfs: SysfsExtras?
    public var findings: [Finding]

    public var isVirtualFunction: Bool { physicalFunction != nil }
    public var capabilityNames: [String] { config.capabilities.map(\.name) }
    public var link: PCIeLink? { config.pcie?.link }
    public var sriov: SRIOVCapability? { config.sriov }
    public var iommuGroup: Int? { sysfs?.iommuGroup }
    public var numaNode: Int? { sysfs?.numaNode }
    public var driver: String? { sysfs?.driver }
    public var netdevs: [String] { sysfs?.netdevs ?? [] }
    public var blockDevices: [String] { sysfs?.blockDevices ?? [] }
}

/// A disagreement or defect an inventory reveals: config space versus the kernel's
/// sysfs view, or a capability chain that cannot be trusted. Certification suites
/// decide which findings fail a card.
public struct Finding: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case sysfsMismatch = "sysfs-mismatch"
        case brokenCapabilityChain = "broken-capability-chain"
        case configSpaceUnreadable = "config-space-unreadable"
        case accessWarning = "access-warning"
    }

    public var kind: Kind
    /// The property concerned, e.g. `sriov.totalVFs`, `link.currentWidth`.
    public var property: String
    public var message: String
    public var configSpace: String?
    public var sysfs: String?

    public init(kind: Kind, property: String, message: String, configSpace: String? = nil, sysfs: String? = nil) {
        self.kind = kind
        self.property = property
        self.message = message
        self.configSpace = configSpace
        self.sysfs = sysfs
    }
}
