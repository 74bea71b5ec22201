/// A device profile: what one card model must show the host and what it must achieve,
/// plus how to emulate it. Every value of this type that `ProfileLoader` returns has passed
/// all validation documented in docs/profiles.md. (Decoding from JSON checks each value's
/// format, not the cross-field rules; load profiles through `ProfileLoader`.)
public struct Profile: Sendable, Hashable, Codable {
    public static let supportedSchemaVersion = 1

    public let schemaVersion: Int
    /// Lower-case words joined by dashes, e.g. `nvidia-bluefield-2-mbf2h516a`.
    public let id: String
    public let vendor: String
    public let model: String
    public let formFactor: String
    public let ports: [Port]
    public let firmware: Firmware?
    /// The management mode the card is certified in: it decides which functions with a
    /// `presentIn` list the host sees. Given exactly when some function has one.
    public let managementMode: ManagementMode?
    public let pci: PCI
    public let network: NetworkRequirements?
    public let storage: StorageRequirements?
    public let rdma: RDMARequirements?
    public let isolation: Isolation?
    public let emulation: Emulation?

    /// The function with this role; roles are unique within a profile.
    public func function(role: FunctionRole) -> PCIFunction? {
        pci.functions.first { $0.role == role }
    }

    /// The functions the host must see with the card in its declared management mode, in
    /// profile order: what the PCI checks match, count and judge.
    public var expectedFunctions: [PCIFunction] {
        pci.functions.filter { $0.isPresent(in: managementMode) }
    }

    /// The functions whose presence the management mode decides, present or not in the
    /// declared mode, in profile order.
    public var modeDependentFunctions: [PCIFunction] {
        pci.functions.filter { $0.presentIn != nil }
    }

    /// The sum of all port speeds: no throughput requirement may exceed it.
    public var totalPortSpeedGbps: Int {
        ports.totalSpeedGbps
    }
}

extension Collection<Profile.Port> {
    var totalSpeedGbps: Int {
        reduce(0) { $0 + $1.speedGbps }
    }
}

extension Profile {
    /// A network port on the card.
    public struct Port: Sendable, Hashable, Codable {
        public static let allowedSpeedsGbps = [1, 10, 25, 40, 50, 100, 200, 400, 800]

        /// 1-15 characters from `a-z 0-9 _ . -` (it may become an interface name in emulation).
        public let name: String
        public let speedGbps: Int
    }

    public struct Firmware: Sendable, Hashable, Codable {
        /// The oldest firmware the certification accepts.
        public let minVersion: FirmwareVersion
    }

    public struct PCI: Sendable, Hashable, Codable {
        /// In profile order; names and roles are unique.
        public let functions: [PCIFunction]
    }

    /// How far the card lets the host manage it. It decides whether the host sees the card's
    /// management function (BlueField's SoC management interface, RShim) and may use the
    /// management channel behind it.
    public enum ManagementMode: String, Sendable, Hashable, CaseIterable, Codable {
        /// Zero-trust host: the host may not manage the card.
        case restricted
        /// The host may manage the card.
        case privileged
    }

    public enum FunctionRole: String, Sendable, Hashable, CaseIterable, Codable {
        case network
        case storage
        case management
        case accelerator
        case other
    }

    /// One kind of physical function the card must present to the host.
    public struct PCIFunction: Sendable, Hashable, Codable {
        public let name: String
        public let role: FunctionRole
        public let match: DeviceMatch
        /// How many functions matching `match` the host must see (for example one per port).
        public let count: Int
        public let classCode: ClassCode?
        public let link: LinkRequirement?
        /// Capabilities every matching function must expose, unique, in profile order.
        public let capabilities: [Capability]
        public let msix: MSIXRequirement?
        public let acs: ACSRequirement?
        public let sriov: SRIOVRequirement?
        /// The management modes in which the host sees the function; nil: in every mode.
        /// Unique, in profile order, never every mode.
        public let presentIn: [ManagementMode]?

        /// Whether the host sees the function when the card is in `mode` (no mode: only
        /// the functions present in every mode).
        public func isPresent(in mode: ManagementMode?) -> Bool {
            guard let presentIn else { return true }
            return mode.map(presentIn.contains) ?? false
        }
    }

    /// Identifies the functions of one kind. Subsystem IDs are either both given or both absent;
    /// absent ones match any subsystem.
    public struct DeviceMatch: Sendable, Hashable, Codable {
        public let vendor: PCIID
        public let device: PCIID
        public let subsystemVendor: PCIID?
        public let subsystemDevice: PCIID?

        /// Whether a function with these IDs is one of this kind.
        public func matches(
            vendor: PCIID, device: PCIID, subsystemVendor: PCIID?, subsystemDevice: PCIID?
        ) -> Bool {
            guard vendor == self.vendor, device == self.device else { return false }
            guard let requiredVendor = self.subsystemVendor, let requiredDevice = self.subsystemDevice else {
                return true
            }
            return subsystemVendor == requiredVendor && subsystemDevice == requiredDevice
        }

        /// Whether some function would match both: then a profile could not tell two kinds apart.
        func overlaps(_ other: DeviceMatch) -> Bool {
            matches(
                vendor: other.vendor, device: other.device, subsystemVendor: other.subsystemVendor,
                subsystemDevice: other.subsystemDevice)
                || other.matches(
                    vendor: vendor, device: device, subsystemVendor: subsystemVendor, subsystemDevice: subsystemDevice)
        }
    }

    /// The least link the function must train to (the Link Status register, not only Link Capabilities).
    public struct LinkRequirement: Sendable, Hashable, Codable {
        public static let allowedWidths = [1, 2, 4, 8, 12, 16, 32]

        public let minSpeed: LinkSpeed
        public let minWidth: Int

        enum CodingKeys: String, CodingKey {
            case minSpeed = "minSpeedGTs"
            case minWidth
        }
    }

    public struct MSIXRequirement: Sendable, Hashable, Codable {
        /// 1...2048, the most an MSI-X table can hold.
        public let minVectors: Int
    }

    public struct ACSRequirement: Sendable, Hashable, Codable {
        /// Controls the capability must support, unique.
        public let required: [ACSControl]
    }

    public struct SRIOVRequirement: Sendable, Hashable, Codable {
        /// TotalVFs must be at least this (1...65535).
        public let minTotalVFs: Int
        /// The VF Device ID register value.
        public let vfDeviceID: PCIID
        /// Required First VF Offset, when the profile pins it.
        public let firstVFOffset: Int?
        /// Required VF Stride, when the profile pins it.
        public let vfStride: Int?
        /// How many VFs the certification enables (0 = none; at most `minTotalVFs`).
        public let enableVFs: Int
        /// Whether the host may enable VFs at all (a zero-trust host may not).
        public let enableAllowed: Bool
    }

    /// Thresholds for the network suite; absent ones are not tested.
    public struct NetworkRequirements: Sendable, Hashable, Codable {
        public let minTcpThroughputGbps: Double?
        public let minUdpThroughputGbps: Double?
        public let maxTcpLatencyP99us: Double?
        /// The largest IP packet that must cross the data path unfragmented, and the MTU
        /// every data-plane netdev must carry.
        public let mtu: Int?
        /// How far apart, in percent of their mean, the throughputs of VFs sending at
        /// once may be: (fastest - slowest) / mean.
        public let maxVfThroughputSpreadPercent: Double?

        /// From the IPv6 minimum (a data plane carries IPv6) to the largest jumbo frame
        /// Ethernet NICs carry.
        public static let mtuRange = 1280...9216
    }

    /// Thresholds for the storage suite; absent ones are not tested. Every storage function
    /// must show its block device, and data written to it must read back intact and survive
    /// a flush, whatever thresholds are given.
    public struct StorageRequirements: Sendable, Hashable, Codable {
        public static let defaultQueueDepth = 8

        public let minSeqReadMiBps: Double?
        public let minSeqWriteMiBps: Double?
        public let minRandReadIOPS: Int?
        public let maxReadLatencyP99us: Double?
        public let minRandWriteIOPS: Int?
        public let maxWriteLatencyP99us: Double?
        /// The smallest size each storage function's block device may have.
        public let minCapacityMiB: Int?
        /// The logical block size the block devices must report (512 or 4096).
        public let logicalBlockSize: Int?
        /// Queue depth of the sequential jobs (the random ones run at 32).
        public let queueDepth: Int
        /// Whether the storage functions' block devices may be written directly; otherwise
        /// write tests go to a scratch file on the device's mounted file system.
        public let destructive: Bool
    }

    /// Thresholds for the RDMA suite; absent ones are not tested.
    public struct RDMARequirements: Sendable, Hashable, Codable {
        public static let defaultMessageSizes = [65536]

        /// RDMA WRITE bandwidth at the largest message size.
        public let minWriteBandwidthGbps: Double?
        /// RDMA READ bandwidth at the largest message size.
        public let minReadBandwidthGbps: Double?
        /// SEND ping-pong latency (half the round trip) at the smallest message size.
        public let maxSendLatencyP99us: Double?
        /// RDMA WRITE ping-pong latency (half the round trip) at the smallest message size.
        public let maxWriteLatencyP99us: Double?
        /// Message sizes in bytes to measure at, ascending and unique.
        public let messageSizes: [Int]
    }

    public struct Isolation: Sendable, Hashable, Codable {
        /// What the host must NOT reach.
        public let management: ManagementPlane
        /// Data-plane services the host may reach on the DPU.
        public let allowlist: [AllowedService]
        public let hostManagementChannel: HostManagementChannel?
    }

    /// The real card's management-plane addresses and services (at least one address).
    public struct ManagementPlane: Sendable, Hashable, Codable {
        public let ipv4: [IPv4Address]
        public let ipv6: [IPv6Address]
        public let tcpPorts: [Int]
        public let udpPorts: [Int]
    }

    public enum TransportProtocol: String, Sendable, Hashable, CaseIterable, Codable {
        case tcp
        case udp
    }

    public struct AllowedService: Sendable, Hashable, Codable {
        public let transport: TransportProtocol
        public let port: Int
        public let name: String

        enum CodingKeys: String, CodingKey {
            case transport = "protocol"
            case port
            case name
        }
    }

    /// A host-side channel into the DPU's OS (BlueField's `tmfifo_net0` over RShim).
    public struct HostManagementChannel: Sendable, Hashable, Codable {
        public let interface: String
        /// `restricted`: the channel must be closed to the host; `privileged`: the host may use it.
        public let mode: ManagementMode
    }

    /// How to emulate the card when no hardware is present.
    public struct Emulation: Sendable, Hashable, Codable {
        /// Where the first function goes; the rest follow it.
        public let pciAddress: PCIAddress
        /// -1 (no affinity, as sysfs shows it) or 0...1023.
        public let numaNode: Int
        /// VFs already enabled when the run starts (at most the smallest `minTotalVFs`).
        public let preEnabledVFs: Int
        /// The IOMMU group number of the first function.
        public let iommuGroupBase: Int
        /// Size of the file backing the emulated storage namespace.
        public let storageBackingMiB: Int
        /// Required when the profile has an isolation section.
        public let lab: EmulatedLab?
    }

    /// Management addresses inside the emulated lab: only 198.18.0.0/15 for IPv4 and
    /// 2001:db8::/32 or fe80::/10 for IPv6, so a lab can never touch a real network.
    public struct EmulatedLab: Sendable, Hashable, Codable {
        public let managementIPv4: [IPv4Address]
        public let managementIPv6: [IPv6Address]
    }
}
