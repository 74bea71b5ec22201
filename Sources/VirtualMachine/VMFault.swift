/// Faults the VM testbed injects by building a different machine: what a real kernel
/// then reads off the bus is the fault, with nothing modelled by dpucert.
public enum VMFault: String, Sendable, Hashable, Codable, CaseIterable {
    /// The NVMe controller offers one VF fewer than the profile's `minTotalVFs` (`sriov_max_vfs`).
    case vfShortfall = "vm-vf-shortfall"
    /// One profile function (the last network function, else the last NVMe controller) is left off the machine.
    case missingFunction = "vm-missing-function"
    /// The peer's responder registers every region with all access, whatever was asked.
    case rdmaIgnoreAccessFlags = "rdma-ignore-access-flags"
    /// The peer's responder alters buffers: what arrived, what it offers to read, what it echoes.
    case rdmaCorruption = "rdma-corruption"
    /// The peer's responder puts every tenant's connections in one protection domain.
    case rdmaSharedPD = "rdma-shared-pd"
    /// The RDMA wire's link is down (the peer's end).
    case rdmaPortDown = "rdma-port-down"
    /// The RDMA wire is rate-limited (netem) far below the profile's bandwidth.
    case rdmaSlow = "rdma-slow"

    public var name: String { rawValue }

    public var summary: String {
        switch self {
        case .vfShortfall: "the NVMe controller's sriov_max_vfs is one below the profile's minTotalVFs"
        case .missingFunction: "one profile function is left off the virtual machine"
        case .rdmaIgnoreAccessFlags: "the RDMA responder registers memory with more access than asked"
        case .rdmaCorruption: "the RDMA responder alters the buffers it holds, offers and echoes"
        case .rdmaSharedPD: "the RDMA responder puts every tenant's connections in one protection domain"
        case .rdmaPortDown: "the RDMA data-plane link is down"
        case .rdmaSlow: "the RDMA data-plane link is rate-limited far below the profile (netem, \(GuestRDMAWire.slowRate) each way)"
        }
    }

    /// The checks this fault must turn red.
    public var breaks: [String] {
        switch self {
        case .vfShortfall: ["pci.sriov-capability"]
        case .missingFunction: ["pci.functions-present"]
        case .rdmaIgnoreAccessFlags: ["rdma.access-enforcement"]
        case .rdmaCorruption: ["rdma.data-integrity"]
        case .rdmaSharedPD: ["rdma.pd-isolation"]
        // Nothing RDMA works over a link that is down: every check of the suite is red.
        case .rdmaPortDown: ["rdma.device-ports", "rdma.cm-connect", "rdma.write-bandwidth", "rdma.read-bandwidth",
                             "rdma.send-latency", "rdma.write-latency", "rdma.data-integrity", "rdma.access-enforcement",
                             "rdma.pd-isolation", "rdma.qp-recovery"]
        case .rdmaSlow: ["rdma.write-bandwidth", "rdma.read-bandwidth"]
        }
    }

    /// The responder faults the guest's agent is started with.
    var responderFault: String? {
        switch self {
        case .rdmaIgnoreAccessFlags: "ignore-access-flags"
        case .rdmaCorruption: "corruption"
        case .rdmaSharedPD: "shared-pd"
        default: nil
        }
    }

    public init(name: String) throws(VMError) {
        guard let fault = VMFault(rawValue: name) else {
            throw .unknownFault(name, known: Self.allCases.map(\.name))
        }
        self = fault
    }
}
