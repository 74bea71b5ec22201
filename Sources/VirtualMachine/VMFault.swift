/// Faults the VM testbed injects by building a different machine: what a real kernel
/// then reads off the bus is the fault, with nothing modelled by dpucert.
public enum VMFault: String, Sendable, Hashable, Codable, CaseIterable {
    /// The NVMe controller offers one VF fewer than the profile's `minTotalVFs` (`sriov_max_vfs`).
    case vfShortfall = "vm-vf-shortfall"
    /// One profile function (the last network function, else the last NVMe controller) is left off the machine.
    case missingFunction = "vm-missing-function"

    public var name: String { rawValue }

    public var summary: String {
        switch self {
        case .vfShortfall: "the NVMe controller's sriov_max_vfs is one below the profile's minTotalVFs"
        case .missingFunction: "one profile function is left off the virtual machine"
        }
    }

    /// The checks this fault must turn red.
    public var breaks: [String] {
        switch self {
        case .vfShortfall: ["pci.sriov-capability"]
        case .missingFunction: ["pci.functions-present"]
        }
    }

    public init(name: String) throws(VMError) {
        guard let fault = VMFault(rawValue: name) else {
            throw .unknownFault(name, known: Self.allCases.map(\.name))
        }
        self = fault
    }
}
