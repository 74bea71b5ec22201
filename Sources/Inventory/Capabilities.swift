/// One entry of a capability chain.
public struct CapabilityEntry: Sendable, Hashable, Codable {
    public enum Space: String, Sendable, Hashable, Codable { case standard, extended }

    public var space: Space
    public var id: UInt16
    public var offset: Int
    /// Extended capabilities carry a version in their header.
    public var version: Int?
    /// Short stable name (`pm`, `msix`, `pcie`, `sriov`, ...), `cap-0xNN`/`ecap-0xNNNN` if unknown.
    public var name: String

    public init(space: Space, id: UInt16, offset: Int, version: Int? = nil) {
        self.space = space
        self.id = id
        self.offset = offset
        self.version = version
        self.name = CapabilityEntry.name(space: space, id: id)
    }

    static func name(space: Space, id: UInt16) -> String {
        switch space {
        case .standard: return standardNames[id] ?? "cap-0x" + hex(id, width: 2)
        case .extended: return extendedNames[id] ?? "ecap-0x" + hex(id, width: 4)
        }
    }

    /// Standard capability IDs (PCI Code and ID Assignment; Linux `PCI_CAP_ID_*`).
    static let standardNames: [UInt16: String] = [
        0x01: "pm", 0x02: "agp", 0x03: "vpd", 0x04: "slot-id", 0x05: "msi", 0x06: "hot-swap",
        0x07: "pcix", 0x08: "hypertransport", 0x09: "vendor-specific", 0x0a: "debug-port",
        0x0b: "compactpci", 0x0c: "hot-plug", 0x0d: "bridge-subsystem", 0x0e: "agp3",
        0x0f: "secure-device", 0x10: "pcie", 0x11: "msix", 0x12: "sata", 0x13: "af",
        0x14: "ea", 0x15: "fpb",
    ]

    /// Extended capability IDs (Linux `PCI_EXT_CAP_ID_*`).
    static let extendedNames: [UInt16: String] = [
        0x01: "aer", 0x02: "vc", 0x03: "dsn", 0x04: "power-budget", 0x05: "rc-link",
        0x06: "rc-internal-link", 0x07: "rcec-association", 0x08: "mfvc", 0x09: "vc",
        0x0a: "rcrb", 0x0b: "vsec", 0x0c: "cac", 0x0d: "acs", 0x0e: "ari", 0x0f: "ats",
        0x10: "sriov", 0x11: "mriov", 0x12: "multicast", 0x13: "pri", 0x15: "rebar", 0x16: "dpa",
        0x17: "tph", 0x18: "ltr", 0x19: "secondary-pcie", 0x1a: "pmux", 0x1b: "pasid",
        0x1c: "lnr", 0x1d: "dpc", 0x1e: "l1pm", 0x1f: "ptm", 0x20: "mpcie", 0x21: "frs",
        0x22: "rtr", 0x23: "dvsec", 0x24: "vf-rebar", 0x25: "dlf", 0x26: "pl-16gt",
        0x27: "lane-margining", 0x28: "hierarchy-id", 0x29: "npem", 0x2a: "pl-32gt",
        0x2b: "alternate-protocol", 0x2c: "sfi", 0x2d: "shadow-functions", 0x2e: "doe",
        0x2f: "device-3", 0x30: "ide", 0x31: "pl-64gt", 0x32: "flit-logging",
        0x33: "flit-performance", 0x34: "flit-error-injection",
    ]
}

/// PCI Express capability: device/port type and the link registers.
public struct PCIeCapability: Sendable, Hashable, Codable {
    public enum PortType: Int, Sendable, Hashable, Codable {
        case endpoint = 0, legacyEndpoint = 1, rootPort = 4, upstreamSwitchPort = 5
        case downstreamSwitchPort = 6, pcieToPCIBridge = 7, pciToPCIeBridge = 8
        case rootComplexIntegratedEndpoint = 9, rootComplexEventCollector = 10
    }

    public var version: Int
    /// The raw Device/Port Type field; `portType` is nil for reserved values.
    public var portTypeCode: Int
    public var portType: PortType? { PortType(rawValue: portTypeCode) }
    /// Nil for functions without a link (RC integrated endpoints and event collectors).
    public var link: PCIeLink?
    /// DevCap2 ARI Forwarding Supported / DevCtl2 ARI Forwarding Enable (ports only).
    public var ariForwardingSupported: Bool
    public var ariForwardingEnabled: Bool
}

/// The link as config space describes it (LnkCap, LnkSta, LnkCap2).
public struct PCIeLink: Sendable, Hashable, Codable {
    public var maxSpeedCode: Int
    public var maxWidth: Int
    public var currentSpeedCode: Int
    public var currentWidth: Int
    /// LnkCap2 Supported Link Speeds Vector, decoded; empty when LnkCap2 is absent or zero.
    public var supportedSpeedsGTs: [Double]

    public var maxSpeedGTs: Double? { PCIeLink.gigatransfers(code: maxSpeedCode) }
    public var currentSpeedGTs: Double? { PCIeLink.gigatransfers(code: currentSpeedCode) }

    /// Speed codes 1…6 select 2.5, 5, 8, 16, 32, 64 GT/s (LnkCap/LnkSta/LnkCtl2 encoding).
    public static func gigatransfers(code: Int) -> Double? {
        switch code {
        case 1: return 2.5
        case 2: return 5.0
        case 3: return 8.0
        case 4: return 16.0
        case 5: return 32.0
        case 6: return 64.0
        default: return nil
        }
    }

    public static func code(gigatransfers: Double) -> Int? {
        (1...6).first { Self.gigatransfers(code: $0) == gigatransfers }
    }
}

/// Single Root I/O Virtualization extended capability.
public struct SRIOVCapability: Sendable, Hashable, Codable {
    public var initialVFs: Int
    public var totalVFs: Int
    public var numVFs: Int
    public var vfEnabled: Bool
    public var vfMemorySpaceEnabled: Bool
    public var ariCapableHierarchy: Bool
    public var functionDependencyLink: Int
    public var firstVFOffset: Int
    public var vfStride: Int
    public var vfDeviceID: UInt16

    /// The routing IDs of VFs 0..<count, as the kernel computes them
    /// (`pci_iov_virtfn_bus`/`_devfn`): PF RID + First VF Offset + k × VF Stride.
    public func vfAddresses(physicalFunction pf: PCIAddress, count: Int) -> [PCIAddress] {
        (0..<max(0, count)).map { k in
            let routingID = UInt16(truncatingIfNeeded: Int(pf.routingID) + firstVFOffset + k * vfStride)
            return PCIAddress(domain: pf.domain, routingID: routingID)
        }
    }
}

/// Access Control Services: what the function can do and what is enabled.
public struct ACSCapability: Sendable, Hashable, Codable {
    public struct Controls: OptionSet, Sendable, Hashable, Codable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let sourceValidation = Controls(rawValue: 1 << 0)
        public static let translationBlocking = Controls(rawValue: 1 << 1)
        public static let requestRedirect = Controls(rawValue: 1 << 2)
        public static let completionRedirect = Controls(rawValue: 1 << 3)
        public static let upstreamForwarding = Controls(rawValue: 1 << 4)
        public static let egressControl = Controls(rawValue: 1 << 5)
        public static let directTranslatedP2P = Controls(rawValue: 1 << 6)

        /// Names as profiles and reports spell them.
        public static let named: [(String, Controls)] = [
            ("source-validation", .sourceValidation), ("translation-blocking", .translationBlocking),
            ("request-redirect", .requestRedirect), ("completion-redirect", .completionRedirect),
            ("upstream-forwarding", .upstreamForwarding), ("egress-control", .egressControl),
            ("direct-translated-p2p", .directTranslatedP2P),
        ]

        public var names: [String] { Self.named.filter { contains($0.1) }.map(\.0) }
    }

    public var capability: Controls
    public var control: Controls
}

/// Advanced Error Reporting status registers.
public struct AERCapability: Sendable, Hashable, Codable {
    public var uncorrectableStatus: UInt32
    public var uncorrectableMask: UInt32
    public var uncorrectableSeverity: UInt32
    public var correctableStatus: UInt32
    public var correctableMask: UInt32
}

public struct MSIXCapability: Sendable, Hashable, Codable {
    public var tableSize: Int
    public var enabled: Bool
    public var functionMasked: Bool
}

public struct MSICapability: Sendable, Hashable, Codable {
    public var enabled: Bool
    public var vectorsCapable: Int
    public var is64Bit: Bool
}
