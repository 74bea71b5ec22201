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
        #expect(results.map(\.id) == ["network.link-state", "network.mtu", "network.tcp-throughput", "network.tcp-latency",
                                        "network.udp-loss", "network.vf-fairness"])
        for result in results {
            #expect(result.status == .passed, "\(result.id): \(result.message)")
            let paths = result.id == "network.vf-fairness" ? 2.0 : 3.0
            #expect(result.measurements.contains { $0.name == "paths_measured" && $0.value == paths }, "\(result.id)")
        }
        let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.id, $0) })
        let throughput = try #require(byID["network.tcp-throughput"])
        #expect(throughput.series.map(\.name) == ["pf", "vf0", "vf1"])
        #expect(throughput.evidence.allSatisfy { $0.hasPrefix("tcp throughput from netns ") })
        let links = try #require(byID["network.link-state"])
        #expect(links.measurements.filter { $0.name.hasPrefix("link_mtu") }.map(\.value) == [9000, 9000, 9000])
        #expect(links.measurements.contains { $0.name == "link_speed" && $0.value == 10000 })
        let mtu = try #require(byID["network.mtu"])
        #expect(mtu.measurements.filter { $0.name.hasPrefix("path_mtu") }.map(\.value) == [9000, 9000, 9000])
        let sharing = try #require(byID["network.vf-fairness"])
        #expect(sharing.series.map(\.name) == ["vf0", "vf1"])
        #expect(sharing.measurements.contains { $0.name == "vf_throughput_spread" })
    }

    @Test("each network fault turns exactly its check red", arguments: LabFault.allCases.filter { $0.suite == "network" })
    func faultBreaksItsCheck(fault: LabFault) throws {
        let results = try Self.run(faults: [fault])
        let broken = results.filter { $0.status != .passed }
        #expect(broken.map(\.id) == fault.breaks, "\(results.map { "\($0.id) \($0.status): \($0.message)" })")
        #expect(broken.allSatisfy { $0.status == .failed && $0.message.contains("observed") })
    }
}
