import Testbed

/// An emulated lab as the suites see it: its sites are its network namespaces, the
/// DPU firewall counters are read from the DPU namespace.
public struct LabTestbed: Testbed {
    public let topology: LabTopology

    public init(_ lab: Lab) {
        topology = lab.topology
    }

    public var summary: String { "emulated lab \(topology.name)" }
}
