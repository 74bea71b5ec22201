import Emulator
import Foundation
import TestGates
import Testing

/// Descriptions hardware could not present are refused with the field that is wrong.
@Suite(.requires(.lspci)) struct CardValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var field: String
        var change: @Sendable (inout EmulatedCard) -> Void
        var testDescription: String { field }
    }

    static let cases: [Case] = [
        Case(field: "functions[0].sriov.enabledVFs") { $0.functions[0].sriov?.enabledVFs = 17 },
        Case(field: "functions[0].sriov.initialVFs") { $0.functions[0].sriov?.initialVFs = 20 },
        Case(field: "functions[0].sriov.firstVFOffset") { $0.functions[0].sriov?.firstVFOffset = 0 },
        Case(field: "functions[0].sriov.vfStride") { $0.functions[0].sriov?.vfStride = 0 },
        Case(field: "functions[0].sriov.driverTotalVFs") { $0.functions[0].sriov?.driverTotalVFs = 32 },
        Case(field: "functions[0].sriov.absentVFs") { $0.functions[0].sriov?.absentVFs = [16] },
        Case(field: "functions[0].sriov") { $0.functions[0].sriov?.firstVFOffset = 0xfd00 },
        Case(field: "functions[0].sriov.vf.barSize") { $0.functions[0].sriov?.vfBARSize = 3 << 20 },
        Case(field: "functions[1].sriov VF 0") { $0.functions[0].sriov?.totalVFs = 17; $0.functions[0].sriov?.initialVFs = 17 },
        Case(field: "functions[0].sriov.vfNetdevPrefix") { $0.functions[0].sriov?.vfNetdevPrefix = "a-very-long-name" },
        Case(field: "functions[0].link.maxWidth") { $0.functions[0].link.maxWidth = 3 },
        Case(field: "functions[0].link.currentSpeed") { $0.functions[0].link.currentSpeed = .gt64 },
        Case(field: "functions[0].link.supportedSpeeds") { $0.functions[0].link.supportedSpeeds = [.gt2_5, .gt5] },
        Case(field: "functions[0].msix.tableSize") { $0.functions[0].msix = EmulatedMSIX(tableSize: 4096) },
        Case(field: "functions[0].barSize") { $0.functions[0].barSize = 8 << 10 },
        Case(field: "functions[0].netdevs[0]") { $0.functions[0].netdevs = ["../../etc"] },
        Case(field: "functions[0].driver") { $0.functions[0].driver = "a/b" },
        Case(field: "functions[0].iommuGroup") { $0.functions[0].iommuGroup = -2 },
        Case(field: "functions[0].numaNode") { $0.functions[0].numaNode = -5 },
        Case(field: "functions[0].acs.control") { $0.functions[0].acs?.control.insert(.directTranslatedP2P) },
        Case(field: "functions[0].address.device") { $0.functions[0].address.device = 32 },
        Case(field: "functions[0].address") { $0.functions[0].address.bus = 0 },
        Case(field: "functions[1]") { $0.functions[1].address = $0.functions[0].address },
        Case(field: "rootPort.address") { $0.rootPort.address = $0.rootPort.hostBridgeAddress },
        Case(field: "rootPort.maxLinkWidth") { $0.rootPort.maxLinkWidth = 0 },
        Case(field: "functions") { $0.functions = [] },
        Case(field: "id") { $0.id = "" },
    ]

    @Test(arguments: cases)
    func refusedWithTheFieldThatIsWrong(_ testCase: Case) throws {
        var card = SampleCards.dpu()
        testCase.change(&card)
        let error = #expect(throws: EmulatorError.self) { try ConfigSpaceEncoder.encode(card) }
        guard case let .invalidDescription(cardID, field, expected, found)? = error else {
            Issue.record("expected invalidDescription, got \(String(describing: error))")
            return
        }
        #expect(cardID == card.id)
        #expect(field == testCase.field)
        #expect(!expected.isEmpty && !found.isEmpty)
        let directory = try TemporaryDirectory()
        #expect(throws: EmulatorError.self) { try EmulatedSysfsTree.write([card], to: directory.path) }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/devices"))
    }

    @Test func cardsMustNotShareAddressesOrBuses() throws {
        let directory = try TemporaryDirectory()
        let sameBus = SampleCards.dpu(rootPortDevice: 2)
        let error = #expect(throws: EmulatorError.self) {
            try EmulatedSysfsTree.write([SampleCards.dpu(), sameBus], to: directory.path)
        }
        guard case let .invalidDescription(_, field, _, found)? = error else {
            Issue.record("expected invalidDescription, got \(String(describing: error))")
            return
        }
        #expect(field == "functions[0]")
        #expect(found.contains("0000:03:00.0"))

        // A root port inside another card's bus range is refused whichever card comes first.
        var nested = SampleCards.dpu(bus: 0x40, rootPortDevice: 2)
        nested.rootPort.address = pci(3, 0x1f, 7)
        for cards in [[SampleCards.dpu(), nested], [nested, SampleCards.dpu()]] {
            let nestedError = #expect(throws: EmulatorError.self) { try EmulatedSysfsTree.write(cards, to: directory.path) }
            guard case let .invalidDescription(_, field, expected, _)? = nestedError else {
                Issue.record("expected invalidDescription, got \(String(describing: nestedError))")
                continue
            }
            #expect(field == "functions")
            #expect(expected.contains("root port"))
        }

        // Separate buses behind separate root ports share the host bridge.
        let tree = try EmulatedSysfsTree.write([SampleCards.dpu(), SampleCards.dpu(bus: 0x40, rootPortDevice: 2)], to: directory.path)
        let listing = try Lspci.listing(tree: tree.root)
        #expect(listing.order.filter { $0.hasPrefix("0000:00:") } == ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0"])
        #expect(listing.order.count == 3 + 2 * 6)
    }

    @Test func errorsDescribeThemselves() {
        let error = EmulatorError.invalidDescription(card: "c", field: "functions[0].link.maxWidth", expected: "x16", found: "x3")
        #expect(error.description == "card c: functions[0].link.maxWidth: expected x16, found x3")
        #expect(EmulatorError.fileSystem(operation: "open", path: "/x", errno: ENOENT).description.contains("/x"))
    }

    @Test func linkSpeedsConvertFromGigatransfers() {
        #expect(EmulatedLink.Speed(gigatransfersPerSecond: 2.5) == .gt2_5)
        #expect(EmulatedLink.Speed(gigatransfersPerSecond: 32) == .gt32)
        #expect(EmulatedLink.Speed(gigatransfersPerSecond: 20) == nil)
        #expect(EmulatedLink.Speed.allCases.map(\.sysfsValue) == [
            "2.5 GT/s PCIe", "5.0 GT/s PCIe", "8.0 GT/s PCIe", "16.0 GT/s PCIe", "32.0 GT/s PCIe", "64.0 GT/s PCIe",
        ])
        #expect(EmulatedPCIAddress(bus: 1, devfn: 9) == pci(1, 1, 1))
        #expect(pci(0x82, 7, 7).routingID == 0x823f)
        #expect(pci(0x82, 7, 7, domain: 0x10).description == "0010:82:07.7")
    }
}
