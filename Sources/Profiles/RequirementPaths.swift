/// Every requirement a profile states, named by its key path: the list a run's coverage
/// is checked against. Sections are listed whether or not any check reads them, so a
/// requirement nothing examines cannot go unnoticed.
extension Profile {
    /// Key paths of the requirements, in profile order. PCI functions are named by their
    /// `name` (`pci.functions[network-pf].link`); thresholds by their key
    /// (`network.minTcpThroughputGbps`). A function whose presence the management mode
    /// decides has its `presentIn` listed; its other requirements only when the declared
    /// mode shows it to the host.
    public var requirementPaths: [String] {
        var paths: [String] = []
        if firmware != nil { paths.append("firmware.minVersion") }
        for function in pci.functions {
            if function.presentIn != nil { paths.append(RequirementPath.function(function, "presentIn")) }
            guard function.isPresent(in: managementMode) else { continue }
            paths.append(RequirementPath.function(function))
            if function.link != nil { paths.append(RequirementPath.function(function, "link")) }
            if function.msix != nil { paths.append(RequirementPath.function(function, "msix")) }
            if function.acs != nil { paths.append(RequirementPath.function(function, "acs")) }
            if function.capabilities.contains(.aer) { paths.append(RequirementPath.function(function, "capabilities.aer")) }
            if let sriov = function.sriov {
                paths.append(RequirementPath.function(function, "sriov"))
                if sriov.enablesVFs { paths.append(RequirementPath.function(function, "sriov.enableVFs")) }
            }
        }
        if let network {
            paths += present([("minTcpThroughputGbps", network.minTcpThroughputGbps != nil),
                              ("minUdpThroughputGbps", network.minUdpThroughputGbps != nil),
                              ("maxTcpLatencyP99us", network.maxTcpLatencyP99us != nil),
                              ("mtu", network.mtu != nil),
                              ("maxVfThroughputSpreadPercent", network.maxVfThroughputSpreadPercent != nil)], in: "network")
        }
        if let storage {
            // The block devices, their data's integrity and flushes are required of any storage function.
            paths.append("storage.devices")
            paths += present([("minCapacityMiB", storage.minCapacityMiB != nil),
                              ("logicalBlockSize", storage.logicalBlockSize != nil),
                              ("minSeqReadMiBps", storage.minSeqReadMiBps != nil),
                              ("minSeqWriteMiBps", storage.minSeqWriteMiBps != nil),
                              ("minRandReadIOPS", storage.minRandReadIOPS != nil),
                              ("maxReadLatencyP99us", storage.maxReadLatencyP99us != nil),
                              ("minRandWriteIOPS", storage.minRandWriteIOPS != nil),
                              ("maxWriteLatencyP99us", storage.maxWriteLatencyP99us != nil)], in: "storage")
            paths += ["storage.integrity", "storage.flush"]
        }
        if let rdma {
            // The devices, connections, data integrity and the memory-protection model are required of any RDMA card.
            paths += ["rdma.devices", "rdma.connection"]
            paths += present([("minWriteBandwidthGbps", rdma.minWriteBandwidthGbps != nil),
                              ("minReadBandwidthGbps", rdma.minReadBandwidthGbps != nil),
                              ("maxSendLatencyP99us", rdma.maxSendLatencyP99us != nil),
                              ("maxWriteLatencyP99us", rdma.maxWriteLatencyP99us != nil)], in: "rdma")
            paths += ["rdma.integrity", "rdma.accessEnforcement", "rdma.pdIsolation", "rdma.qpRecovery"]
        }
        if let isolation {
            paths += ["isolation.management", "isolation.allowlist"]
            if isolation.hostManagementChannel?.mode == .restricted { paths.append("isolation.hostManagementChannel") }
        }
        return paths
    }

    private func present(_ keys: [(String, Bool)], in section: String) -> [String] {
        keys.filter(\.1).map { "\(section).\($0.0)" }
    }
}

extension Profile.SRIOVRequirement {
    /// Whether the certification enables VFs on this host.
    public var enablesVFs: Bool { enableAllowed && enableVFs > 0 }
}

/// How requirement paths name a PCI function's requirements.
public enum RequirementPath {
    /// `pci.functions[network-pf]`, or with `aspect` `pci.functions[network-pf].link`.
    public static func function(_ function: Profile.PCIFunction, _ aspect: String? = nil) -> String {
        "pci.functions[\(function.name)]" + (aspect.map { "." + $0 } ?? "")
    }
}
