import Emulator
import Foundation
import TestGates
import Testing

/// Every file and link under each function directory: `"DDDD:BB:DD.F/name"` to its contents
/// (or `-> target` for links), so two trees can be compared file by file.
func sysfsSnapshot(_ root: String) throws -> [String: Data] {
    let manager = FileManager.default
    var snapshot: [String: Data] = [:]
    let functionName = #/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/#
    func walk(_ directory: String, prefix: String) throws {
        for name in try manager.contentsOfDirectory(atPath: directory) {
            let path = directory + "/" + name
            let type = try manager.attributesOfItem(atPath: path)[.type] as? FileAttributeType
            switch type {
            case .typeSymbolicLink?:
                snapshot[prefix + name] = Data("-> \(try manager.destinationOfSymbolicLink(atPath: path))".utf8)
            case .typeDirectory? where name.wholeMatch(of: functionName) != nil:
                continue  // a child function (under a bridge), snapshotted on its own
            case .typeDirectory?:
                snapshot[prefix + name + "/"] = Data()
                try walk(path, prefix: prefix + name + "/")
            default:
                snapshot[prefix + name] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
    }
    for device in try manager.contentsOfDirectory(atPath: root + "/devices") {
        let real = URL(fileURLWithPath: root + "/devices/" + device).resolvingSymlinksInPath().path
        try walk(real, prefix: device + "/")
    }
    return snapshot
}

/// Lines of an lspci block keyed by their label (text up to the first ':').
private func labelled(_ block: [String]) -> [(label: String, line: String)] {
    block.dropFirst().map { line in
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let label = trimmed.firstIndex(of: ":").map { String(trimmed[...$0]) } ?? trimmed
        return (label, trimmed)
    }
}

@Suite(.requires(.lspci)) struct FaultTests {
    /// What each PCI fault may change on `SampleCards.dpu()`: lspci lines per function
    /// (by label), sysfs files per function, and functions that disappear or appear.
    struct Expectation: Sendable, CustomTestStringConvertible {
        var fault: PCIFault
        var lspciLines: [String: Set<String>]
        var sysfsFiles: Set<String>
        var removedFunctions: Set<String> = []
        var addedFunctions: Set<String> = []
        var testDescription: String { fault.name }
    }

    static let vfs = ["0000:03:00.2", "0000:03:00.3", "0000:03:00.4", "0000:03:00.5"]

    static let expectations: [Expectation] = [
        Expectation(
            fault: .pciLinkDowngrade,
            lspciLines: Dictionary(uniqueKeysWithValues: (["0000:00:01.0", "0000:03:00.0", "0000:03:00.1"] + vfs).map { ($0, ["LnkSta:"]) }),
            sysfsFiles: Set((["0000:00:01.0", "0000:03:00.0", "0000:03:00.1"] + vfs).flatMap {
                ["\($0)/config", "\($0)/current_link_speed", "\($0)/current_link_width"]
            })),
        Expectation(
            fault: .pciVFShortfall,
            lspciLines: ["0000:03:00.0": ["Initial VFs:"]],
            // The IOV resource spans VF BAR size × TotalVFs.
            sysfsFiles: ["0000:03:00.0/config", "0000:03:00.0/sriov_totalvfs", "0000:03:00.0/resource"]),
        Expectation(fault: .pciSysfsMismatch, lspciLines: [:], sysfsFiles: ["0000:03:00.0/sriov_totalvfs"]),
        Expectation(
            fault: .pciAERErrors,
            lspciLines: ["0000:03:00.0": ["DevSta:", "UESta:"]],
            sysfsFiles: ["0000:03:00.0/config", "0000:03:00.0/aer_dev_nonfatal", "0000:00:01.0/aer_rootport_total_err_nonfatal"]),
        Expectation(
            fault: .pciSharedIOMMUGroup,
            lspciLines: Dictionary(uniqueKeysWithValues: (["0000:03:00.1"] + vfs).map { ($0, ["IOMMU group:"]) }),
            sysfsFiles: Set((["0000:03:00.1"] + vfs).map { "\($0)/iommu_group" })),
        Expectation(
            fault: .pciACSDisabled,
            lspciLines: ["0000:00:01.0": ["ACSCtl:"], "0000:03:00.0": ["ACSCtl:"], "0000:03:00.1": ["ACSCtl:"]],
            sysfsFiles: ["0000:00:01.0/config", "0000:03:00.0/config", "0000:03:00.1/config"]),
        Expectation(
            fault: .pciMissingFunction,
            // The remaining PF's ARI capability no longer names a next function.
            lspciLines: ["0000:03:00.0": ["ARICap:"]],
            sysfsFiles: ["0000:03:00.0/config"],
            removedFunctions: ["0000:03:00.1"]),
        Expectation(
            fault: .pciVFsNotCreated,
            // The PF still says 4 VFs are enabled; none of them is on the bus.
            lspciLines: [:],
            sysfsFiles: Set((0..<4).map { "0000:03:00.0/virtfn\($0)" }),
            removedFunctions: Set(vfs)),
        Expectation(
            fault: .pciMSIXShortfall,
            // The title line of the capability: `Capabilities: [..] MSI-X: Enable+ Count=32 Masked-`.
            lspciLines: ["0000:03:00.0": ["Capabilities:"]],
            sysfsFiles: ["0000:03:00.0/config"]),
        Expectation(
            fault: .pciManagementFunctionExposed,
            // The withheld function appears beside the others, which do not change.
            lspciLines: [:],
            sysfsFiles: [],
            addedFunctions: ["0000:03:04.2"]),
    ]

    @Test func everyPCIFaultHasAnExpectation() {
        #expect(Set(Self.expectations.map(\.fault)) == Set(PCIFault.allCases))
    }

    @Test(arguments: expectations)
    func faultChangesExactlyItsProperty(_ expectation: Expectation) throws {
        let directory = try TemporaryDirectory()
        let clean = SampleCards.dpu()
        let faulty = try expectation.fault.apply(to: clean)
        #expect(faulty != clean)
        let cleanTree = try EmulatedSysfsTree.write([clean], to: directory.child("clean"))
        let faultyTree = try EmulatedSysfsTree.write([faulty], to: directory.child("faulty"))
        let before = try Lspci.listing(tree: cleanTree.root)
        let after = try Lspci.listing(tree: faultyTree.root)

        // lspci: only the expected lines of the expected functions differ.
        #expect(Set(before.order).subtracting(after.order) == expectation.removedFunctions)
        #expect(Set(after.order).subtracting(before.order) == expectation.addedFunctions)
        var changed: [String: Set<String>] = [:]
        for address in after.order where !expectation.addedFunctions.contains(address) {
            let old = labelled(before.blocks[address] ?? [])
            let new = labelled(after.blocks[address] ?? [])
            #expect(old.map(\.label) == new.map(\.label), "\(address): lines added or removed")
            #expect(before.blocks[address]?.first == after.blocks[address]?.first, "\(address): title changed")
            for (oldLine, newLine) in zip(old, new) where oldLine.line != newLine.line {
                changed[address, default: []].insert(newLine.label)
            }
        }
        #expect(changed == expectation.lspciLines)

        // sysfs: only the expected files differ, besides the removed and added functions.
        let cleanFiles = try sysfsSnapshot(cleanTree.root)
        let faultyFiles = try sysfsSnapshot(faultyTree.root)
        let removedPrefixes = expectation.removedFunctions.map { $0 + "/" }
        let comingAndGoing = removedPrefixes + expectation.addedFunctions.map { $0 + "/" }
        let differing = Set(cleanFiles.keys).union(faultyFiles.keys).filter { key in
            cleanFiles[key] != faultyFiles[key] && !comingAndGoing.contains { key.hasPrefix($0) }
        }
        #expect(differing == expectation.sysfsFiles)
        #expect(faultyFiles.keys.filter { key in removedPrefixes.contains { key.hasPrefix($0) } }.isEmpty)

        try expectBrokenProperty(expectation.fault, after, faultyTree)
    }

    /// What the broken property looks like afterwards.
    private func expectBrokenProperty(_ fault: PCIFault, _ listing: LspciListing, _ tree: EmulatedSysfsTree) throws {
        let pf = pci(3, 0, 0)
        switch fault {
        case .pciLinkDowngrade:
            #expect(try listing.line(pf, startingWith: "LnkSta:") == "LnkSta:\tSpeed 16GT/s (downgraded), Width x8 (downgraded)")
            #expect(try listing.line(pf, startingWith: "LnkCap:").contains("Speed 32GT/s, Width x16"))
            #expect(try treeFile(tree, pf, "current_link_speed") == "16.0 GT/s PCIe\n")
            #expect(try treeFile(tree, pf, "current_link_width") == "8\n")
        case .pciVFShortfall:
            #expect(try listing.line(pf, startingWith: "Initial VFs:") == "Initial VFs: 8, Total VFs: 8, Number of VFs: 4, Function Dependency Link: 00")
            #expect(try treeFile(tree, pf, "sriov_totalvfs") == "8\n")
        case .pciSysfsMismatch:
            #expect(try listing.line(pf, startingWith: "Initial VFs:").contains("Total VFs: 16,"))
            #expect(try treeFile(tree, pf, "sriov_totalvfs") == "8\n")
        case .pciAERErrors:
            #expect(
                try listing.line(pf, startingWith: "UESta:")
                    == "UESta:\tDLP- SDES- TLP- FCP- CmpltTO+ CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-")
            #expect(try listing.line(pf, startingWith: "DevSta:").hasPrefix("DevSta:\tCorrErr- NonFatalErr+ FatalErr-"))
            let nonFatal = try treeFile(tree, pf, "aer_dev_nonfatal")
            #expect(nonFatal.contains("\nCmpltTO 2\n"))
            #expect(nonFatal.hasSuffix("TOTAL_ERR_NONFATAL 2\n"))
        case .pciSharedIOMMUGroup:
            for address in ["0000:03:00.0", "0000:03:00.1"] + Self.vfs {
                #expect(listing.blocks[address]?.contains("\tIOMMU group: 20") == true, "\(address)")
            }
        case .pciACSDisabled:
            for address in [pci(0, 1, 0), pf, pci(3, 0, 1)] {
                #expect(
                    try listing.line(address, startingWith: "ACSCtl:")
                        == "ACSCtl:\tSrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-")
            }
            #expect(try listing.line(pf, startingWith: "ACSCap:").contains("SrcValid+"))
        case .pciMissingFunction:
            #expect(listing.blocks["0000:03:00.1"] == nil)
            #expect(!FileManager.default.fileExists(atPath: tree.devicePath(pci(3, 0, 1))))
        case .pciVFsNotCreated:
            #expect(try listing.line(pf, startingWith: "Initial VFs:").contains("Number of VFs: 4,"))
            #expect(try treeFile(tree, pf, "sriov_numvfs") == "4\n")
            #expect(Self.vfs.allSatisfy { listing.blocks[$0] == nil })
        case .pciMSIXShortfall:
            #expect(listing.blocks["0000:03:00.0"]?.contains { $0.contains("MSI-X: Enable+ Count=32 ") } == true)
        case .pciManagementFunctionExposed:
            let management = pci(3, 4, 2)
            #expect(listing.blocks[management.description] != nil)
            #expect(try treeFile(tree, management, "device") == "0xc2d5\n")
            #expect(try treeFile(tree, management, "class") == "0x080100\n")
        default:
            Issue.record("\(fault) is not a PCI fault")
        }
    }

    @Test func missingFunctionOnASinglePFCardDropsItsLastVF() throws {
        var card = SampleCards.dpu()
        card.functions.removeLast()
        let faulty = try PCIFault.pciMissingFunction.apply(to: card)
        let directory = try TemporaryDirectory()
        let tree = try EmulatedSysfsTree.write([faulty], to: directory.path)
        let listing = try Lspci.listing(tree: tree.root)
        #expect(listing.order == ["0000:00:00.0", "0000:00:01.0", "0000:03:00.0", "0000:03:00.2", "0000:03:00.3", "0000:03:00.4"])
        #expect(try treeFile(tree, pci(3, 0, 0), "sriov_numvfs") == "4\n")
        #expect(!FileManager.default.fileExists(atPath: tree.devicePath(pci(3, 0, 0)) + "/virtfn3"))
        #expect(FileManager.default.fileExists(atPath: tree.devicePath(pci(3, 0, 0)) + "/virtfn2"))
    }

    @Test func faultsThatCannotBreakAnythingSaySo() throws {
        var bare = SampleCards.dpu()
        bare.functions = [bare.functions[0]]
        bare.withheldFunctions = []
        bare.functions[0].sriov = nil
        bare.functions[0].aer = nil
        bare.functions[0].acs = nil
        bare.rootPort.acs = nil
        bare.functions[0].msix = nil
        for fault in [PCIFault.pciVFShortfall, .pciSysfsMismatch, .pciAERErrors, .pciSharedIOMMUGroup, .pciACSDisabled,
                      .pciMissingFunction, .pciVFsNotCreated, .pciMSIXShortfall, .pciManagementFunctionExposed] {
            #expect(throws: EmulatorError.self, "\(fault)") { try fault.apply(to: bare) }
        }
        let error = #expect(throws: EmulatorError.self) { try PCIFault.pciVFShortfall.apply(to: bare) }
        guard case let .faultNotApplicable(fault, card, reason)? = error else {
            Issue.record("expected faultNotApplicable, got \(String(describing: error))")
            return
        }
        #expect(fault == "pci-vf-shortfall")
        #expect(card == "bluefield-3")
        #expect(reason == "no PF offers VFs")
    }

    @Test func emptyCardIsNotApplicableRatherThanACrash() {
        var empty = SampleCards.dpu()
        empty.functions = []
        for fault in PCIFault.allCases {
            #expect(throws: EmulatorError.self, "\(fault)") { try fault.apply(to: empty) }
        }
    }

    @Test func aerErrorsAreCountedUnderTheDescribedSeverity() throws {
        var card = SampleCards.dpu()
        card.functions[0].aer?.fatalErrors.insert(.completionTimeout)
        let faulty = try PCIFault.pciAERErrors.apply(to: card)
        let aer = try #require(faulty.functions[0].aer)
        #expect(aer.fatalCounts[.completionTimeout] == 2)
        #expect(aer.nonFatalCounts.isEmpty)
        #expect(aer.fatalErrors == card.functions[0].aer?.fatalErrors)
        let directory = try TemporaryDirectory()
        let tree = try EmulatedSysfsTree.write([faulty], to: directory.path)
        let listing = try Lspci.listing(tree: tree.root)
        #expect(try listing.line(pci(3, 0, 0), startingWith: "DevSta:").hasPrefix("DevSta:\tCorrErr- NonFatalErr- FatalErr+"))
        #expect(try treeFile(tree, pci(3, 0, 0), "aer_dev_fatal").hasSuffix("TOTAL_ERR_FATAL 2\n"))
    }

    @Test func missingFunctionMovesNoOtherFunction() throws {
        var card = SampleCards.dpu()
        card.functions.reverse()
        let faulty = try PCIFault.pciMissingFunction.apply(to: card)
        #expect(faulty.functions.map(\.address) == [pci(3, 0, 0)])
        let before = try ConfigSpaceEncoder.encode(card).first { $0.address == pci(3, 0, 0) }
        let after = try ConfigSpaceEncoder.encode(faulty).first { $0.address == pci(3, 0, 0) }
        let bar = 0x10..<0x18
        #expect(before?.bytes[bar] == after?.bytes[bar])
        let sriov = try #require(after?.offset(of: .singleRootIOV))
        #expect(before?.bytes[(sriov + 0x24)..<(sriov + 0x2c)] == after?.bytes[(sriov + 0x24)..<(sriov + 0x2c)])
    }

    @Test func applyingAppliesInOrder() throws {
        let card = SampleCards.dpu()
        let faulty = try card.applying([.pciAERErrors, .pciACSDisabled])
        #expect(faulty == (try PCIFault.pciACSDisabled.apply(to: PCIFault.pciAERErrors.apply(to: card))))
    }
}

@Suite struct FaultTableTests {
    @Test func tableListsEveryFaultOnce() {
        let names = PCIFault.allCases.map(\.name)
        #expect(names == [
            "pci-link-downgrade", "pci-vf-shortfall", "pci-sysfs-mismatch", "pci-aer-errors", "pci-shared-iommu-group",
            "pci-acs-disabled", "pci-missing-function", "pci-vfs-not-created", "pci-msix-shortfall",
            "pci-management-function-exposed",
        ])
    }

    @Test(arguments: PCIFault.allCases)
    func everyFaultSaysWhatItBreaks(_ fault: PCIFault) throws {
        #expect(!fault.summary.isEmpty && !fault.summary.contains("\n"))
        #expect(!fault.brokenTestIDs.isEmpty)
        let testID = #/^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$/#
        #expect(fault.brokenTestIDs.allSatisfy { $0.wholeMatch(of: testID) != nil })
        // A PCI fault breaks checks that read the bus: the PCI suite's, and the isolation check
        // of the management function the host sees.
        let suites = ["pci.", "isolation.host-management-function"]
        #expect(fault.brokenTestIDs.allSatisfy { id in suites.contains { id.hasPrefix($0) } })
    }

    @Test func pciFaultsBreakTheTestsTheIssueNames() {
        #expect(PCIFault.pciLinkDowngrade.brokenTestIDs == ["pci.link-speed-width"])
        #expect(PCIFault.pciVFShortfall.brokenTestIDs == ["pci.sriov-capability"])
        #expect(PCIFault.pciSysfsMismatch.brokenTestIDs == ["pci.sriov-capability"])
        #expect(PCIFault.pciAERErrors.brokenTestIDs == ["pci.aer-clean"])
        #expect(PCIFault.pciSharedIOMMUGroup.brokenTestIDs == ["pci.iommu-isolation"])
        #expect(PCIFault.pciACSDisabled.brokenTestIDs == ["pci.iommu-isolation"])
        #expect(PCIFault.pciMissingFunction.brokenTestIDs == ["pci.functions-present"])
    }
}
