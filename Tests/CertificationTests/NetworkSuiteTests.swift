import Lab
import Reports
import TestGates
import Testing
@testable import Certification

@Suite("Network suite on the emulated lab", .serialized,
       .requires(.networkNamespaces, .built("dpucert", at: IsolationLab.agent.executable)))
struct NetworkSuiteTests {
    static func run(faults: [LabFault]) throws -> [TestResult] {
        try IsolationLab.with(faults: faults) { context, _ in
            TestRunner(tests: NetworkSuite.tests(for: context.profile)).run(context: context, observer: RecordingObserver()).results
        }
    }

    @Test("the clean lab passes every network check on the PF and both VFs, with its figures and charts")
    func cleanLab() throws {
        let results = try Self.run(faults: [])
        #expect(results.map(\.id) == ["network.tcp-throughput", "network.tcp-latency", "network.udp-loss"])
        for result in results {
            #expect(result.status == .passed, "\(result.id): \(result.message)")
            #expect(result.measurements.contains { $0.name == "paths_measured" && $0.value == 3 }, "\(result.id)")
        }
        let throughput = try #require(results.first)
        #expect(throughput.series.map(\.name) == ["pf", "vf0", "vf1"])
        #expect(throughput.evidence.allSatisfy { $0.hasPrefix("tcp throughput from netns ") })
    }

    @Test("each network fault turns exactly its check red", arguments: LabFault.allCases.filter { $0.suite == "network" })
    func faultBreaksItsCheck(fault: LabFault) throws {
        let results = try Self.run(faults: [fault])
        let broken = results.filter { $0.status != .passed }
        #expect(broken.map(\.id) == fault.breaks, "\(results.map { "\($0.id) \($0.status): \($0.message)" })")
        #expect(broken.allSatisfy { $0.status == .failed && $0.message.contains("observed") })
    }
}
