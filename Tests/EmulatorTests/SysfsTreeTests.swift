import Emulator
import Foundation
import TestGates
import Testing

/// Little-endian reads and capability lookup over raw config bytes, written apart from the
/// encoder so the tests check its bytes rather than reuse its logic.
struct ConfigBytes {
    let bytes: [UInt8]

    func u8(_ offset: Int) -> Int { Int(bytes[offset]) }
    func u16(_ offset: Int) -> Int { u8(offset) | u8(offset + 1) << 8 }
    func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }

    func standardCapability(_ id: Int) -> Int? {
        var offset = u8(0x34)
        var seen = 0
        while offset != 0 && seen < 48 {
            if u8(offset) == id { return offset }
            offset = u8(offset + 1)
            seen += 1
        }
        return nil
    }

    func extendedCapability(_ id: Int) -> Int? {
        var offset = 0x100
        var seen = 0
        while offset != 0 && seen < 64 {
            let header = u32(offset)
            if header & 0xffff == id { return offset }
            offset = (header >> 20) & 0xffc
            seen += 1
        }
        return nil
    }
}

@Suite(.requires(.lspci)) struct SysfsTreeTests {
    let directory: TemporaryDirectory
    let tree: EmulatedSysfsTree

    init() throws {
        directory = try TemporaryDirectory()
        tree = try EmulatedSysfsTree.write([SampleCards.dpu()], to: directory.child("tree"))
    }

    @Test func identityFilesUseTheKernelFormats() throws {
        let pf = pci(3, 0, 0)
        #expect(try treeFile(tree, pf, "vendor") == "0x15b3\n")
        #expect(try treeFile(tree, pf, "device") == "0xa2dc\n")
        #expect(try treeFile(tree, pf, "subsystem_vendor") == "0x15b3\n")
        #expect(try treeFile(tree, pf, "subsystem_device") == "0x0009\n")
        #expect(try treeFile(tree, pf, "class") == "0x020000\n")
        #expect(try treeFile(tree, pf, "revision") == "0x01\n")
        #expect(try treeFile(tree, pf, "irq") == "16\n")
        #expect(try treeFile(tree, pf, "numa_node") == "0\n")
        #expect(try treeFile(tree, pf, "current_link_speed") == "32.0 GT/s PCIe\n")
        #expect(try treeFile(tree, pf, "current_link_width") == "16\n")
        #expect(try treeFile(tree, pf, "max_link_speed") == "32.0 GT/s PCIe\n")
        #expect(try treeFile(tree, pf, "max_link_width") == "16\n")
        #expect(try treeFile(tree, pci(0, 1, 0), "class") == "0x060400\n")
        #expect(try treeFile(tree, pci(0, 0, 0), "class") == "0x060000\n")
        let vf = pci(3, 0, 2)
        #expect(try treeFile(tree, vf, "vendor") == "0x15b3\n")
        #expect(try treeFile(tree, vf, "device") == "0x101e\n")
        #expect(try treeFile(tree, vf, "irq") == "0\n")
    }

    @Test func sriovFilesOnPhysicalFunctionsOnly() throws {
        let pf = pci(3, 0, 0)
        #expect(try treeFile(tree, pf, "sriov_totalvfs") == "16\n")
        #expect(try treeFile(tree, pf, "sriov_numvfs") == "4\n")
        #expect(try treeFile(tree, pf, "sriov_offset") == "2\n")
        #expect(try treeFile(tree, pf, "sriov_stride") == "1\n")
        #expect(try treeFile(tree, pf, "sriov_vf_device") == "101e\n")
        #expect(try treeFile(tree, pf, "sriov_drivers_autoprobe") == "1\n")
        #expect(try treeFile(tree, pci(3, 0, 1), "sriov_offset") == "17\n")
        #expect(!FileManager.default.fileExists(atPath: tree.devicePath(pci(3, 0, 2)) + "/sriov_numvfs"))
        #expect(!FileManager.default.fileExists(atPath: tree.devicePath(pci(0, 1, 0)) + "/sriov_numvfs"))
    }

    @Test func aerStatisticsUseTheKernelNames() throws {
        let pf = pci(3, 0, 0)
        #expect(
            try treeFile(tree, pf, "aer_dev_correctable")
                == "RxErr 0\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR 0\n")
        let names = [
            "Undefined", "DLP", "SDES", "TLP", "FCP", "CmpltTO", "CmpltAbrt", "UnxCmplt", "RxOF", "MalfTLP", "ECRC",
            "UnsupReq", "ACSViol", "UncorrIntErr", "BlockedTLP", "AtomicOpBlocked", "TLPBlockedErr", "PoisonTLPBlocked",
            "DMWrReqBlocked", "IDECheck", "MisIDETLP", "PCRC_CHECK", "TLPXlatBlocked",
        ]
        #expect(try treeFile(tree, pf, "aer_dev_fatal") == names.map { "\($0) 0\n" }.joined() + "TOTAL_ERR_FATAL 0\n")
        #expect(try treeFile(tree, pf, "aer_dev_nonfatal") == names.map { "\($0) 0\n" }.joined() + "TOTAL_ERR_NONFATAL 0\n")
        #expect(try treeFile(tree, pci(0, 1, 0), "aer_rootport_total_err_nonfatal") == "0\n")
        #expect(!FileManager.default.fileExists(atPath: tree.devicePath(pci(3, 0, 2)) + "/aer_dev_fatal"))
    }

    @Test func resourceFilesAgreeWithWhatLspciShows() throws {
        let line = #/^0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x[0-9a-f]{16}$/#
        let pfLines = try treeFile(tree, pci(3, 0, 0), "resource").split(separator: "\n")
        #expect(pfLines.count == 13)
        #expect(pfLines.allSatisfy { $0.wholeMatch(of: line) != nil })
        #expect(try treeFile(tree, pci(0, 1, 0), "resource").split(separator: "\n").count == 17)
        let bar = pfLines[0].split(separator: " ").compactMap { UInt64($0.dropFirst(2), radix: 16) }
        #expect(bar.count == 3)
        #expect(bar[1] - bar[0] + 1 == 32 << 20)
        let listing = try Lspci.listing(tree: tree.root)
        #expect(
            try listing.line(pci(3, 0, 0), startingWith: "Region 0:")
                == "Region 0: Memory at \(String(bar[0], radix: 16)) (64-bit, prefetchable) [size=32M]")
        let config = ConfigBytes(bytes: try treeBytes(tree, pci(3, 0, 0), "config"))
        #expect(UInt64(config.u32(0x10) & ~0xf) | UInt64(config.u32(0x14)) << 32 == bar[0])
    }

    @Test(arguments: [pci(0, 1, 0), pci(3, 0, 0), pci(3, 0, 1), pci(3, 0, 2), pci(3, 0, 5)])
    func sysfsFilesAgreeWithConfigBytes(_ address: EmulatedPCIAddress) throws {
        let config = ConfigBytes(bytes: try treeBytes(tree, address, "config"))
        #expect(config.bytes.count == 4096)
        func number(_ name: String) throws -> Int {
            let text = try treeFile(tree, address, name).trimmingCharacters(in: .newlines)
            return try #require(text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text), "\(name): \(text)")
        }
        let isVF = FileManager.default.fileExists(atPath: tree.devicePath(address) + "/physfn")
        if isVF {
            #expect(config.u16(0) == 0xffff && config.u16(2) == 0xffff)
        } else {
            #expect(try number("vendor") == config.u16(0))
            #expect(try number("device") == config.u16(2))
        }
        #expect(try number("class") == config.u32(0x08) >> 8)
        #expect(try number("revision") == config.u8(0x08))
        if config.u8(0x0e) & 0x7f == 0 {
            #expect(try number("subsystem_vendor") == config.u16(0x2c))
            #expect(try number("subsystem_device") == config.u16(0x2e))
        }
        let express = try #require(config.standardCapability(0x10))
        let speeds = ["", "2.5 GT/s PCIe", "5.0 GT/s PCIe", "8.0 GT/s PCIe", "16.0 GT/s PCIe", "32.0 GT/s PCIe", "64.0 GT/s PCIe"]
        let linkStatus = config.u16(express + 0x12)
        let linkCapabilities = config.u32(express + 0x0c)
        let speedVector = config.u32(express + 0x2c) >> 1 & 0x7f
        let highestSupported = Int.bitWidth - speedVector.leadingZeroBitCount
        #expect(try treeFile(tree, address, "current_link_speed") == speeds[linkStatus & 0xf] + "\n")
        #expect(try number("current_link_width") == linkStatus >> 4 & 0x3f)
        #expect(try treeFile(tree, address, "max_link_speed") == speeds[highestSupported] + "\n")
        #expect(try number("max_link_width") == linkCapabilities >> 4 & 0x3f)
        if let sriov = config.extendedCapability(0x10) {
            #expect(try number("sriov_totalvfs") == config.u16(sriov + 0x0e))
            #expect(try number("sriov_numvfs") == config.u16(sriov + 0x10))
            #expect(try number("sriov_offset") == config.u16(sriov + 0x14))
            #expect(try number("sriov_stride") == config.u16(sriov + 0x16))
            #expect(try treeFile(tree, address, "sriov_vf_device") == String(config.u16(sriov + 0x1a), radix: 16) + "\n")
            let enabled = config.u16(sriov + 0x08) & 0x9 == 0x9
            #expect(enabled == (try number("sriov_numvfs") > 0))
        }
    }

    @Test func linksAreRelativeAndResolveInsideTheTree() throws {
        let manager = FileManager.default
        func resolved(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        let root = resolved(tree.root)
        let pf = tree.devicePath(pci(3, 0, 0))
        for name in ["driver", "iommu_group", "virtfn0", "virtfn3"] {
            let target = try manager.destinationOfSymbolicLink(atPath: pf + "/" + name)
            #expect(!target.hasPrefix("/"), "\(name) -> \(target)")
        }
        #expect(resolved(pf + "/driver") == root + "/drivers/mlx5_core")
        #expect(resolved(pf + "/iommu_group") == root + "/kernel/iommu_groups/20")
        #expect(resolved(pf + "/virtfn0") == resolved(tree.devicePath(pci(3, 0, 2))))
        #expect(resolved(pf + "/virtfn3") == resolved(tree.devicePath(pci(3, 0, 5))))
        #expect(!manager.fileExists(atPath: pf + "/virtfn4"))
        #expect(try manager.destinationOfSymbolicLink(atPath: tree.devicePath(pci(3, 0, 2)) + "/physfn") == "../0000:03:00.0")
        #expect(resolved(tree.devicePath(pci(3, 0, 2)) + "/physfn") == resolved(pf))
        #expect(resolved(root + "/kernel/iommu_groups/20/devices/0000:03:00.0") == resolved(pf))
        #expect(resolved(root + "/drivers/mlx5_core/0000:03:00.2") == resolved(tree.devicePath(pci(3, 0, 2))))
        #expect(resolved(pf + "/..").hasSuffix("/0000:00:01.0"))
        var isDirectory: ObjCBool = false
        #expect(manager.fileExists(atPath: pf + "/net/enp3s0f0np0", isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(manager.fileExists(atPath: tree.devicePath(pci(3, 0, 3)) + "/net/enp3s0f0v1"))
        #expect(try manager.contentsOfDirectory(atPath: root + "/kernel/iommu_groups").count == 7)
    }

    @Test func movedTreeReadsTheSame() throws {
        let before = try Lspci.run(tree: tree.root, ["-D", "-vvv", "-nn"])
        let moved = directory.child("moved")
        try FileManager.default.moveItem(atPath: tree.root, toPath: moved)
        let after = try Lspci.run(tree: moved, ["-D", "-vvv", "-nn"])
        #expect(after.status == 0)
        #expect(after.stdout == before.stdout)
        #expect(Lspci.treeDiagnostics(after) == [])
    }

    @Test func refusesToWriteOverAnExistingTree() throws {
        #expect(throws: EmulatorError.destinationNotEmpty(path: tree.root)) {
            try EmulatedSysfsTree.write([SampleCards.dpu()], to: tree.root)
        }
    }
}

/// VFs appear at PF routing ID + First VF Offset + k × VF Stride, on the next bus if needed.
@Suite struct VirtualFunctionRoutingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bus: UInt8
        var offset: Int
        var stride: Int
        var vfs: Int
        var ari: Bool
        var testDescription: String { name }
    }

    static let cases = [
        Case(name: "ARI, 252 VFs on the PF's bus", bus: 0x03, offset: 1, stride: 1, vfs: 252, ari: true),
        Case(name: "ARI, VFs spill to the next bus", bus: 0x05, offset: 0x80, stride: 2, vfs: 100, ari: true),
        Case(name: "non-ARI, 82576-style offset 0x180 stride 2", bus: 0x01, offset: 0x180, stride: 2, vfs: 8, ari: false),
    ]

    static func card(_ routing: Case) -> EmulatedCard {
        let pf = EmulatedFunction(
            address: pci(routing.bus, 0, 0), vendorID: 0x8086, deviceID: 0x10c9, revision: 1,
            link: EmulatedLink(maxSpeed: .gt5, maxWidth: 4), ari: routing.ari,
            sriov: EmulatedSRIOV(
                totalVFs: routing.vfs, enabledVFs: routing.vfs, firstVFOffset: routing.offset, vfStride: routing.stride,
                vfDeviceID: 0x10ca, ariCapableHierarchy: routing.ari, vfDriver: "igbvf", vfIOMMUGroups: .sequential(first: 50)),
            driver: "igb", iommuGroup: 49)
        return EmulatedCard(
            id: routing.name,
            rootPort: EmulatedRootPort(address: pci(0, 2, 0), maxLinkSpeed: .gt5, maxLinkWidth: 4, ariForwarding: routing.ari),
            functions: [pf])
    }

    /// `DDDD:BB:DD.F` of a routing ID, computed here independently of the library.
    static func name(routingID: Int) -> String {
        let bus = routingID >> 8
        let devfn = routingID & 0xff
        return String(format: "0000:%02x:%02x.%d", bus, devfn >> 3, devfn & 7)
    }

    @Test(arguments: cases)
    func lspciListsVirtualFunctionsAtTheirRoutingIDs(_ routing: Case) throws {
        let directory = try TemporaryDirectory()
        let tree = try EmulatedSysfsTree.write([Self.card(routing)], to: directory.path)
        let listing = try Lspci.listing(tree: tree.root)
        let pfRoutingID = Int(routing.bus) << 8
        let vfNames = (0..<routing.vfs).map { Self.name(routingID: pfRoutingID + routing.offset + $0 * routing.stride) }
        #expect(listing.order == ["0000:00:00.0", "0000:00:02.0", Self.name(routingID: pfRoutingID)] + vfNames)
        for name in vfNames {
            #expect(listing.blocks[name]?.first?.contains("[8086:10ca] (rev 01)") == true, "\(name)")
        }
        let lastBus = (pfRoutingID + routing.offset + (routing.vfs - 1) * routing.stride) >> 8
        #expect(
            try listing.line(pci(0, 2, 0), startingWith: "Bus:")
                == String(format: "Bus: primary=00, secondary=%02x, subordinate=%02x, sec-latency=0", routing.bus, lastBus))
        #expect(
            try listing.line(pci(routing.bus, 0, 0), startingWith: "VF offset:")
                == "VF offset: \(routing.offset), stride: \(routing.stride), Device ID: 10ca")
        #expect(
            try listing.line(pci(routing.bus, 0, 0), startingWith: "IOVCtl:")
                == "IOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy\(routing.ari ? "+" : "-") 10BitTagReq-")
        for (index, name) in vfNames.enumerated() where index == 0 || index == vfNames.count - 1 {
            let link = tree.devicePath(pci(routing.bus, 0, 0)) + "/virtfn\(index)"
            let target = URL(fileURLWithPath: link).resolvingSymlinksInPath().lastPathComponent
            #expect(target == name)
        }
    }

    @Test func encoderPlacesTheSameAddresses() throws {
        let routing = Self.cases[2]
        let spaces = try ConfigSpaceEncoder.encode(Self.card(routing))
        let vfs = spaces.filter { if case .virtualFunction = $0.role { true } else { false } }
        #expect(vfs.map(\.address.description) == ["0000:02:10.0", "0000:02:10.2", "0000:02:10.4", "0000:02:10.6",
                                                   "0000:02:11.0", "0000:02:11.2", "0000:02:11.4", "0000:02:11.6"])
        #expect(vfs.allSatisfy { $0.bytes[0] == 0xff && $0.bytes[1] == 0xff && $0.bytes[2] == 0xff && $0.bytes[3] == 0xff })
    }
}
