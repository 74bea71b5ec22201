import Foundation
import PCITestSupport
import TestGates
import Testing
@testable import Inventory

@Suite("Decoding agrees with lspci on real bus dumps", .requires(.pciDumps, .lspci))
struct DumpCorpusTests {
    @Test("the corpus holds the cases the inventory must handle")
    func corpusIsComplete() {
        #expect(SharedFiles.pciDumpFiles.count >= 41)
    }

    @Test("dpucert and lspci read the same dump the same way", arguments: SharedFiles.pciDumpFiles)
    func agreesWithLspci(file: String) throws {
        let path = SharedFiles.pciDumps + "/" + file
        let inventory = try InventoryReader(source: .dump(path: path)).read()
        let reference = try LspciReading.read(["-F", path])
        #expect(!inventory.functions.isEmpty)
        #expect(inventory.functions.count == reference.count)
        let problems = disagreements(inventory, reference)
        #expect(problems.isEmpty, "\(file):\n\(problems.joined(separator: "\n"))")
    }

    @Test("SR-IOV PFs in the corpus decode to the numbers the kernel would use")
    func knownSRIOVFunctions() throws {
        let intel = try InventoryReader(source: .dump(path: SharedFiles.pciDumps + "/pciutils-tests/cap-pcie-2")).read()
        let pf = try #require(intel.functions.first { $0.sriov != nil })
        let sriov = try #require(pf.sriov)
        #expect(sriov.totalVFs == 8 && sriov.numVFs == 1 && sriov.firstVFOffset == 384 && sriov.vfStride == 2)
        #expect(hex(sriov.vfDeviceID, width: 4) == "10ca")
        #expect(pf.vfAddresses.map(\.description) == ["0000:02:10.0"])

        let thunder = try InventoryReader(source: .dump(path: SharedFiles.pciDumps + "/pciutils-tests/cap-ea-1")).read()
        let nic = try #require(thunder.functions.first { $0.sriov != nil })
        #expect(nic.sriov?.totalVFs == 128 && nic.sriov?.ariCapableHierarchy == true)
        #expect(nic.vfAddresses.count == 128)
        #expect(nic.vfAddresses.first?.description == "0002:01:00.1")
        #expect(nic.vfAddresses[6].description == "0002:01:00.7")
        #expect(nic.vfAddresses[7].description == "0002:01:01.0")
        #expect(nic.vfAddresses.last?.description == "0002:01:10.0")
    }
}
