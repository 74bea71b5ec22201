// Fleets of identical cards for scale runs: N cards, each one PF with M VFs enabled, each
// behind its own root port on its own buses.

public enum EmulatedFleet {
    /// The PF every fleet card carries: a ConnectX-7-class 2×200G NIC PF, PCIe 5.0 x16.
    public static let defaultPhysicalFunction = EmulatedFunction(
        address: EmulatedPCIAddress(bus: 1, device: 0, function: 0),
        vendorID: 0x15b3,
        deviceID: 0x1021,
        subsystemDeviceID: 0x0007,
        revision: 0,
        link: EmulatedLink(maxSpeed: .gt32, maxWidth: 16),
        msix: EmulatedMSIX(tableSize: 64),
        ari: true,
        sriov: EmulatedSRIOV(
            totalVFs: 0, firstVFOffset: 1, vfStride: 1, vfDeviceID: 0x101e, ariCapableHierarchy: true,
            vfMSIX: EmulatedMSIX(tableSize: 8), vfDriver: "mlx5_core"),
        numaNode: 0,
        driver: "mlx5_core"
    )

    /// Root ports per domain: devices 01…1f of bus 00.
    static let rootPortsPerDomain = 31

    /// `count` cards, each a copy of `template` with `virtualFunctionsPerCard` VFs (TotalVFs and
    /// NumVFs) at First VF Offset 1, stride 1, behind root port `00:(i % 31 + 1).0` of domain
    /// `i / 31`, on buses of its own. Every function gets its own IOMMU group and netdev.
    public static func cards(
        count: Int, virtualFunctionsPerCard: Int, template: EmulatedFunction = defaultPhysicalFunction
    ) throws(EmulatorError) -> [EmulatedCard] {
        guard count >= 0 else {
            throw .invalidDescription(card: "fleet", field: "count", expected: "≥ 0", found: "\(count)")
        }
        guard (0...0xffff).contains(virtualFunctionsPerCard) else {
            throw .invalidDescription(
                card: "fleet", field: "virtualFunctionsPerCard", expected: "0…65535", found: "\(virtualFunctionsPerCard)")
        }
        // The PF at devfn 0 and VF k at routing ID offset 1 + k.
        let busesPerCard = virtualFunctionsPerCard / 256 + 1
        let cardsPerDomain = min(rootPortsPerDomain, 255 / busesPerCard)
        guard cardsPerDomain > 0 else {
            throw .invalidDescription(
                card: "fleet", field: "virtualFunctionsPerCard", expected: "VFs that fit below bus ff",
                found: "\(virtualFunctionsPerCard)")
        }
        var nextGroup = 0
        func takeGroups(_ count: Int) -> Int {
            defer { nextGroup += count }
            return nextGroup
        }
        return (0..<count).map { index in
            let domain = UInt32(index / cardsPerDomain)
            let slot = index % cardsPerDomain
            let bus = UInt8(1 + slot * busesPerCard)
            var function = template
            function.address = EmulatedPCIAddress(domain: domain, bus: bus, device: 0, function: 0)
            let netdev = "enp\(bus)s0f0"
            function.netdevs = ["\(netdev)np0"]
            let portGroup = takeGroups(2)
            function.iommuGroup = portGroup + 1
            var sriov = template.sriov ?? EmulatedSRIOV(
                totalVFs: 0, firstVFOffset: 1, vfStride: 1, vfDeviceID: template.deviceID, ariCapableHierarchy: true)
            sriov.totalVFs = virtualFunctionsPerCard
            sriov.initialVFs = virtualFunctionsPerCard
            sriov.enabledVFs = virtualFunctionsPerCard
            sriov.driverTotalVFs = nil
            sriov.absentVFs = []
            sriov.firstVFOffset = 1
            sriov.vfStride = 1
            sriov.vfNetdevPrefix = "\(netdev)v"
            sriov.vfIOMMUGroups = .sequential(first: takeGroups(virtualFunctionsPerCard))
            function.sriov = sriov
            let rootPort = EmulatedRootPort(
                address: EmulatedPCIAddress(domain: domain, bus: 0, device: UInt8(slot + 1), function: 0),
                maxLinkSpeed: template.link.maxSpeed,
                maxLinkWidth: template.link.maxWidth,
                numaNode: template.numaNode,
                iommuGroup: portGroup)
            return EmulatedCard(id: "fleet-\(index)", rootPort: rootPort, functions: [function])
        }
    }
}
