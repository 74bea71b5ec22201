import Foundation
import PCITestSupport
import Testing
@testable import Inventory

@Suite("Decoding agrees with lspci on this machine's bus",
       .enabled(if: FileManager.default.fileExists(atPath: "/sys/bus/pci/devices"), "no /sys/bus/pci on this machine"),
       .enabled(if: LspciReading.path != nil, "lspci is not installed (Debian package pciutils)"))
struct LiveBusTests {
    @Test func liveBusAgreesWithLspci() throws {
        let inventory = try InventoryReader(source: .live).read()
        let reference = try LspciReading.read([])
        #expect(inventory.functions.count == reference.count)
        let problems = disagreements(inventory, reference)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let json = try JSONSerialization.jsonObject(with: inventory.jsonData()) as? [String: Any]
        #expect((json?["functions"] as? [Any])?.count == reference.count)
    }
}
