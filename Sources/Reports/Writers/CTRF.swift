import Foundation

/// Common Test Report Format (CTRF) JSON, valid against the CTRF JSON Schema.
///
/// CTRF forbids unknown properties everywhere except `extra`, so all certification data
/// (run facts, DUT, verdict, per-test requirement, measurements, evidence, series) lives
/// under the namespaced key `extra.dpucert`. CTRF has no `error` status: an errored test is
/// `failed` with `rawStatus: "error"` and `extra.dpucert.status: "error"`, and the summary's
/// `extra.dpucert.errored` keeps the count apart.
public enum CTRF {
    /// The CTRF specification version the document claims.
    static let specVersion = "1.0.0"
    /// Namespace of this tool's `extra` entries.
    public static let extraKey = "dpucert"

    /// Renders the report. Throws `ReportError` when the report is inconsistent.
    public static func render(_ report: Report) throws(ReportError) -> Data {
        try report.validate()
        return try render(checked: report)
    }

    /// The same, for a report `validate()` has accepted already.
    static func render(checked report: Report) throws(ReportError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: ReportJSON.nonFinite.positiveInfinity,
            negativeInfinity: ReportJSON.nonFinite.negativeInfinity,
            nan: ReportJSON.nonFinite.nan
        )
        do {
            return try encoder.encode(Document(report)) + Data("\n".utf8)
        } catch {
            throw .encodingFailed(format: "CTRF", detail: "\(error)")
        }
    }

    private struct Namespaced<Value: Encodable>: Encodable {
        var value: Value
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: DynamicKey.self)
            try container.encode(value, forKey: DynamicKey(stringValue: CTRF.extraKey))
        }
    }

    private struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct Document: Encodable {
        let reportFormat = "CTRF"
        let specVersion = CTRF.specVersion
        var runId: String?
        var timestamp: String
        var generatedBy: String
        var results: Results
        var extra: Namespaced<RunExtra>

        init(_ report: Report) {
            let run = report.run
            runId = run.id.isEmpty ? nil : run.id
            timestamp = run.$finishedAt.rfc3339
            generatedBy = "dpucert \(run.toolVersion)"
            results = Results(report)
            extra = Namespaced(value: RunExtra(
                schemaVersion: report.schemaVersion, verdict: report.summary.verdict, run: run,
                coverage: report.coverage, dut: report.dut
            ))
        }
    }

    private struct RunExtra: Encodable {
        var schemaVersion: String
        var verdict: Verdict
        var run: RunInfo
        var coverage: [CoverageEntry]
        var dut: DUT
    }

    private struct Results: Encodable {
        var tool: Tool
        var summary: Summary
        var tests: [Test]
        var environment: Environment

        init(_ report: Report) {
            let run = report.run
            tool = Tool(name: "dpucert", version: run.toolVersion)
            summary = Summary(report)
            tests = report.results.map(Test.init)
            environment = Environment(
                reportName: "dpucert \(run.profile.id) \(run.mode.rawValue) run",
                osRelease: run.kernel,
                testEnvironment: run.mode.rawValue,
                healthy: run.status == .completed && report.summary.errored == 0,
                extra: Namespaced(value: EnvironmentExtra(host: run.host, faults: run.faults))
            )
        }
    }

    private struct Tool: Encodable {
        var name: String
        var version: String
    }

    private struct Summary: Encodable {
        var tests: Int
        var passed: Int
        var failed: Int
        var skipped: Int
        var pending = 0
        var other = 0
        var suites: Int
        var start: Int64
        var stop: Int64
        var duration: Int64
        var extra: Namespaced<SummaryExtra>

        init(_ report: Report) {
            let counts = report.summary
            tests = counts.total
            passed = counts.passed
            failed = counts.failed + counts.errored
            skipped = counts.skipped
            suites = report.resultsBySuite.count
            start = report.run.$startedAt.millisecondsSince1970
            stop = max(start, report.run.$finishedAt.millisecondsSince1970)
            duration = stop - start
            extra = Namespaced(value: SummaryExtra(failed: counts.failed, errored: counts.errored, verdict: counts.verdict))
        }
    }

    private struct SummaryExtra: Encodable {
        var failed: Int
        var errored: Int
        var verdict: Verdict
    }

    private struct Test: Encodable {
        var name: String
        var testId: String
        var status: String
        var rawStatus: String
        var duration: Int64
        var suite: [String]
        var message: String?
        var extra: Namespaced<TestExtra>

        init(_ result: TestResult) {
            name = result.id
            testId = result.id
            status = switch result.status {
            case .passed: "passed"
            case .failed, .error: "failed"
            case .skipped: "skipped"
            }
            rawStatus = result.status.rawValue
            duration = NumberText.milliseconds(result.durationSeconds)
            suite = [result.suite]
            message = result.message.isEmpty ? nil : result.message
            extra = Namespaced(value: TestExtra(
                title: result.title, requirement: result.requirement, status: result.status,
                durationSeconds: result.durationSeconds, measurements: result.measurements,
                evidence: result.evidence, series: result.series
            ))
        }
    }

    private struct TestExtra: Encodable {
        var title: String
        var requirement: String
        var status: TestStatus
        var durationSeconds: Double
        var measurements: [MeasuredValue]
        var evidence: [String]
        var series: [DataSeries]
    }

    private struct Environment: Encodable {
        var reportName: String
        var osRelease: String
        var testEnvironment: String
        var healthy: Bool
        var extra: Namespaced<EnvironmentExtra>
    }

    private struct EnvironmentExtra: Encodable {
        var host: String
        var faults: [String]
    }
}
