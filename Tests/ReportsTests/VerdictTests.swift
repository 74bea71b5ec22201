import Foundation
import Testing
@testable import Reports

@Suite("Verdict and exit code")
struct VerdictTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var mode: RunMode
        var statuses: [TestStatus]
        var run: RunStatus
        var verdict: Verdict
        var exitCode: RunExitCode

        init(_ mode: RunMode, _ statuses: [TestStatus], _ run: RunStatus, _ verdict: Verdict, _ exitCode: RunExitCode) {
            self.mode = mode
            self.statuses = statuses
            self.run = run
            self.verdict = verdict
            self.exitCode = exitCode
        }

        var testDescription: String {
            "\(mode.rawValue) \(run.rawValue) [\(statuses.map(\.rawValue).joined(separator: ","))]"
        }
    }

    static let table: [Case] = [
        // Hardware
        Case(.hardware, [.passed, .passed], .completed, .certified, .passed),
        Case(.hardware, [.passed, .skipped], .completed, .inconclusive, .incomplete),
        Case(.hardware, [.skipped, .skipped], .completed, .inconclusive, .incomplete),
        Case(.hardware, [], .completed, .inconclusive, .incomplete),
        Case(.hardware, [.passed, .failed], .completed, .notCertified, .testFailed),
        Case(.hardware, [.passed, .error], .completed, .inconclusive, .incomplete),
        Case(.hardware, [.failed, .error], .completed, .notCertified, .testFailed),
        Case(.hardware, [.passed], .aborted, .inconclusive, .incomplete),
        Case(.hardware, [.passed, .failed], .aborted, .notCertified, .testFailed),
        Case(.hardware, [.error, .skipped], .aborted, .inconclusive, .incomplete),
        // Emulated: never certified
        Case(.emulated, [.passed, .passed], .completed, .emulatedPass, .passed),
        Case(.emulated, [.passed, .skipped], .completed, .inconclusive, .incomplete),
        Case(.emulated, [.skipped], .completed, .inconclusive, .incomplete),
        Case(.emulated, [.passed, .failed], .completed, .emulatedFail, .testFailed),
        Case(.emulated, [.failed, .error], .completed, .emulatedFail, .testFailed),
        Case(.emulated, [.passed, .error], .completed, .inconclusive, .incomplete),
        Case(.emulated, [.passed], .aborted, .inconclusive, .incomplete),
        Case(.emulated, [.failed], .aborted, .emulatedFail, .testFailed),
        // VM testbed: a real kernel on QEMU's devices, never certified either
        Case(.vm, [.passed, .passed], .completed, .emulatedPass, .passed),
        Case(.vm, [.passed, .skipped], .completed, .inconclusive, .incomplete),
        Case(.vm, [.passed, .failed], .completed, .emulatedFail, .testFailed),
        Case(.vm, [.passed, .error], .completed, .inconclusive, .incomplete),
    ]

    @Test("verdict and exit code derivation", arguments: table)
    func derivation(_ row: Case) {
        let results = row.statuses.enumerated().map { index, status in
            TestResult(id: "pci.t\(index)", suite: "pci", title: "", requirement: "", status: status, durationSeconds: 0)
        }
        let coverage = results.map(CoverageEntry.ownRequirement)
        let verdict = Verdict.derive(mode: row.mode, results: results, status: row.run, coverage: coverage, partial: false)
        #expect(verdict == row.verdict)
        #expect(verdict.exitCode == row.exitCode)

        let report = Report(run: SampleReports.run(mode: row.mode, status: row.run), dut: SampleReports.dut, results: results)
        #expect(report.summary.verdict == row.verdict)
        #expect(report.exitCode == row.exitCode)
    }

    @Test("exit code numbers follow the CLI contract")
    func exitCodeNumbers() {
        #expect(RunExitCode.allCases.map(\.rawValue) == [0, 1, 2, 3])
    }

    @Test("certified is reachable only by a completed hardware run of the whole plan in which everything passed and every requirement was examined")
    func certifiedIsNarrow() {
        for mode in RunMode.allCases {
            for run in RunStatus.allCases {
                for partial in [false, true] {
                    for uncovered in [false, true] {
                        for mask in 0..<16 {
                            let statuses = TestStatus.allCases.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
                            let results = statuses.enumerated().map { index, status in
                                TestResult(id: "pci.t\(index)", suite: "pci", title: "", requirement: "", status: status, durationSeconds: 0)
                            }
                            let coverage = results.map(CoverageEntry.ownRequirement)
                                + (uncovered ? [CoverageEntry(requirement: "network.minTcpThroughputGbps", checks: [], outcome: .skipped)] : [])
                            let certified = Verdict.derive(mode: mode, results: results, status: run, coverage: coverage,
                                                           partial: partial) == .certified
                            let expected = mode == .hardware && run == .completed && !partial && !uncovered
                                && !statuses.isEmpty && statuses.allSatisfy { $0 == .passed }
                            #expect(certified == expected, "\(mode) \(run) partial=\(partial) uncovered=\(uncovered) \(statuses)")
                        }
                    }
                }
            }
        }
    }

    @Test("a run whose coverage is empty vouches for nothing")
    func emptyCoverage() {
        let results = [TestResult(id: "pci.t0", suite: "pci", title: "", requirement: "", status: .passed, durationSeconds: 0)]
        #expect(Verdict.derive(mode: .hardware, results: results, status: .completed, coverage: [], partial: false) == .inconclusive)
    }

    struct PartialCase: Sendable, CustomTestStringConvertible {
        var mode: RunMode
        var statuses: [TestStatus]
        var verdict: Verdict
        var exitCode: RunExitCode
        var testDescription: String { "\(mode.rawValue) --only [\(statuses.map(\.rawValue).joined(separator: ","))]" }
    }

    @Test("a partial run is never certified; its exit code speaks for the selected checks", arguments: [
        PartialCase(mode: .hardware, statuses: [.passed, .passed], verdict: .inconclusive, exitCode: .passed),
        PartialCase(mode: .hardware, statuses: [.passed, .failed], verdict: .notCertified, exitCode: .testFailed),
        PartialCase(mode: .hardware, statuses: [.passed, .error], verdict: .inconclusive, exitCode: .incomplete),
        PartialCase(mode: .hardware, statuses: [.passed, .skipped], verdict: .inconclusive, exitCode: .incomplete),
        PartialCase(mode: .emulated, statuses: [.passed], verdict: .emulatedPass, exitCode: .passed),
        PartialCase(mode: .emulated, statuses: [.failed], verdict: .emulatedFail, exitCode: .testFailed),
        PartialCase(mode: .vm, statuses: [.passed], verdict: .emulatedPass, exitCode: .passed),
    ])
    func partialRun(_ row: PartialCase) {
        let results = row.statuses.enumerated().map { index, status in
            TestResult(id: "pci.t\(index)", suite: "pci", title: "", requirement: "", status: status, durationSeconds: 0)
        }
        var run = SampleReports.run(mode: row.mode, status: .partial)
        run.selection = RunSelection(only: ["pci.t*"], leftOut: ["pci.other"])
        let coverage = results.map(CoverageEntry.ownRequirement)
            + [CoverageEntry(requirement: "pci.functions[x].link", checks: ["pci.other"], outcome: .leftOut)]
        let report = Report(run: run, coverage: coverage, dut: SampleReports.dut, results: results)
        #expect(report.summary.verdict == row.verdict)
        #expect(report.exitCode == row.exitCode)
        #expect(throws: Never.self) { try report.validate() }
    }
}

@Suite("Report consistency checks")
struct ValidationTests {
    static func mutated(_ change: (inout Report) -> Void) -> Report {
        var report = SampleReports.hardware
        change(&report)
        return report
    }

    struct Broken: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var report: Report
        init(_ name: String, _ change: (inout Report) -> Void) {
            testDescription = name
            report = ValidationTests.mutated(change)
        }
    }

    static let broken: [Broken] = [
        Broken("summary verdict claims certified") { $0.summary.verdict = .certified },
        Broken("summary count is off") { $0.summary.failed = 0 },
        Broken("duplicate test id") {
            $0.results.append($0.results[0])
            $0.summary = Summary(results: $0.results, mode: .hardware, runStatus: .completed, coverage: $0.coverage, partial: false)
        },
        Broken("id outside its suite") { $0.results[0].id = "network.link-width" },
        Broken("id with whitespace") { $0.results[0].id = "pci.link width" },
        Broken("suite not lower-case") { $0.results[1].suite = "PCI"; $0.results[1].id = "PCI.sriov" },
        Broken("measurement name not snake case") { $0.results[0].measurements[0].name = "Link Width" },
        Broken("measurement passed against its threshold") { $0.results[2].measurements[0].passed = true },
        Broken("passed test with failed measurement") {
            $0.results[0].measurements[0] = MeasuredValue(name: "link_width", value: 8, unit: "lanes",
                                                          threshold: Threshold(.greaterThanOrEqual, 16))
        },
        Broken("profile digest not hex") { $0.run.profile.sha256 = "ABC" },
        Broken("PCI address malformed") { $0.dut.functions[0].address = "03:00.0" },
        Broken("older schema version") { $0.schemaVersion = "0.9.0" },
        Broken("coverage outcome disagrees with its checks") { $0.coverage[0].outcome = .failed },
        Broken("coverage names a check the run does not have") { $0.coverage[1].checks.append("pci.not-a-check") },
        Broken("coverage lists a requirement twice") { $0.coverage.append($0.coverage[0]) },
        Broken("an uncovered requirement claims a pass") {
            $0.coverage.append(CoverageEntry(requirement: "network.minTcpThroughputGbps", checks: [], outcome: .passed))
        },
    ]

    @Test("every writer refuses an inconsistent report", arguments: broken)
    func writersRefuse(_ broken: Broken) throws {
        let report = broken.report
        #expect(throws: ReportError.self, "validate: \(broken.testDescription)") { try report.validate() }
        for format in ReportFormat.allCases {
            #expect(throws: ReportError.self, "\(format): \(broken.testDescription)") { try format.render(report) }
        }
        #expect(throws: ReportError.self) { try JUnitXML.render(report, dialect: .ant) }
    }

    @Test("errors name the field, the expectation and the finding")
    func errorContext() throws {
        let tampered = Self.mutated { $0.summary.verdict = .certified }
        let error = #expect(throws: ReportError.self) { try tampered.validate() }
        #expect(error == .summaryMismatch(field: "verdict", expected: "not-certified", found: "certified"))
        #expect(error?.description == "summary.verdict: results give not-certified, found certified")

        let badAddress = Self.mutated { $0.dut.functions[2].address = "0000:03:00.9" }
        let addressError = #expect(throws: ReportError.self) { try badAddress.validate() }
        #expect(addressError == .invalidField(path: "dut.functions[2].address",
                                              expected: "a PCI address like 0000:03:00.0", found: "0000:03:00.9"))

        let duplicate = Self.mutated {
            $0.results.append($0.results[1])
            $0.summary = Summary(results: $0.results, mode: .hardware, runStatus: .completed, coverage: $0.coverage, partial: false)
        }
        let duplicateError = #expect(throws: ReportError.self) { try duplicate.validate() }
        #expect(duplicateError == .duplicateTestID(id: "pci.sriov-capability", firstIndex: 1, secondIndex: 7))
    }

    @Test("the sample reports are consistent")
    func samplesValidate() throws {
        try SampleReports.hardware.validate()
        try SampleReports.emulatedPass.validate()
        try SampleReports.large(count: 60).validate()
    }
}
