import Emulator
import Foundation
import Inventory
import Profiles
import Reports
import Testing
@testable import Certification

/// An emulated card on disk with the backends a run hands the checks.
final class EmulatedPCIFixture {
    let root: String
    let context: TestContext

    init(profile: Profile, faults: [PCIFault] = []) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-pci-\(UUID().uuidString)").path
        let tree = try EmulatedSysfsTree.write([try EmulatedCard(profile: profile).applying(faults)], to: root)
        let bus = LibPCIBus(source: .sysfs(root: root))
        context = TestContext(profile: profile, pci: PCIEnvironment(
            bus: bus, sriovControl: EmulatedSRIOVControl(tree: tree), baseline: try InventoryReader(bus: bus).read()))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func run() -> [TestResult] {
        TestRunner(tests: PCISuite.tests(for: context.profile)).run(context: context, observer: RecordingObserver()).results
    }
}

let profilePaths: [String] = {
    let directory = repositoryRoot + "/profiles"
    return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted().map { directory + "/" + $0 }
}()

@Suite("PCI suite on emulated cards")
struct PCISuiteTests {
    @Test("the clean emulation of every profile passes every PCI check", arguments: profilePaths)
    func cleanProfilePasses(path: String) throws {
        let fixture = try EmulatedPCIFixture(profile: try ProfileLoader.load(path: path))
        let results = fixture.run()
        #expect(results.count >= 5)
        for result in results {
            #expect(result.status == .passed, "\(result.id): \(result.message)")
        }
    }

    @Test("each PCI fault fails exactly the checks it breaks, naming expected and observed",
          arguments: PCIFault.allCases)
    func faultFailsItsChecks(fault: PCIFault) throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let results = try EmulatedPCIFixture(profile: profile, faults: [fault]).run()
        let failed = results.filter { $0.status != .passed }
        #expect(Set(failed.map(\.id)) == Set(fault.brokenTestIDs), "\(failed.map { "\($0.id): \($0.message)" })")
        for result in failed {
            #expect(result.status == .failed)
            #expect(result.message.contains("expected") && result.message.contains("observed"), "\(result.message)")
        }
    }

    @Test("enabling VFs restores the count the card had before")
    func sriovEnableRestores() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedPCIFixture(profile: profile)
        let before = try fixture.context.pci.currentInventory().functions.map(\.address)
        #expect(fixture.run().allSatisfy { $0.status == .passed })
        #expect(try fixture.context.pci.currentInventory().functions.map(\.address) == before)
    }

    @Test("a read-only source skips the checks that need a writable bus, with the reason")
    func dumpSourceSkips() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedPCIFixture(profile: profile)
        let readOnly = TestContext(profile: profile, pci: PCIEnvironment(
            bus: fixture.context.pci.bus, sriovControl: nil, baseline: fixture.context.pci.baseline))
        let results = TestRunner(tests: PCISuite.tests(for: profile)).run(context: readOnly, observer: RecordingObserver()).results
        let enable = try #require(results.first { $0.id == "pci.sriov-enable" })
        #expect(enable.status == .skipped && enable.message.contains("cannot be enabled"))
    }

    @Test("a bus that cannot be read is an error, not a pass")
    func unreadableBus() throws {
        struct BrokenBus: PCIBus {
            var source: PCISource { .sysfs(root: "/gone") }
            func scan() throws(PCIError) -> [RawPCIFunction] {
                throw PCIError(.sourceNotFound, source: source, message: "gone")
            }
        }
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let context = TestContext(profile: profile, pci: PCIEnvironment(
            bus: BrokenBus(), sriovControl: nil, baseline: PCIInventory(source: .sysfs(root: "/gone"), functions: [])))
        let results = TestRunner(tests: PCISuite.tests(for: profile)).run(context: context, observer: RecordingObserver()).results
        #expect(results.filter { $0.status != .skipped }.allSatisfy { $0.status == .error })
        #expect(results.contains { $0.status == .error && $0.message.contains("could not be read") })
    }
}
