// The PCI fault table: every fault the card emulator can inject, the one property it breaks
// and the certification tests that must turn red when it is injected. Each is a
// transformation of a card description applied before the tree is written. Network
// isolation faults belong to the emulated lab (`LabFault` in Lab).

public enum PCIFault: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pciLinkDowngrade = "pci-link-downgrade"
    case pciVFShortfall = "pci-vf-shortfall"
    case pciSysfsMismatch = "pci-sysfs-mismatch"
    case pciAERErrors = "pci-aer-errors"
    case pciSharedIOMMUGroup = "pci-shared-iommu-group"
    case pciACSDisabled = "pci-acs-disabled"
    case pciMissingFunction = "pci-missing-function"
    case pciVFsNotCreated = "pci-vfs-not-created"
    case pciMSIXShortfall = "pci-msix-shortfall"
    case pciManagementFunctionExposed = "pci-management-function-exposed"

    public var name: String { rawValue }
    public var description: String { rawValue }

    /// What the fault breaks, in one line.
    public var summary: String {
        switch self {
        case .pciLinkDowngrade:
            "the card's link trains at half its width and one speed below its capability (LnkSta < LnkCap)"
        case .pciVFShortfall:
            "the first SR-IOV PF offers half the TotalVFs the card is described with"
        case .pciSysfsMismatch:
            "the PF driver lowers sriov_totalvfs to half of the capability's TotalVFs"
        case .pciAERErrors:
            "the first AER-capable function logged Completion Timeouts: UESta bit set, AER counter at 2"
        case .pciSharedIOMMUGroup:
            "every function of the card (PFs and VFs) sits in the first PF's IOMMU group"
        case .pciACSDisabled:
            "every ACS Control register of the card and its root port is cleared"
        case .pciMissingFunction:
            "the card's last PF (with its VFs) is absent; on a single-PF card its last enabled VF"
        case .pciVFsNotCreated:
            "the first SR-IOV PF accepts sriov_numvfs writes, but its VFs never appear on the bus"
        case .pciMSIXShortfall:
            "the first MSI-X function's table offers half the vectors the card is described with"
        case .pciManagementFunctionExposed:
            "the functions the card's management mode withholds are on the host's bus (a restricted host sees the SoC management interface)"
        }
    }

    /// The certification tests that must fail.
    public var brokenTestIDs: [String] {
        switch self {
        case .pciLinkDowngrade: ["pci.link-speed-width"]
        case .pciVFShortfall, .pciSysfsMismatch: ["pci.sriov-capability"]
        case .pciAERErrors: ["pci.aer-clean"]
        case .pciSharedIOMMUGroup, .pciACSDisabled: ["pci.iommu-isolation"]
        case .pciMissingFunction: ["pci.functions-present"]
        case .pciVFsNotCreated: ["pci.sriov-enable"]
        case .pciMSIXShortfall: ["pci.msix-vectors"]
        case .pciManagementFunctionExposed: ["isolation.host-management-function"]
        }
    }

    /// The card with this fault injected; a fault with nothing to break on this card is
    /// `faultNotApplicable`.
    public func apply(to card: EmulatedCard) throws(EmulatorError) -> EmulatedCard {
        func notApplicable(_ reason: String) -> EmulatorError {
            .faultNotApplicable(fault: name, card: card.id, reason: reason)
        }
        guard let firstFunction = card.functions.first else {
            throw notApplicable("the card has no functions")
        }
        var faulty = card
        switch self {
        case .pciLinkDowngrade:
            // All PFs share the card's one physical link.
            let link = firstFunction.link
            guard link.maxWidth > 1 || link.maxSpeed > .gt2_5 else {
                throw notApplicable("an x1 2.5 GT/s link cannot train lower")
            }
            let lowerSpeed = link.supportedSpeeds.filter { $0 < link.maxSpeed }.max() ?? link.maxSpeed
            let narrowerWidth = EmulatedLink.validWidths.filter { $0 <= link.maxWidth / 2 }.max() ?? link.maxWidth
            for index in faulty.functions.indices {
                faulty.functions[index].link.currentSpeed = lowerSpeed
                faulty.functions[index].link.currentWidth = narrowerWidth
            }
        case .pciVFShortfall:
            guard let index = card.functions.firstIndex(where: { ($0.sriov?.totalVFs ?? 0) > 0 }),
                var sriov = card.functions[index].sriov
            else { throw notApplicable("no PF offers VFs") }
            sriov.totalVFs /= 2
            sriov.initialVFs = min(sriov.initialVFs, sriov.totalVFs)
            sriov.enabledVFs = min(sriov.enabledVFs, sriov.totalVFs)
            sriov.driverTotalVFs = sriov.driverTotalVFs.map { min($0, sriov.totalVFs) }
            sriov.absentVFs = sriov.absentVFs.filter { $0 < sriov.totalVFs }
            faulty.functions[index].sriov = sriov
        case .pciSysfsMismatch:
            guard let index = card.functions.firstIndex(where: { ($0.sriov?.totalVFs ?? 0) > 0 }),
                var sriov = card.functions[index].sriov
            else { throw notApplicable("no PF offers VFs") }
            sriov.driverTotalVFs = sriov.totalVFs / 2
            sriov.enabledVFs = min(sriov.enabledVFs, sriov.totalVFs / 2)
            faulty.functions[index].sriov = sriov
        case .pciAERErrors:
            guard let index = card.functions.firstIndex(where: { $0.aer != nil }), var aer = card.functions[index].aer
            else { throw notApplicable("no function has AER") }
            // Counted under the severity the function gives Completion Timeouts.
            aer.uncorrectableStatus.insert(.completionTimeout)
            if aer.fatalErrors.contains(.completionTimeout) {
                aer.fatalCounts[.completionTimeout, default: 0] += 2
            } else {
                aer.nonFatalCounts[.completionTimeout, default: 0] += 2
            }
            faulty.functions[index].aer = aer
        case .pciSharedIOMMUGroup:
            guard let group = firstFunction.iommuGroup else {
                throw notApplicable("the first PF has no IOMMU group")
            }
            let hasVFs = card.functions.contains { ($0.sriov?.totalVFs ?? 0) > 0 }
            guard card.functions.count > 1 || hasVFs else {
                throw notApplicable("a single function without VFs has nothing to share a group with")
            }
            for index in faulty.functions.indices {
                faulty.functions[index].iommuGroup = group
                faulty.functions[index].sriov?.vfIOMMUGroups = .shared(group: group)
            }
        case .pciACSDisabled:
            let anyEnabled =
                !(card.rootPort.acs?.control.isEmpty ?? true)
                || card.functions.contains { !($0.acs?.control.isEmpty ?? true) }
            guard anyEnabled else { throw notApplicable("no ACS control is enabled") }
            faulty.rootPort.acs?.control = []
            for index in faulty.functions.indices {
                faulty.functions[index].acs?.control = []
            }
        case .pciMissingFunction:
            if card.functions.count > 1, let last = card.functions.indices.max(by: {
                card.functions[$0].address < card.functions[$1].address
            }) {
                faulty.functions.remove(at: last)
            } else if var sriov = firstFunction.sriov, sriov.enabledVFs > 0 {
                sriov.absentVFs.insert(sriov.enabledVFs - 1)
                faulty.functions[0].sriov = sriov
            } else {
                throw notApplicable("a single PF without enabled VFs has no function to lose")
            }
        case .pciVFsNotCreated:
            guard let index = card.functions.firstIndex(where: { ($0.sriov?.totalVFs ?? 0) > 0 }),
                var sriov = card.functions[index].sriov
            else { throw notApplicable("no PF offers VFs") }
            // NumVFs and VF Enable still follow the writes; no VF ever shows up.
            sriov.absentVFs = Set(0..<sriov.totalVFs)
            faulty.functions[index].sriov = sriov
        case .pciMSIXShortfall:
            guard let index = card.functions.firstIndex(where: { ($0.msix?.tableSize ?? 0) > 1 }),
                let msix = card.functions[index].msix
            else { throw notApplicable("no function has an MSI-X table of more than one vector") }
            faulty.functions[index].msix = EmulatedMSIX(tableSize: msix.tableSize / 2)
        case .pciManagementFunctionExposed:
            guard !card.withheldFunctions.isEmpty else {
                throw notApplicable("the card's management mode withholds no function from the host")
            }
            faulty.functions += card.withheldFunctions
            faulty.withheldFunctions = []
        }
        return faulty
    }
}

extension EmulatedCard {
    /// The card with every fault of `faults` applied in order.
    public func applying(_ faults: [PCIFault]) throws(EmulatorError) -> EmulatedCard {
        var card = self
        for fault in faults {
            card = try fault.apply(to: card)
        }
        return card
    }
}
