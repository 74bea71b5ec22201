import Foundation
import Inventory
import Profiles
import Reports
import Testing
@testable import Certification

/// The default profile with the sections named in `dropping` removed (top-level keys).
func profile(dropping sections: Set<String>) throws -> Profile {
    let path = repositoryRoot + "/profiles/emulated-smartnic.yaml"
    var kept: [Substring] = []
    var dropped = false
    for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
        if let first = line.first, !first.isWhitespace, first != "#" {
            dropped = sections.contains(String(line.prefix { $0 != ":" }))
        }
        if !dropped { kept.append(line) }
    }
    return try ProfileLoader.load(yaml: kept.joined(separator: "\n"), file: path)
}

/// Accepts every `sriov_numvfs` write and changes nothing: a host where VFs could be enabled.
struct AcceptingSRIOVControl: SRIOVControl {
    func setNumVFs(_ count: Int, on physicalFunction: PCIAddress) throws(SRIOVControlError) {}
}

func certification(_ profile: Profile, mode: RunMode) -> CertificationRun {
    CertificationRun(profile: profile, profileSHA256: String(repeating: "0", count: 64), mode: mode, faults: [],
                     commandLine: ["dpucert", "run"], toolVersion: "test")
}

@Suite("Requirement coverage and the verdict rule")
struct CoverageTests {
    @Test("a hardware run on a bus without the card: every PCI check is error, the run inconclusive, exit 3")
    func emptyBus() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let bus = FixedBus(functions: [])
        let context = TestContext(profile: profile, pci: PCIEnvironment(
            bus: bus, sriovControl: AcceptingSRIOVControl(), baseline: PCIInventory(source: bus.source, functions: [])))
        let report = certification(profile, mode: .hardware)
            .execute(tests: CertificationRun.plan(for: profile), context: context, observer: RecordingObserver())
        let pci = report.results.filter { $0.suite == "pci" && !$0.id.contains("not-examined") }
        #expect(pci.count == PCISuite.tests(for: profile).filter { $0.suite == "pci" }.count)
        for result in pci {
            #expect(result.status == .error, "\(result.id): \(result.status) \(result.message)")
            #expect(result.message.hasPrefix("nothing to examine: found no PCI functions"), "\(result.id): \(result.message)")
        }
        // Without the card on the bus, an absent management function proves nothing.
        let management = try #require(report.results.first { $0.id == "isolation.host-management-function" })
        #expect(management.status == .error && management.message.hasPrefix("positive control failed"), "\(management.message)")
        #expect(report.summary.verdict == .inconclusive)
        #expect(report.exitCode == .incomplete)
        #expect(throws: Never.self) { try report.validate() }
    }

    @Test("every requirement of every profile is listed with the checks of the plan that examine it",
          arguments: profilePaths)
    func coverageOfEveryProfile(path: String) throws {
        let profile = try ProfileLoader.load(path: path)
        let plan = CertificationRun.plan(for: profile)
        let report = certification(profile, mode: .emulated).report(
            results: [], status: .completed, startedAt: Date(), dut: PCIInventory(source: .live, functions: []))
        #expect(report.coverage.map(\.requirement) == profile.requirementPaths)
        for entry in report.coverage where ["pci.", "isolation.", "network.", "storage."].contains(where: entry.requirement.hasPrefix) {
            #expect(!entry.checks.isEmpty, "\(entry.requirement) has no check")
        }
        // Every check of the plan examines at least one requirement of the profile.
        for check in plan {
            #expect(!check.covers(profile).isEmpty, "\(check.id) covers nothing")
            #expect(Set(check.covers(profile)).isSubset(of: profile.requirementPaths), "\(check.id)")
        }
    }

    @Test("a profile section whose checks cannot run here (RDMA without a device) stays unexamined, and the run is inconclusive")
    func uncoveredSectionIsInconclusive() throws {
        let profile = try profile(dropping: ["isolation", "network", "storage", "firmware"])
        let fixture = try EmulatedPCIFixture(profile: profile)
        let report = certification(profile, mode: .emulated)
            .execute(tests: CertificationRun.plan(for: profile), context: fixture.context, observer: RecordingObserver())
        let rdma = report.results.filter { $0.suite == "rdma" }
        #expect(!rdma.isEmpty && rdma.allSatisfy { $0.status == .skipped && $0.message.contains("no RDMA device was set up") })
        #expect(report.results.filter { $0.suite == "pci" }.allSatisfy { $0.status == .passed })
        #expect(report.unexamined.map(\.requirement) == ["rdma.devices", "rdma.connection", "rdma.minWriteBandwidthGbps",
                                                         "rdma.maxSendLatencyP99us", "rdma.integrity", "rdma.accessEnforcement",
                                                         "rdma.pdIsolation", "rdma.qpRecovery"])
        #expect(report.summary.verdict == .inconclusive)
        #expect(report.exitCode == .incomplete)
        #expect(throws: Never.self) { try report.validate() }
    }

    @Test("with every requirement examined and passed, an emulated run is emulated-pass")
    func fullyCoveredEmulatedRunPasses() throws {
        let profile = try profile(dropping: ["isolation", "network", "storage", "rdma", "firmware"])
        let fixture = try EmulatedPCIFixture(profile: profile)
        let report = certification(profile, mode: .emulated)
            .execute(tests: CertificationRun.plan(for: profile), context: fixture.context, observer: RecordingObserver())
        #expect(report.coverage.allSatisfy { $0.outcome == .passed }, "\(report.coverage.map(\.line))")
        #expect(report.summary.verdict == .emulatedPass)
        #expect(report.exitCode == .passed)
    }

    @Test("--only: the run is partial, lists what it left out, is never certified, and exits 0 when the selection passed")
    func partialRun() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedPCIFixture(profile: profile)
        let selected = TestRunner.select(CertificationRun.plan(for: profile), only: ["pci.link*"])
        let report = certification(profile, mode: .hardware)
            .execute(tests: selected, context: fixture.context, observer: RecordingObserver(), only: ["pci.link*"])
        #expect(report.results.map(\.id) == ["pci.link-speed-width"])
        #expect(report.run.status == .partial)
        #expect(report.run.selection?.leftOut.contains("isolation.dpu-attack-surface") == true)
        #expect(report.run.selection?.leftOut.contains("pci.link-speed-width") == false)
        #expect(report.coverage.first { $0.requirement == "pci.functions[network-pf].link" }?.outcome == .passed)
        #expect(report.coverage.first { $0.requirement == "isolation.allowlist" }?.outcome == .leftOut)
        #expect(report.summary.verdict == .inconclusive)
        #expect(report.exitCode == .passed)
        #expect(throws: Never.self) { try report.validate() }
    }

    @Test("a requirement no check examines is named in its skipped row's id", arguments: [
        ("network.minTcpThroughputGbps", "network.not-examined-min-tcp-throughput-gbps"),
        ("storage.minRandReadIOPS", "storage.not-examined-min-rand-read-iops"),
        ("storage.minSeqReadMiBps", "storage.not-examined-min-seq-read-mi-bps"),
        ("firmware.minVersion", "firmware.not-examined-min-version"),
        ("pci.functions[nvme-snap].msix", "pci.not-examined-functions-nvme-snap-msix"),
    ])
    func notExaminedIDs(requirement: String, id: String) {
        let result = CertificationRun.notExamined(requirement)
        #expect(result.id == id)
        #expect(result.requirement == requirement && result.status == .skipped)
    }
}
