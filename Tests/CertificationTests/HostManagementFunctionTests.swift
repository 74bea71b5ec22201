import Emulator
import Foundation
import Inventory
import Profiles
import Reports
import Testing
@testable import Certification

/// The default profile with the card certified in `mode` (its management channel agreeing).
private func smartNIC(in mode: Profile.ManagementMode) throws -> Profile {
    let path = repositoryRoot + "/profiles/emulated-smartnic.yaml"
    let yaml = try String(contentsOfFile: path, encoding: .utf8)
        .replacingOccurrences(of: "managementMode: restricted", with: "managementMode: \(mode.rawValue)")
        .replacingOccurrences(of: "mode: restricted}", with: "mode: \(mode.rawValue)}")
    return try ProfileLoader.load(yaml: yaml, file: path)
}

/// One run of the check: a card emulated in one mode (with faults), judged against a profile
/// that declares another or the same.
struct ManagementModeCase: Sendable, CustomTestStringConvertible {
    var card: Profile.ManagementMode
    var faults: [PCIFault] = []
    var declared: Profile.ManagementMode
    var status: TestStatus
    /// What the message must say.
    var fragments: [String]

    var testDescription: String {
        "\(card) card\(faults.isEmpty ? "" : " with \(faults.map(\.name).joined(separator: ", "))") judged as \(declared)"
    }
}

@Suite("The host's management function against the declared management mode")
struct HostManagementFunctionTests {
    static let cases: [ManagementModeCase] = [
        ManagementModeCase(card: .restricted, declared: .restricted, status: .passed,
                           fragments: ["in restricted mode the host sees exactly the functions that mode shows it"]),
        ManagementModeCase(card: .privileged, declared: .privileged, status: .passed,
                           fragments: ["in privileged mode the host sees exactly the functions that mode shows it"]),
        ManagementModeCase(card: .restricted, faults: [.pciManagementFunctionExposed], declared: .restricted, status: .failed,
                           fragments: ["soc-management (15b3:c2d3) in restricted mode: expected absent (present only in privileged)",
                                       "observed the host sees it at 0000:03:00.3, although the card is in restricted mode"]),
        ManagementModeCase(card: .privileged, declared: .restricted, status: .failed,
                           fragments: ["soc-management (15b3:c2d3)", "although the card is in restricted mode"]),
        ManagementModeCase(card: .restricted, declared: .privileged, status: .failed,
                           fragments: ["soc-management (15b3:c2d3) in privileged mode: expected present, observed absent"]),
    ]

    @Test("present where the mode withholds it, or absent where the mode shows it, fails naming the function",
          arguments: cases)
    func judged(_ example: ManagementModeCase) throws {
        let fixture = try EmulatedPCIFixture(profile: smartNIC(in: example.card), faults: example.faults)
        let context = TestContext(profile: try smartNIC(in: example.declared), pci: fixture.context.pci)
        let result = try #require(
            TestRunner(tests: [HostManagementFunction()]).run(context: context, observer: RecordingObserver()).results.first)
        #expect(result.status == example.status, "\(result.message)")
        for fragment in example.fragments {
            #expect(result.message.contains(fragment), "\(result.message)")
        }
        // Its positive control: the card's network functions are on the bus.
        #expect(result.evidence.contains { $0.hasPrefix("positive control held: network-pf (15b3:a2d6) at 0000:03:00.0") })
        #expect(result.measurements.contains { $0.name == "functions_examined" && $0.value == 1 })
    }

    @Test("without the card on the bus the check is error, never a pass for an absent function")
    func cardAbsent() throws {
        let profile = try smartNIC(in: .restricted)
        let bus = FixedBus(functions: [])
        let context = TestContext(profile: profile, pci: PCIEnvironment(
            bus: bus, sriovControl: nil, baseline: PCIInventory(source: bus.source, functions: [])))
        let result = try #require(
            TestRunner(tests: [HostManagementFunction()]).run(context: context, observer: RecordingObserver()).results.first)
        #expect(result.status == .error)
        #expect(result.message.hasPrefix("positive control failed: none of the card's functions present in every mode"),
                "\(result.message)")
        #expect(result.message.contains("network-pf (15b3:a2d6), nvme-snap (15b3:6001)"), "\(result.message)")
    }

    @Test("the check is planned exactly for profiles with a mode-dependent function and covers its presentIn",
          arguments: profilePaths)
    func planned(path: String) throws {
        let profile = try ProfileLoader.load(path: path)
        let planned = PCISuite.tests(for: profile).contains { $0.id == "isolation.host-management-function" }
        #expect(planned == !profile.modeDependentFunctions.isEmpty)
        let paths = HostManagementFunction().covers(profile)
        #expect(paths == profile.modeDependentFunctions.map { "pci.functions[\($0.name)].presentIn" })
        #expect(Set(paths).isSubset(of: profile.requirementPaths))
    }

    @Test("a function the declared mode withholds is neither counted nor judged by the other PCI checks")
    func withheldFunctionIsNotRequired() throws {
        let profile = try smartNIC(in: .restricted)
        let results = try EmulatedPCIFixture(profile: profile).run()
        let present = try #require(results.first { $0.id == "pci.functions-present" })
        #expect(present.status == .passed && present.message == "all 3 functions present", "\(present.message)")
        #expect(!present.evidence.contains { $0.contains("soc-management") })
        #expect(!PCISuite.tests(for: profile).flatMap { $0.covers(profile) }.contains("pci.functions[soc-management]"))
    }
}
