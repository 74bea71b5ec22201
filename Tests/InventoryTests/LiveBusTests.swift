import Foundation
import PCITestSupport
import TestGates
import Testing
@testable import Inventory

@Suite("Decoding agrees with lspci on this machine's bus", .requires(.pciSysfs, .lspci))
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
