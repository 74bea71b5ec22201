// Validation of a card description and what follows from it: the bus range behind the root
// port, BAR addresses, ARI function chaining. Every encoder and writer works from a layout,
// so a description is checked once and the numbers are computed in one place.

/// MSI-X table and PBA placement inside BAR0 (PF) or the VF BAR.
enum MSIXPlacement {
    static let tableOffset: UInt32 = 0x2000

    static func pendingBitArrayOffset(tableSize: Int) -> UInt32 {
        tableOffset + UInt32(roundUp(UInt64(tableSize) * 16, to: 0x1000))
    }

    /// Smallest BAR that holds the table and the PBA page.
    static func requiredBARSize(tableSize: Int) -> UInt64 {
        UInt64(pendingBitArrayOffset(tableSize: tableSize)) + 0x1000
    }
}

func roundUp(_ value: UInt64, to alignment: UInt64) -> UInt64 {
    (value + alignment - 1) / alignment * alignment
}

struct CardLayout: Sendable {
    static let windowSize: UInt64 = 1 << 36
    static let slotSize: UInt64 = 1 << 31
    static let slotCount = Int(windowSize / slotSize)

    let card: EmulatedCard
    let secondaryBus: UInt8
    let subordinateBus: UInt8
    /// Prefetchable window of the root port: every BAR of the card lies inside it.
    let windowBase: UInt64
    let windowLimit: UInt64
    /// BAR0 base of each PF, by index in `card.functions`.
    let barBases: [UInt64]
    /// Base of the VF BAR0 region (VF k at base + k × size) of each PF, by index.
    let vfBARBases: [UInt64?]
    /// ARI Next Function Number of each PF, by index.
    let ariNextFunction: [UInt8]
    /// Whether each PF shares its device number with another PF (header type bit 7).
    let multiFunction: [Bool]
    /// Every address the card may occupy (VFs up to TotalVFs), with the field that claims it.
    let claimedAddresses: [EmulatedPCIAddress: String]

    init(_ card: EmulatedCard) throws(EmulatorError) {
        let check = DescriptionCheck(card: card.id)
        try check.require(!card.id.isEmpty, "id", expected: "a non-empty card id", found: "\"\"")
        try check.require(!card.functions.isEmpty, "functions", expected: "at least one physical function", found: "none")
        try check.address(card.rootPort.address, "rootPort.address")
        try check.require(
            card.rootPort.address != card.rootPort.hostBridgeAddress, "rootPort.address",
            expected: "a device other than 00.0 (the host bridge's)", found: card.rootPort.address.description)
        try check.width(card.rootPort.maxLinkWidth, "rootPort.maxLinkWidth")
        try check.driverName(card.rootPort.driver, "rootPort.driver")
        try check.group(card.rootPort.iommuGroup, "rootPort.iommuGroup")
        try check.numaNode(card.rootPort.numaNode, "rootPort.numaNode")

        var occupied: [EmulatedPCIAddress: String] = [
            card.rootPort.hostBridgeAddress: "rootPort.hostBridge", card.rootPort.address: "rootPort",
        ]
        var lowestBus = UInt8.max
        var highestBus = UInt8.min
        func claim(_ address: EmulatedPCIAddress, _ field: String) throws(EmulatorError) {
            if let owner = occupied[address] {
                throw check.failure(field, expected: "an address no other function of the card uses",
                                    found: "\(address) (also \(owner))")
            }
            occupied[address] = field
            lowestBus = min(lowestBus, address.bus)
            highestBus = max(highestBus, address.bus)
        }

        for (index, function) in card.functions.enumerated() {
            let field = "functions[\(index)]"
            try check.address(function.address, "\(field).address")
            try check.require(
                function.address.domain == card.rootPort.address.domain && function.address.bus > card.rootPort.address.bus,
                "\(field).address", expected: "a bus below the root port \(card.rootPort.address)",
                found: function.address.description)
            try claim(function.address, field)
            try check.link(function.link, "\(field).link")
            try check.msix(function.msix, barSize: function.barSize, minimumBAR: 16 << 10, "\(field)")
            try check.driverName(function.driver, "\(field).driver")
            try check.group(function.iommuGroup, "\(field).iommuGroup")
            try check.numaNode(function.numaNode, "\(field).numaNode")
            for (netdevIndex, name) in function.netdevs.enumerated() {
                try check.netdevName(name, "\(field).netdevs[\(netdevIndex)]")
            }
            if let acs = function.acs {
                try check.acs(acs, "\(field).acs")
            }
            if let sriov = function.sriov {
                try check.sriov(sriov, of: function, "\(field).sriov")
                for vfIndex in 0..<sriov.totalVFs {
                    // Checked by `check.sriov`: every VF up to TotalVFs has an address.
                    if let vfAddress = function.virtualFunctionAddress(vfIndex) {
                        try claim(vfAddress, "\(field).sriov VF \(vfIndex)")
                    }
                }
            }
        }
        if let acs = card.rootPort.acs {
            try check.acs(acs, "rootPort.acs")
        }
        secondaryBus = lowestBus
        subordinateBus = highestBus
        claimedAddresses = occupied

        // One 64 GiB prefetchable window per card and a fixed 2 GiB slot per PF inside it, so
        // no PF's addresses depend on another PF's VF count (a fault changes one thing only).
        try check.require(
            card.functions.count <= CardLayout.slotCount, "functions",
            expected: "at most \(CardLayout.slotCount) physical functions", found: "\(card.functions.count)")
        windowBase = (UInt64(card.rootPort.address.domain) + 1) << 44 | UInt64(secondaryBus) << 36
        windowLimit = windowBase + CardLayout.windowSize - 1
        var bases: [UInt64] = []
        var vfBases: [UInt64?] = []
        let addressOrder = card.functions.map(\.address).sorted()
        for (index, function) in card.functions.enumerated() {
            // Slots follow address order: removing the highest PF moves no other PF.
            let rank = addressOrder.firstIndex(of: function.address) ?? index
            let slot = windowBase + UInt64(rank) * CardLayout.slotSize
            bases.append(slot)
            var slotEnd = slot + function.barSize
            if let sriov = function.sriov, sriov.totalVFs > 0 {
                let vfBase = roundUp(slotEnd, to: sriov.vfBARSize)
                vfBases.append(vfBase)
                slotEnd = vfBase + sriov.vfBARSize * UInt64(sriov.totalVFs)
            } else {
                vfBases.append(nil)
            }
            try check.require(
                slotEnd - slot <= CardLayout.slotSize, "functions[\(index)]",
                expected: "BAR0 plus VF BAR × TotalVFs within 2 GiB", found: "\(slotEnd - slot) bytes")
        }
        barBases = bases
        vfBARBases = vfBases

        let ariFunctions = card.functions.filter(\.ari).map(\.address).sorted()
        ariNextFunction = card.functions.map { function in
            guard function.ari, let position = ariFunctions.firstIndex(of: function.address),
                position + 1 < ariFunctions.count, ariFunctions[position + 1].bus == function.address.bus
            else { return 0 }
            return ariFunctions[position + 1].devfn
        }
        multiFunction = card.functions.map { function in
            card.functions.contains {
                $0.address != function.address && $0.address.bus == function.address.bus
                    && $0.address.device == function.address.device
            }
        }
        self.card = card
    }

    /// VF k's BAR0: the PF's VF BAR base + k × VF BAR size (`pci_iov_add_virtfn`).
    func vfBARBase(of vf: EmulatedVirtualFunction, physicalFunction index: Int) -> UInt64? {
        guard let base = vfBARBases[index], let size = card.functions[index].sriov?.vfBARSize else { return nil }
        return base + UInt64(vf.index) * size
    }
}

/// Collects the card id for error messages; each check throws on the first violation.
private struct DescriptionCheck {
    let card: String

    func failure(_ field: String, expected: String, found: String) -> EmulatorError {
        .invalidDescription(card: card, field: field, expected: expected, found: found)
    }

    func require(_ condition: Bool, _ field: String, expected: String, found: @autoclosure () -> String)
        throws(EmulatorError)
    {
        if !condition { throw failure(field, expected: expected, found: found()) }
    }

    func address(_ address: EmulatedPCIAddress, _ field: String) throws(EmulatorError) {
        try require(address.domain <= 0xffff, "\(field).domain", expected: "0…0xffff", found: "0x" + hex(address.domain, digits: 4))
        try require(address.device <= 31, "\(field).device", expected: "0…31", found: "\(address.device)")
        try require(address.function <= 7, "\(field).function", expected: "0…7", found: "\(address.function)")
    }

    func width(_ width: Int, _ field: String) throws(EmulatorError) {
        try require(
            EmulatedLink.validWidths.contains(width), field,
            expected: "one of x1, x2, x4, x8, x12, x16, x32", found: "x\(width)")
    }

    func link(_ link: EmulatedLink, _ field: String) throws(EmulatorError) {
        try width(link.maxWidth, "\(field).maxWidth")
        try require(
            link.currentWidth == 0 || EmulatedLink.validWidths.contains(link.currentWidth), "\(field).currentWidth",
            expected: "0 (link down) or one of x1, x2, x4, x8, x12, x16, x32", found: "x\(link.currentWidth)")
        try require(
            link.supportedSpeeds.max() == link.maxSpeed, "\(field).supportedSpeeds",
            expected: "a set whose highest speed is maxSpeed \(link.maxSpeed.gigatransfersPerSecond) GT/s",
            found: link.supportedSpeeds.sorted().map { "\($0.gigatransfersPerSecond)" }.joined(separator: ","))
        try require(
            link.supportedSpeeds.contains(link.currentSpeed), "\(field).currentSpeed",
            expected: "a supported speed", found: "\(link.currentSpeed.gigatransfersPerSecond) GT/s")
    }

    func msix(_ msix: EmulatedMSIX?, barSize: UInt64, minimumBAR: UInt64, _ field: String) throws(EmulatorError) {
        try require(
            barSize >= minimumBAR && barSize <= CardLayout.slotSize && barSize & (barSize - 1) == 0,
            "\(field).barSize", expected: "a power of two from \(minimumBAR) bytes to 2 GiB", found: "\(barSize)")
        guard let msix else { return }
        try require((1...2048).contains(msix.tableSize), "\(field).msix.tableSize", expected: "1…2048", found: "\(msix.tableSize)")
        let required = MSIXPlacement.requiredBARSize(tableSize: msix.tableSize)
        try require(
            barSize >= required, "\(field).barSize",
            expected: "at least \(required) bytes to hold the MSI-X table and PBA", found: "\(barSize)")
    }

    func acs(_ acs: EmulatedACS, _ field: String) throws(EmulatorError) {
        try require(
            acs.capability.isSuperset(of: acs.control), "\(field).control",
            expected: "only controls the capability has (0x\(hex(acs.capability.rawValue, digits: 4)))",
            found: "0x" + hex(acs.control.rawValue, digits: 4))
        try require(
            acs.capability.rawValue & ~0x7f == 0, "\(field).capability", expected: "bits 0…6",
            found: "0x" + hex(acs.capability.rawValue, digits: 4))
    }

    func sriov(_ sriov: EmulatedSRIOV, of function: EmulatedFunction, _ field: String) throws(EmulatorError) {
        try require((0...0xffff).contains(sriov.totalVFs), "\(field).totalVFs", expected: "0…65535", found: "\(sriov.totalVFs)")
        try require(
            (0...sriov.totalVFs).contains(sriov.initialVFs), "\(field).initialVFs",
            expected: "0…TotalVFs (\(sriov.totalVFs))", found: "\(sriov.initialVFs)")
        if let driverTotal = sriov.driverTotalVFs {
            try require(
                (0...sriov.totalVFs).contains(driverTotal), "\(field).driverTotalVFs",
                expected: "0…TotalVFs (\(sriov.totalVFs))", found: "\(driverTotal)")
        }
        try require(
            (0...sriov.reportedTotalVFs).contains(sriov.enabledVFs), "\(field).enabledVFs",
            expected: "0…\(sriov.reportedTotalVFs) (sriov_totalvfs)", found: "\(sriov.enabledVFs)")
        // The kernel refuses SR-IOV when the offset is 0 or VFs would share one routing ID.
        try require(
            sriov.totalVFs == 0 || (1...0xffff).contains(sriov.firstVFOffset), "\(field).firstVFOffset",
            expected: "1…65535", found: "\(sriov.firstVFOffset)")
        try require(
            sriov.totalVFs <= 1 ? (0...0xffff).contains(sriov.vfStride) : (1...0xffff).contains(sriov.vfStride),
            "\(field).vfStride", expected: sriov.totalVFs <= 1 ? "0…65535" : "1…65535 with more than one VF",
            found: "\(sriov.vfStride)")
        if sriov.totalVFs > 0 {
            try require(
                function.virtualFunctionAddress(sriov.totalVFs - 1) != nil, "\(field)",
                expected: "VF \(sriov.totalVFs - 1) (PF routing ID + offset + index × stride) at or below bus ff",
                found: "routing ID 0x\(hex(Int(function.address.routingID) + sriov.firstVFOffset + (sriov.totalVFs - 1) * sriov.vfStride, digits: 4))")
        }
        try msix(sriov.vfMSIX, barSize: sriov.vfBARSize, minimumBAR: 4 << 10, "\(field).vf")
        try driverName(sriov.vfDriver, "\(field).vfDriver")
        if let prefix = sriov.vfNetdevPrefix {
            try netdevName("\(prefix)\(max(0, sriov.totalVFs - 1))", "\(field).vfNetdevPrefix")
        }
        switch sriov.vfIOMMUGroups {
        case .none: break
        case let .sequential(first): try group(first, "\(field).vfIOMMUGroups")
        case let .shared(shared): try group(shared, "\(field).vfIOMMUGroups")
        }
        try require(
            sriov.absentVFs.allSatisfy { (0..<sriov.totalVFs).contains($0) }, "\(field).absentVFs",
            expected: "VF indices below TotalVFs (\(sriov.totalVFs))",
            found: sriov.absentVFs.sorted().map(String.init).joined(separator: ","))
    }

    /// Names that become directory entries must be one plain path component.
    func pathComponent(_ name: String, _ field: String, maximumLength: Int) throws(EmulatorError) {
        try require(
            !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
                && name.utf8.count <= maximumLength,
            field, expected: "a name of 1…\(maximumLength) bytes without '/'", found: "\"\(name)\"")
    }

    func netdevName(_ name: String, _ field: String) throws(EmulatorError) {
        // IFNAMSIZ - 1.
        try pathComponent(name, field, maximumLength: 15)
        try require(!name.contains(where: \.isWhitespace) && !name.contains(":"), field,
                    expected: "an interface name without whitespace or ':'", found: "\"\(name)\"")
    }

    func driverName(_ name: String?, _ field: String) throws(EmulatorError) {
        if let name { try pathComponent(name, field, maximumLength: 64) }
    }

    func group(_ group: Int?, _ field: String) throws(EmulatorError) {
        if let group { try require(group >= 0, field, expected: "a group number ≥ 0", found: "\(group)") }
    }

    func numaNode(_ node: Int, _ field: String) throws(EmulatorError) {
        try require(node >= -1, field, expected: "-1 (unknown) or a node number", found: "\(node)")
    }
}
