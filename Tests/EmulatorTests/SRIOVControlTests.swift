import Emulator
import Foundation
import TestGates
import Testing

/// `echo N > sriov_numvfs` as the kernel handles it, checked in the tree and with lspci.
@Suite(.requires(.lspci)) struct SRIOVControlTests {
    let directory: TemporaryDirectory
    var tree: EmulatedSysfsTree
    let pf = pci(3, 0, 0)
    let vfs = (2...5).map { pci(3, 0, UInt8($0)) }

    init() throws {
        directory = try TemporaryDirectory()
        tree = try EmulatedSysfsTree.write([SampleCards.dpu(enabledVFs: 0)], to: directory.child("tree"))
    }

    private func rejection(_ body: () throws -> Void) -> SRIOVNumVFsRejection? {
        do {
            try body()
        } catch let EmulatorError.sriovNumVFsRejected(rejection) {
            return rejection
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    private func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    @Test mutating func enableBusyRangeAndDisable() throws {
        #expect(try treeFile(tree, pf, "sriov_numvfs") == "0\n")
        #expect(vfs.allSatisfy { !exists(tree.devicePath($0)) })

        try tree.writeSRIOVNumVFs(4, physicalFunction: pf)
        #expect(try treeFile(tree, pf, "sriov_numvfs") == "4\n")
        for (index, vf) in vfs.enumerated() {
            #expect(exists(tree.devicePath(vf)))
            let virtfn = tree.devicePath(pf) + "/virtfn\(index)"
            #expect(URL(fileURLWithPath: virtfn).resolvingSymlinksInPath().lastPathComponent == vf.description)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tree.devicePath(vf) + "/physfn") == "../0000:03:00.0")
            #expect(try treeFile(tree, vf, "device") == "0x101e\n")
            #expect(exists(tree.root + "/kernel/iommu_groups/\(21 + index)/devices/\(vf)"))
        }
        #expect(!exists(tree.devicePath(pf) + "/virtfn4"))
        let config = ConfigBytes(bytes: try treeBytes(tree, pf, "config"))
        let sriov = try #require(config.extendedCapability(0x10))
        #expect(config.u16(sriov + 0x10) == 4)
        #expect(config.u16(sriov + 0x08) & 0x9 == 0x9)
        #expect(tree.cards[0].functions[0].sriov?.enabledVFs == 4)
        var listing = try Lspci.listing(tree: tree.root)
        #expect(try listing.line(pf, startingWith: "Initial VFs:").contains("Number of VFs: 4,"))
        #expect(try listing.line(pf, startingWith: "IOVCtl:").hasPrefix("IOVCtl:\tEnable+ Migration- Interrupt- MSE+"))
        #expect(vfs.allSatisfy { listing.blocks[$0.description] != nil })

        // The same count again is accepted and changes nothing; another count is EBUSY.
        try tree.writeSRIOVNumVFs(4, physicalFunction: pf)
        var busy = tree
        let refused = rejection { try busy.writeSRIOVNumVFs(8, physicalFunction: pf) }
        #expect(refused?.reason == .alreadyEnabled(enabledVFs: 4))
        #expect(refused?.errno == EBUSY)
        #expect(try treeFile(tree, pf, "sriov_numvfs") == "4\n")
        #expect(!exists(tree.devicePath(pci(3, 0, 6))))

        let tooMany = rejection { try busy.writeSRIOVNumVFs(17, physicalFunction: pf) }
        #expect(tooMany?.reason == .exceedsTotalVFs(totalVFs: 16))
        #expect(tooMany?.errno == ERANGE)

        try tree.writeSRIOVNumVFs(0, physicalFunction: pf)
        #expect(try treeFile(tree, pf, "sriov_numvfs") == "0\n")
        for (index, vf) in vfs.enumerated() {
            #expect(!exists(tree.devicePath(vf)))
            #expect(!exists(tree.devicePath(pf) + "/virtfn\(index)"))
            #expect(!exists(tree.root + "/drivers/mlx5_core/\(vf)"))
            #expect(!exists(tree.root + "/kernel/iommu_groups/\(21 + index)"))
        }
        let disabled = ConfigBytes(bytes: try treeBytes(tree, pf, "config"))
        #expect(disabled.u16(sriov + 0x10) == 0)
        #expect(disabled.u16(sriov + 0x08) & 0x9 == 0)
        listing = try Lspci.listing(tree: tree.root)
        #expect(listing.order.count == 4)
        #expect(try listing.line(pf, startingWith: "IOVCtl:").hasPrefix("IOVCtl:\tEnable- Migration- Interrupt- MSE-"))

        // Enabling again after a disable works, up to TotalVFs.
        try tree.writeSRIOVNumVFs(16, physicalFunction: pf)
        #expect(try Lspci.listing(tree: tree.root).order.count == 4 + 16)
    }

    @Test func reopenedTreeReadsTheCurrentCountFromDisk() throws {
        var first = tree
        try first.writeSRIOVNumVFs(2, physicalFunction: pf)
        // A later process only knows the description the tree was written from.
        var reopened = EmulatedSysfsTree(root: tree.root, cards: tree.cards)
        let refused = rejection { try reopened.writeSRIOVNumVFs(3, physicalFunction: pf) }
        #expect(refused?.reason == .alreadyEnabled(enabledVFs: 2))
        try reopened.writeSRIOVNumVFs(0, physicalFunction: pf)
        #expect(!exists(tree.devicePath(vfs[0])))
    }

    @Test func refusalsCarryTheKernelErrno() throws {
        var copy = tree
        #expect(rejection { try copy.writeSRIOVNumVFs(-1, physicalFunction: pf) }?.errno == EINVAL)
        let notPF = rejection { try copy.writeSRIOVNumVFs(1, physicalFunction: pci(0, 1, 0)) }
        #expect(notPF?.reason == .notSRIOVPhysicalFunction)
        #expect(notPF?.errno == ENOENT)

        let unbound = try TemporaryDirectory()
        var unboundTree = try EmulatedSysfsTree.write([SampleCards.dpu(enabledVFs: 0, pfDriver: nil)], to: unbound.path)
        let noDriver = rejection { try unboundTree.writeSRIOVNumVFs(2, physicalFunction: pf) }
        #expect(noDriver?.reason == .noDriverBound)
        #expect(noDriver?.errno == ENOENT)
        #expect(noDriver?.description.contains("0000:03:00.0/sriov_numvfs") == true)
    }

    @Test func driverLimitBoundsTheWrite() throws {
        let limited = try TemporaryDirectory()
        let card = try PCIFault.pciSysfsMismatch.apply(to: SampleCards.dpu(enabledVFs: 0))
        var limitedTree = try EmulatedSysfsTree.write([card], to: limited.path)
        let refused = rejection { try limitedTree.writeSRIOVNumVFs(9, physicalFunction: pf) }
        #expect(refused?.reason == .exceedsTotalVFs(totalVFs: 8))
        try limitedTree.writeSRIOVNumVFs(8, physicalFunction: pf)
        #expect(try treeFile(limitedTree, pf, "sriov_numvfs") == "8\n")
    }
}
