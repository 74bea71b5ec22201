import Foundation
import Inventory
import Lab
import Profiles
import Reports
import TestGates
import Testbed
import Testing
@testable import Certification

/// The emulated-smartnic profile's lab, brought up for one test and always taken down.
enum IsolationLab {
    /// The real `dpucert` (built beside the test bundle) serves as the lab's agent.
    static let agent = AgentLauncher(
        executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("dpucert").path,
        arguments: ["agent"])

    /// Brings the lab up for `body`, with the context a run would hand the checks.
    static func with<Result>(faults: [LabFault] = [], cancellation: CancellationFlag = CancellationFlag(),
                             _ body: (TestContext, LabTestbed) throws -> Result) throws -> Result {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let name = "c" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
        let spec = try #require(LabSpec(profile: profile, name: name, agent: agent))
        let lab = try Lab.up(spec, faults: faults)
        defer { try? lab.down() }
        let bus = FixedBus(functions: [])
        let context = TestContext(profile: profile,
                                  pci: PCIEnvironment(bus: bus, sriovControl: nil, baseline: PCIInventory(source: bus.source, functions: [])),
                                  testbed: TestbedEnvironment(LabTestbed(lab)), cancellation: cancellation)
        return try body(context, LabTestbed(lab))
    }

    static func run(faults: [LabFault]) throws -> [TestResult] {
        try with(faults: faults) { context, _ in
            TestRunner(tests: IsolationSuite.tests(for: context.profile)).run(context: context, observer: RecordingObserver()).results
        }
    }
}

@Suite("Isolation suite on the emulated lab", .serialized,
       .requires(.networkNamespaces, .built("dpucert", at: IsolationLab.agent.executable)))
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
            // The emulated lab offers every control: each one ran and held.
            #expect(result.evidence.contains { $0.hasPrefix("positive control held: ") }, "\(result.id) evidence")
            #expect(!result.evidence.contains { $0.hasPrefix("positive control not offered") }, "\(result.id) evidence")
        }
        // The scan covered every address it planned, and says so.
        let scan = try #require(results.first { $0.id == "isolation.dpu-attack-surface" })
        let planned = try #require(scan.measurements.first { $0.name == "addresses_planned" })
        let scanned = try #require(scan.measurements.first { $0.name == "addresses_scanned" })
        #expect(planned.value >= 5 && scanned.value == planned.value && scanned.passed)
        #expect(scan.message.hasPrefix("\(number(scanned.value)) DPU addresses scanned (TCP and UDP 1-65535) and "))
        #expect(scan.message.hasSuffix(" sockets the DPU lists probed: only allowlisted services answer"))
        // The DPU's own view lists the agent on the DPU, next to how the host reached it.
        let listed = try #require(scan.measurements.first { $0.name == "dpu_sockets_listed" })
        #expect(listed.value >= 1)
        #expect(scan.evidence.contains { $0.hasPrefix("  DPU socket tcp ") && $0.contains(":7471 ") && $0.contains("→ host: tcp connect") })
        #expect(scan.measurements.first { $0.name == "udp_ports_swept" }?.value == planned.value * 65535)
    }

    @Test("a scan cancelled before its first address is error, with the addresses planned and none scanned")
    func cancelledScanIsError() throws {
        let cancellation = CancellationFlag()
        cancellation.cancel()
        let outcome = try IsolationLab.with(cancellation: cancellation) { context, _ in try AttackSurface().run(context) }
        #expect(outcome.status == .error)
        #expect(outcome.message.hasPrefix("incomplete: scanned 0 of "), "\(outcome.message)")
        #expect(outcome.message.hasSuffix(": the scan was cancelled"), "\(outcome.message)")
        let planned = try #require(outcome.measurements.first { $0.name == "addresses_planned" })
        let scanned = try #require(outcome.measurements.first { $0.name == "addresses_scanned" })
        #expect(planned.value >= 5 && scanned.value == 0 && !scanned.passed)
    }

    @Test("the lab's DPU firewall counters are read; a counter the firewall lacks is unreadable, named")
    func counterReadings() throws {
        try IsolationLab.with { _, testbed in
            for name in try #require(testbed.topology.firewall).counterNames {
                guard case .packets = CounterReading.read(name, in: testbed) else {
                    Issue.record("\(name) was not read")
                    continue
                }
            }
            let missing = CounterReading.read("no_such_counter", in: testbed)
            guard case .unreadable(let reason) = missing else {
                Issue.record("a missing counter read as \(missing)")
                return
            }
            #expect(reason.contains("has no counter no_such_counter"))
            let control = dropCounterControl("no_such_counter", before: missing, after: missing, counting: "the probes")
            #expect(control.state == .failed("the DPU firewall counter no_such_counter could not be read: \(reason)"))
        }
    }

    @Test("each isolation fault turns exactly its checks red (or error, for a failed positive control)",
          arguments: LabFault.allCases.filter { $0.suite == "isolation" })
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
                                  testbed: TestbedEnvironment(unavailable: "network namespaces cannot be created here"))
        let results = TestRunner(tests: IsolationSuite.tests(for: profile)).run(context: context, observer: RecordingObserver()).results
        #expect(results.count == 5)
        #expect(results.allSatisfy { $0.status == .skipped && $0.message == "network namespaces cannot be created here" })
    }
}
