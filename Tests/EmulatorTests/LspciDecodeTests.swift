import Emulator
import Foundation
import TestGates
import Testing

/// What the real lspci decodes from a written tree: identities, links, capability chains,
/// SR-IOV, ACS, AER, and the root port above the card.
@Suite(.requires(.lspci)) struct LspciDecodeTests {
    let directory: TemporaryDirectory
    let card = SampleCards.dpu()
    let tree: EmulatedSysfsTree
    let listing: LspciListing

    init() throws {
        directory = try TemporaryDirectory()
        tree = try EmulatedSysfsTree.write([card], to: directory.child("sys-bus-pci"))
        listing = try Lspci.listing(tree: tree.root)
    }

    @Test func listsEveryFunctionWithItsIdentity() throws {
        #expect(
            listing.order == [
                "0000:00:00.0", "0000:00:01.0", "0000:03:00.0", "0000:03:00.1", "0000:03:00.2", "0000:03:00.3",
                "0000:03:00.4", "0000:03:00.5",
            ])
        #expect(try listing.block(pci(0, 0, 0))[0].contains("Host bridge [0600]"))
        #expect(try listing.block(pci(0, 0, 0))[0].contains("[8086:09a2] (rev 04)"))
        #expect(try listing.block(pci(0, 1, 0))[0].contains("PCI bridge [0604]"))
        #expect(try listing.block(pci(0, 1, 0))[0].contains("[8086:347a]"))
        for function in [pci(3, 0, 0), pci(3, 0, 1)] {
            let title = try listing.block(function)[0]
            #expect(title.contains("Ethernet controller [0200]"))
            #expect(title.contains("[15b3:a2dc] (rev 01)"))
            #expect(try listing.line(function, startingWith: "Subsystem:").hasSuffix("[15b3:0009]"))
            #expect(try listing.line(function, startingWith: "Kernel driver in use:") == "Kernel driver in use: mlx5_core")
            #expect(try listing.line(function, startingWith: "NUMA node:") == "NUMA node: 0")
        }
        // VFs: identity from sysfs (PF vendor, VF Device ID), as the kernel presents them.
        for vf in 2...5 {
            #expect(try listing.block(pci(3, 0, UInt8(vf)))[0].contains("[15b3:101e] (rev 01)"))
        }
        #expect(try listing.line(pci(3, 0, 2), startingWith: "IOMMU group:") == "IOMMU group: 21")
        #expect(try listing.line(pci(3, 0, 5), startingWith: "IOMMU group:") == "IOMMU group: 24")
    }

    @Test func decodesLinkCapabilityStatusAndSupportedSpeeds() throws {
        let pf = pci(3, 0, 0)
        #expect(try listing.line(pf, startingWith: "LnkCap:").hasPrefix("LnkCap:\tPort #0, Speed 32GT/s, Width x16,"))
        #expect(try listing.line(pf, startingWith: "LnkSta:") == "LnkSta:\tSpeed 32GT/s, Width x16")
        #expect(try listing.line(pf, startingWith: "LnkCap2:").hasPrefix("LnkCap2: Supported Link Speeds: 2.5-32GT/s,"))
        #expect(try listing.line(pf, startingWith: "LnkCtl2:").hasPrefix("LnkCtl2: Target Link Speed: 32GT/s,"))
        let port = pci(0, 1, 0)
        #expect(try listing.line(port, startingWith: "LnkCap:").hasPrefix("LnkCap:\tPort #1, Speed 32GT/s, Width x16,"))
        #expect(try listing.line(port, startingWith: "LnkSta:") == "LnkSta:\tSpeed 32GT/s, Width x16")
    }

    @Test func narrowerSupportedSpeedVectorIsDecoded() throws {
        var card = SampleCards.dpu()
        for index in card.functions.indices {
            card.functions[index].link = EmulatedLink(
                maxSpeed: .gt16, maxWidth: 8, currentSpeed: .gt8, currentWidth: 4, supportedSpeeds: [.gt2_5, .gt5, .gt8, .gt16])
        }
        let other = try TemporaryDirectory()
        let tree = try EmulatedSysfsTree.write([card], to: other.path)
        let listing = try Lspci.listing(tree: tree.root)
        let pf = pci(3, 0, 0)
        #expect(try listing.line(pf, startingWith: "LnkCap:").hasPrefix("LnkCap:\tPort #0, Speed 16GT/s, Width x8,"))
        #expect(try listing.line(pf, startingWith: "LnkSta:") == "LnkSta:\tSpeed 8GT/s (downgraded), Width x4 (downgraded)")
        #expect(try listing.line(pf, startingWith: "LnkCap2:").hasPrefix("LnkCap2: Supported Link Speeds: 2.5-16GT/s,"))
        #expect(try treeFile(tree, pf, "current_link_speed") == "8.0 GT/s PCIe\n")
        #expect(try treeFile(tree, pf, "current_link_width") == "4\n")
        #expect(try treeFile(tree, pf, "max_link_speed") == "16.0 GT/s PCIe\n")
        #expect(try treeFile(tree, pf, "max_link_width") == "8\n")
    }

    /// lspci's title for each capability the encoder places.
    private func expectedTitle(_ kind: CapabilityKind, rootPort: Bool) -> String {
        switch kind {
        case .powerManagement: "Power Management version 3"
        case .vitalProductData: "Vital Product Data"
        case .msix: "MSI-X:"
        case .pciExpress: rootPort ? "Express (v2) Root Port (Slot-), MSI 00" : "Express (v2) Endpoint, MSI 00"
        case .advancedErrorReporting: "Advanced Error Reporting"
        case .accessControlServices: "Access Control Services"
        case .alternativeRoutingID: "Alternative Routing-ID Interpretation (ARI)"
        case .singleRootIOV: "Single Root I/O Virtualization (SR-IOV)"
        case .deviceSerialNumber: "Device Serial Number"
        }
    }

    @Test func capabilityChainsMatchTheEncoderLayout() throws {
        let encoded = try ConfigSpaceEncoder.encode(card)
        #expect(encoded.count == 8)
        for space in encoded where space.role != .hostBridge {
            let shown = try listing.capabilities(space.address)
            #expect(shown.map(\.offset) == space.capabilities.map(\.offset), "\(space.address)")
            for (capability, line) in zip(space.capabilities, shown) {
                #expect(line.title.hasPrefix(expectedTitle(capability.kind, rootPort: space.role == .rootPort)), "\(space.address): \(line)")
            }
        }
        let pf = try #require(encoded.first { $0.address == pci(3, 0, 0) })
        #expect(pf.capabilities.map(\.kind) == [
            .powerManagement, .msix, .pciExpress, .advancedErrorReporting, .accessControlServices, .alternativeRoutingID,
            .singleRootIOV, .deviceSerialNumber,
        ])
        #expect(pf.capabilities.filter(\.kind.isExtended).first?.offset == 0x100)
        let vf = try #require(encoded.first { $0.address == pci(3, 0, 2) })
        #expect(vf.capabilities.map(\.kind) == [.msix, .pciExpress, .alternativeRoutingID])
        #expect(try listing.capabilities(pci(0, 0, 0)).isEmpty)
        #expect(
            try listing.block(pci(3, 0, 0)).contains("\tCapabilities: [188 v1] Device Serial Number 00-b8-3f-ff-fe-12-34-56"))
    }

    @Test func decodesSRIOVCapability() throws {
        let pf0 = pci(3, 0, 0)
        #expect(try listing.line(pf0, startingWith: "IOVCtl:") == "IOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+ 10BitTagReq-")
        #expect(
            try listing.line(pf0, startingWith: "Initial VFs:")
                == "Initial VFs: 16, Total VFs: 16, Number of VFs: 4, Function Dependency Link: 00")
        #expect(try listing.line(pf0, startingWith: "VF offset:") == "VF offset: 2, stride: 1, Device ID: 101e")
        #expect(try listing.line(pf0, startingWith: "Supported Page Size:") == "Supported Page Size: 00000553, System Page Size: 00000001")
        let pf1 = pci(3, 0, 1)
        #expect(try listing.line(pf1, startingWith: "IOVCtl:") == "IOVCtl:\tEnable- Migration- Interrupt- MSE- ARIHierarchy- 10BitTagReq-")
        #expect(
            try listing.line(pf1, startingWith: "Initial VFs:")
                == "Initial VFs: 16, Total VFs: 16, Number of VFs: 0, Function Dependency Link: 01")
        #expect(try listing.line(pf1, startingWith: "VF offset:") == "VF offset: 17, stride: 1, Device ID: 101e")
        #expect(try listing.line(pf0, startingWith: "ARICap:") == "ARICap:\tMFVC- ACS-, Next Function: 1")
        #expect(try listing.line(pf1, startingWith: "ARICap:") == "ARICap:\tMFVC- ACS-, Next Function: 0")
    }

    @Test func decodesACSAndAERAndTheRootPort() throws {
        let port = pci(0, 1, 0)
        #expect(try listing.line(port, startingWith: "ACSCap:") == "ACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-")
        #expect(try listing.line(port, startingWith: "ACSCtl:") == "ACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-")
        #expect(try listing.line(pci(3, 0, 0), startingWith: "ACSCtl:") == "ACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-")
        #expect(try listing.line(port, startingWith: "Bus:") == "Bus: primary=00, secondary=03, subordinate=03, sec-latency=0")
        #expect(try listing.line(port, startingWith: "DevCap2:").hasPrefix("DevCap2: Completion Timeout"))
        #expect(try listing.block(port).contains { $0.contains("ARIFwd+") && $0.contains("FRS-") })
        #expect(try listing.line(port, startingWith: "DevCtl2:").hasSuffix("ARIFwd+"))
        #expect(try listing.line(port, startingWith: "Kernel driver in use:") == "Kernel driver in use: pcieport")
        #expect(try listing.line(port, startingWith: "Prefetchable memory behind bridge:").contains("[size=64G]"))
        for function in [port, pci(3, 0, 0), pci(3, 0, 1)] {
            #expect(
                try listing.line(function, startingWith: "UESta:")
                    == "UESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-")
            #expect(try listing.line(function, startingWith: "CESta:") == "CESta:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr-")
            #expect(try listing.line(function, startingWith: "DevSta:").hasPrefix("DevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-"))
        }
    }

    @Test func virtualFunctionsReadAllOnesIdentityInConfigSpace() throws {
        let hex = try Lspci.run(tree: tree.root, ["-xxx", "-s", "03:00.2"])
        #expect(hex.status == 0)
        let firstRow = try #require(hex.stdout.split(separator: "\n").first { $0.hasPrefix("00:") })
        #expect(firstRow.hasPrefix("00: ff ff ff ff"))
        let vf = pci(3, 0, 2)
        #expect(try treeBytes(tree, vf, "config").prefix(4) == [0xff, 0xff, 0xff, 0xff])
        #expect(try treeBytes(tree, vf, "config").count == 4096)
        #expect(try listing.line(vf, startingWith: "Region 0:").contains("[virtual] [size=1M]"))
        #expect(try listing.line(vf, startingWith: "Capabilities: [40]").hasPrefix("Capabilities: [40] MSI-X: Enable+ Count=16"))
        #expect(try listing.line(vf, startingWith: "LnkSta:") == "LnkSta:\tSpeed 32GT/s, Width x16")
        #expect(try !listing.block(vf).contains { $0.contains("Interrupt:") })
    }

    @Test func treeViewPlacesTheCardBehindItsRootPort() throws {
        let result = try Lspci.run(tree: tree.root, ["-t"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains("-01.0-[03]--"))
    }

    @Test func plainListingHasNoDiagnosticsAtAll() throws {
        // Without -v lspci does not ask libkmod, so stderr must be entirely empty.
        let result = try Lspci.run(tree: tree.root, ["-D", "-nn"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.split(separator: "\n").count == 8)
    }
}
