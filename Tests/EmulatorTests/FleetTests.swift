import Emulator
import Foundation
import TestGates
import Testing

@Suite(.requires(.lspci)) struct FleetTests {
    @Test func eightCardsWithTwoHundredFiftyTwoVFsEach() throws {
        let cards = try EmulatedFleet.cards(count: 8, virtualFunctionsPerCard: 252)
        let directory = try TemporaryDirectory.inMemory()
        let clock = ContinuousClock()
        let started = clock.now
        let tree = try EmulatedSysfsTree.write(cards, to: directory.path)
        let elapsed = clock.now - started
        #expect(elapsed < .seconds(5), "writing 2,033 functions took \(elapsed)")

        let listing = try Lspci.listing(tree: tree.root)
        var expected = ["0000:00:00.0"]
        for card in 0..<8 {
            expected.append(String(format: "0000:00:%02x.0", card + 1))
            let bus = 1 + card
            expected += (0...252).map { String(format: "0000:%02x:%02x.%d", bus, $0 >> 3, $0 & 7) }
        }
        #expect(listing.order.count == 2_033)
        #expect(listing.order == expected.sorted())
        #expect(listing.blocks["0000:08:1f.4"]?.first?.contains("[15b3:101e]") == true)
        #expect(try listing.line(pci(8, 0, 0), startingWith: "Initial VFs:") == "Initial VFs: 252, Total VFs: 252, Number of VFs: 252, Function Dependency Link: 00")
        #expect(try listing.line(pci(0, 8, 0), startingWith: "Bus:") == "Bus: primary=00, secondary=08, subordinate=08, sec-latency=0")
        // Every function in its own IOMMU group.
        let groups = listing.order.compactMap { listing.blocks[$0]?.first { $0.hasPrefix("\tIOMMU group:") } }
        #expect(groups.count == 2_032)
        #expect(Set(groups).count == 2_032)
    }

    @Test func largeFleetsSpreadOverDomainsAndBuses() throws {
        let cards = try EmulatedFleet.cards(count: 40, virtualFunctionsPerCard: 300)
        #expect(cards.count == 40)
        #expect(cards[30].rootPort.address == pci(0, 31, 0))
        #expect(cards[31].rootPort.address == pci(0, 1, 0, domain: 1))
        // 1 PF + 300 VFs need two buses per card.
        #expect(cards[1].functions[0].address == pci(3, 0, 0))
        #expect(cards[0].functions[0].virtualFunctionAddress(299) == pci(2, 5, 4))
        let spaces = try ConfigSpaceEncoder.encode(cards[39])
        #expect(spaces.count == 2 + 301)
        #expect(Set(cards.map(\.id)).count == 40)
    }

    @Test func fleetOfCardsWithoutVFsIsWritten() throws {
        let directory = try TemporaryDirectory()
        let tree = try EmulatedSysfsTree.write(try EmulatedFleet.cards(count: 3, virtualFunctionsPerCard: 0), to: directory.path)
        let listing = try Lspci.listing(tree: tree.root)
        #expect(listing.order == ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0"])
        #expect(try treeFile(tree, pci(2, 0, 0), "sriov_totalvfs") == "0\n")
    }

    @Test func impossibleFleetsAreRefused() {
        #expect(throws: EmulatorError.self) { try EmulatedFleet.cards(count: -1, virtualFunctionsPerCard: 4) }
        #expect(throws: EmulatorError.self) { try EmulatedFleet.cards(count: 1, virtualFunctionsPerCard: 70_000) }
    }
}
