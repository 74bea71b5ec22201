import Foundation
import PCITestSupport
import TestGates
import Testing
@testable import Inventory

@Suite("Hand-built sysfs trees", .requires(.pciDumps, .lspci))
struct SysfsTreeTests {
    /// The Intel 82576 PF of pciutils' corpus (SR-IOV: Total 8, NumVFs 1, offset 384, stride 2).
    static func intelPF() throws -> RawPCIFunction {
        try #require(SysfsFixture.configs(fromDump: SharedFiles.pciDumps + "/pciutils-tests/cap-pcie-2").first)
    }

    /// A VF's config as hardware presents it: vendor/device read 0xffff.
    static func vfConfig(from pf: [UInt8]) -> [UInt8] {
        var config = pf
        for offset in 0..<4 { config[offset] = 0xff }
        return config
    }

    /// A PF with one enabled VF, sysfs files as the kernel writes them.
    static func buildSRIOVTree(totalVFsInSysfs: Int = 8, linkSpeed: String = "2.5 GT/s PCIe") throws -> SysfsFixture {
        let tree = try SysfsFixture()
        let pf = try intelPF()
        let pfAddress = "0000:01:00.0", vfAddress = "0000:02:10.0"
        try tree.addFunction(pfAddress, config: pf.config)
        try tree.write(pfAddress, "sriov_totalvfs", "\(totalVFsInSysfs)")
        try tree.write(pfAddress, "sriov_numvfs", "1")
        try tree.write(pfAddress, "sriov_offset", "384")
        try tree.write(pfAddress, "sriov_stride", "2")
        try tree.write(pfAddress, "sriov_vf_device", "10ca")
        try tree.write(pfAddress, "current_link_speed", linkSpeed)
        try tree.write(pfAddress, "max_link_speed", "2.5 GT/s PCIe")
        try tree.write(pfAddress, "current_link_width", "4")
        try tree.write(pfAddress, "max_link_width", "4")
        try tree.write(pfAddress, "numa_node", "1")
        try tree.write(pfAddress, "aer_dev_correctable", "RxErr 0\nBadTLP 2\nTOTAL_ERR_COR 2")
        try tree.write(pfAddress, "aer_dev_fatal", "Undefined 0\nDLP 0\nTOTAL_ERR_FATAL 0")
        try tree.makeDirectory(pfAddress, "net/enp1s0f0")
        try tree.makeDirectory(pfAddress, "host0/target0:0:0/0:0:0:0/block/sdb")
        try FileManager.default.createDirectory(atPath: tree.root + "/kernel/iommu_groups/41", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree.root + "/drivers/igb", withIntermediateDirectories: true)
        try tree.link(pfAddress, "iommu_group", to: "../../kernel/iommu_groups/41")
        try tree.link(pfAddress, "driver", to: "../../drivers/igb")
        try tree.addFunction(vfAddress, config: vfConfig(from: pf.config), vendor: 0x8086, device: 0x10ca)
        try tree.link(pfAddress, "virtfn0", to: "../" + vfAddress)
        try tree.link(vfAddress, "physfn", to: "../" + pfAddress)
        return tree
    }

    @Test("a PF with a VF reads as lspci reads it, with every sysfs extra")
    func sriovTree() throws {
        let tree = try Self.buildSRIOVTree()
        let inventory = try InventoryReader(source: .sysfs(root: tree.root)).read()
        let reference = try LspciReading.read(["-A", "linux-sysfs", "-O", "sysfs.path=\(tree.root)"])
        let problems = disagreements(inventory, reference)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        let pf = try #require(inventory.function(at: pci("0000:01:00.0")))
        #expect(pf.findings.isEmpty, "\(pf.findings)")
        #expect(pf.iommuGroup == 41 && pf.numaNode == 1 && pf.driver == "igb")
        #expect(pf.netdevs == ["enp1s0f0"] && pf.blockDevices == ["sdb"])
        #expect(pf.sysfs?.aerCorrectable?["BadTLP"] == 2 && pf.sysfs?.aerFatal?["TOTAL_ERR_FATAL"] == 0)
        #expect(pf.sysfs?.virtualFunctions?.map(\.description) == ["0000:02:10.0"])

        let vf = try #require(inventory.function(at: pci("0000:02:10.0")))
        #expect(vf.physicalFunction == pf.address)
        #expect(hex(vf.vendorID, width: 4) == "8086" && hex(vf.deviceID, width: 4) == "10ca")
        #expect(inventory.hierarchy.count == 1 && inventory.hierarchy.first?.virtualFunctions.count == 1)
    }

    @Test("a driver that lowers sriov_totalvfs is flagged with both values")
    func loweredTotalVFs() throws {
        let tree = try Self.buildSRIOVTree(totalVFsInSysfs: 4)
        let inventory = try InventoryReader(source: .sysfs(root: tree.root)).read()
        let pf = try #require(inventory.functions.first { $0.sriov != nil })
        let finding = try #require(pf.findings.first { $0.property == "sriov.totalVFs" })
        #expect(finding.kind == .sysfsMismatch && finding.configSpace == "8" && finding.sysfs == "4")
        #expect(pf.sriov?.totalVFs == 8 && pf.sysfs?.sriovTotalVFs == 4)
    }

    @Test("link speeds in both kernel spellings", arguments: [
        ("2.5 GT/s PCIe", false), ("2.5 GT/s", false), ("5.0 GT/s PCIe", true), ("5 GT/s", true),
    ])
    func linkSpeedSpellings(speed: String, mismatch: Bool) throws {
        let tree = try Self.buildSRIOVTree(linkSpeed: speed)
        let pf = try #require(try InventoryReader(source: .sysfs(root: tree.root)).read().functions.first)
        #expect(pf.findings.contains { $0.property == "link.currentSpeedGTs" } == mismatch)
    }

    @Test("unreadable config space gives a flagged partial result, not a crash")
    func unreadableConfig() throws {
        let tree = try Self.buildSRIOVTree()
        let vf = "0000:02:10.0"
        try FileManager.default.removeItem(atPath: tree.directory(vf) + "/config")
        try FileManager.default.createDirectory(atPath: tree.directory(vf) + "/config", withIntermediateDirectories: false)
        let inventory = try InventoryReader(source: .sysfs(root: tree.root)).read()
        let function = try #require(inventory.function(at: pci(vf)))
        #expect(function.config.length == 0)
        #expect(function.findings.contains { $0.kind == .configSpaceUnreadable })
        #expect(hex(function.vendorID, width: 4) == "8086")
        #expect(function.capabilityNames.isEmpty)
    }

    @Test("a tree without the mandatory vendor file is an error naming the file")
    func missingIdentityFile() throws {
        let tree = try Self.buildSRIOVTree()
        try FileManager.default.removeItem(atPath: tree.directory("0000:01:00.0") + "/vendor")
        #expect {
            try InventoryReader(source: .sysfs(root: tree.root)).read()
        } throws: { error in
            "\(error)".contains("vendor") && (error as? PCIError)?.code == .libpci
        }
    }
}
