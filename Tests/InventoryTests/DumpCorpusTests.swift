import Foundation
import PCITestSupport
import Testing
@testable import Inventory

/// The real dumps of `DPUCERT_PCI_DUMPS` (default `../shared/pci-dumps` beside the
/// repository): pciutils' test corpus and dumps from public posts.
enum DumpCorpus {
    static let directory: String = {
        let configured = ProcessInfo.processInfo.environment["DPUCERT_PCI_DUMPS"] ?? ""
        return configured.isEmpty ? repositoryRoot + "/../shared/pci-dumps" : configured
    }()

    static let files: [String] = {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { path in
            let name = (path as NSString).lastPathComponent
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue && !name.hasSuffix(".txt") && !name.hasSuffix(".md")
        }.sorted()
    }()

    static var available: Bool { !files.isEmpty }
    static let reason: Comment = "no PCI dumps in DPUCERT_PCI_DUMPS (\(directory)); set it to shared/pci-dumps"
}

@Suite("Decoding agrees with lspci on real bus dumps", .enabled(if: DumpCorpus.available, DumpCorpus.reason),
       .enabled(if: LspciReading.path != nil, "lspci is not installed (Debian package pciutils)"))
struct DumpCorpusTests {
    @Test("the corpus holds the cases the inventory must handle")
    func corpusIsComplete() {
        #expect(DumpCorpus.files.count >= 41)
    }

    @Test("dpucert and lspci read the same dump the same way", arguments: DumpCorpus.files)
    func agreesWithLspci(file: String) throws {
        let path = DumpCorpus.directory + "/" + file
        let inventory = try InventoryReader(source: .dump(path: path)).read()
        let reference = try LspciReading.read(["-F", path])
        #expect(!inventory.functions.isEmpty)
        #expect(inventory.functions.count == reference.count)
        let problems = disagreements(inventory, reference)
        #expect(problems.isEmpty, "\(file):\n\(problems.joined(separator: "\n"))")
    }

    @Test("SR-IOV PFs in the corpus decode to the numbers the kernel would use")
    func knownSRIOVFunctions() throws {
        let intel = try InventoryReader(source: .dump(path: DumpCorpus.directory + "/pciutils-tests/cap-pcie-2")).read()
        let pf = try #require(intel.functions.first { $0.sriov != nil })
        let sriov = try #require(pf.sriov)
        #expect(sriov.totalVFs == 8 && sriov.numVFs == 1 && sriov.firstVFOffset == 384 && sriov.vfStride == 2)
        #expect(hex(sriov.vfDeviceID, width: 4) == "10ca")
        #expect(pf.vfAddresses.map(\.description) == ["0000:02:10.0"])

        let thunder = try InventoryReader(source: .dump(path: DumpCorpus.directory + "/pciutils-tests/cap-ea-1")).read()
        let nic = try #require(thunder.functions.first { $0.sriov != nil })
        #expect(nic.sriov?.totalVFs == 128 && nic.sriov?.ariCapableHierarchy == true)
        #expect(nic.vfAddresses.count == 128)
        #expect(nic.vfAddresses.first?.description == "0002:01:00.1")
        #expect(nic.vfAddresses[6].description == "0002:01:00.7")
        #expect(nic.vfAddresses[7].description == "0002:01:01.0")
        #expect(nic.vfAddresses.last?.description == "0002:01:10.0")
    }
}
