import Emulator
import Foundation
import Inventory
import Probes
import Profiles
import Reports
import Testing
@testable import Certification

/// The emulated-smartnic profile's lab, brought up for one test and always taken down.
enum IsolationLab {
    static let unavailableReason = NetworkNamespace.creationUnavailableReason()

    /// The real `dpucert` (built beside the test bundle) serves as the lab's agent.
    static let agent = AgentLauncher(
        executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("dpucert").path,
        arguments: ["agent"])

    static func run(faults: [LabFault]) throws -> [TestResult] {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let name = "c" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
        let spec = try #require(LabSpec(profile: profile, name: name, agent: agent))
        let lab = try Lab.up(spec, faults: faults)
        defer { try? lab.down() }
        let bus = FixedBus(functions: [])
        let context = TestContext(profile: profile,
                                  pci: PCIEnvironment(bus: bus, sriovControl: nil, baseline: PCIInventory(source: bus.source, functions: [])),
                                  isolation: IsolationEnvironment(topology: lab.topology))
        return TestRunner(tests: IsolationSuite.tests(for: profile)).run(context: context, observer: RecordingObserver())
    }
}

@Suite("Isolation suite on the emulated lab", .serialized,
       .enabled(if: IsolationLab.unavailableReason == nil, "needs root and a working `ip netns add`"),
       .enabled(if: FileManager.default.isExecutableFile(atPath: IsolationLab.agent.executable), "dpucert is not built"))
struct IsolationSuiteTests {
    @Test("the clean lab passes every isolation check, with evidence of what was probed from where")
    func cleanLabPasses() throws {
        let results = try IsolationLab.run(faults: [])
        #expect(results.map(\.id) == ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface",
                                      "isolation.no-route-to-oob", "isolation.host-mgmt-channel-closed",
                                      "isolation.tenant-separation"])
        for result in results {
            #expect(result.status == .passed, "\(result.id): \(result.message)")
            #expect(result.evidence.contains { $0.contains("from netns") || $0.contains("netns") }, "\(result.id) evidence")
        }
    }

    @Test("each isolation fault turns exactly its checks red (or error, for a failed positive control)",
          arguments: LabFault.allCases)
    func faultBreaksItsChecks(fault: LabFault) throws {
        let results = try IsolationLab.run(faults: [fault])
        let broken = results.filter { $0.status != .passed }
        #expect(Set(broken.map(\.id)) == Set(fault.breaks), "\(broken.map { "\($0.id) \($0.status): \($0.message)" })")
        let expected: TestStatus = fault.effect == .positiveControlFails ? .error : .failed
        for result in broken {
            #expect(result.status == expected, "\(result.id): \(result.message)")
            // The finding says what answered, from where (a namespace) or on what interface.
            if expected == .failed {
                #expect(result.message.contains("→") || result.message.contains("observed"), "\(result.message)")
            } else {
                #expect(result.message.hasPrefix("positive control failed"))
            }
        }
    }

    @Test("without a network to probe, every isolation check is skipped with the reason, never passed")
    func noLabSkips() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let bus = FixedBus(functions: [])
        let context = TestContext(profile: profile,
                                  pci: PCIEnvironment(bus: bus, sriovControl: nil, baseline: PCIInventory(source: bus.source, functions: [])),
                                  isolation: IsolationEnvironment(unavailable: "network namespaces cannot be created here"))
        let results = TestRunner(tests: IsolationSuite.tests(for: profile)).run(context: context, observer: RecordingObserver())
        #expect(results.count == 5)
        #expect(results.allSatisfy { $0.status == .skipped && $0.message == "network namespaces cannot be created here" })
    }
}
