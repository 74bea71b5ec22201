// Reports owns the certification report: the value model that a run produces (run facts,
// device under test, per-test results, summary and verdict), the rules that derive the
// verdict and the process exit code from results, and the writers that turn one `Report`
// into JUnit XML, the JSON report, CTRF JSON and a self-contained HTML page. Every file is
// written through `AtomicFile`, so a reader never sees a half-written report.
// It depends on Foundation only; the runner builds `Report` values and calls the writers.

import Foundation

/// One certification run as recorded on disk: the root of the JSON report contract.
public struct Report: Sendable, Codable, Hashable {
    /// The report schema version this module writes (`schemas/report.schema.json`).
    public static let currentSchemaVersion = "1.1.0"

    public var schemaVersion: String
    public var run: RunInfo
    /// Every requirement of the profile, the checks that examine it and its outcome.
    public var coverage: [CoverageEntry]
    public var dut: DUT
    public var results: [TestResult]
    public var summary: Summary

    /// Builds a report whose summary (counts and verdict) is derived from `results` and
    /// `coverage`.
    public init(run: RunInfo, coverage: [CoverageEntry], dut: DUT, results: [TestResult]) {
        self.schemaVersion = Report.currentSchemaVersion
        self.run = run
        self.coverage = coverage
        self.dut = dut
        self.results = results
        self.summary = Summary(results: results, mode: run.mode, runStatus: run.status, coverage: coverage,
                               partial: run.selection != nil)
    }

    /// The process exit code the CLI returns for this run (DESIGN: exit codes). A partial
    /// run's status speaks for the checks it selected: 0 when all of them passed.
    public var exitCode: RunExitCode {
        guard run.selection != nil, run.status != .aborted, summary.failed == 0 else { return summary.verdict.exitCode }
        return summary.passed > 0 && summary.passed == summary.total ? .passed : .incomplete
    }

    /// Requirements the run did not examine to a conclusion (skipped or errored), each
    /// with its checks: what keeps a clean run from being certified.
    public var unexamined: [CoverageEntry] {
        coverage.filter { $0.outcome == .skipped || $0.outcome == .error }
    }

    /// Suite names in order of first appearance, each with its results in report order.
    public var resultsBySuite: [(suite: String, results: [TestResult])] {
        var order: [String] = []
        var grouped: [String: [TestResult]] = [:]
        for result in results {
            if grouped[result.suite] == nil { order.append(result.suite) }
            grouped[result.suite, default: []].append(result)
        }
        return order.map { ($0, grouped[$0] ?? []) }
    }
}

/// The output formats, so callers can write any subset with one loop.
public enum ReportFormat: String, Sendable, CaseIterable {
    case junit
    case json
    case ctrf
    case html

    /// File name used inside the default output folder (`reports/<timestamp>-<profile>/`).
    public var defaultFileName: String {
        switch self {
        case .junit: "junit.xml"
        case .json: "report.json"
        case .ctrf: "report.ctrf.json"
        case .html: "report.html"
        }
    }

    /// Renders `report` in this format. Throws `ReportError` when the report is inconsistent.
    public func render(_ report: Report) throws -> Data {
        try report.validate()
        return try render(checked: report)
    }

    func render(checked report: Report) throws(ReportError) -> Data {
        switch self {
        case .junit: Data(JUnitXML.render(checked: report).utf8)
        case .json: try ReportJSON.encode(checked: report)
        case .ctrf: try CTRF.render(checked: report)
        case .html: Data(HTMLReport.render(checked: report).utf8)
        }
    }

    /// Renders `report` and writes it atomically to `path`.
    public func write(_ report: Report, to path: String) throws {
        try AtomicFile.write(render(report), to: path)
    }

    /// Writes `report` in several formats, checking it once; each file is written
    /// atomically, in order, and the first failure stops the rest.
    public static func write(_ report: Report, to targets: [(format: ReportFormat, path: String)]) throws {
        try report.validate()
        for target in targets {
            try AtomicFile.write(target.format.render(checked: report), to: target.path)
        }
    }
}
