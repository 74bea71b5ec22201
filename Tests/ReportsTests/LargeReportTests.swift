import Foundation
import ReportTestSupport
import TestGates
import Testing
@testable import Reports

@Suite("Large reports")
struct LargeReportTests {
    static let count = 10_000

    @Test("a 10,000-test report is written in every format and read back with the same counts")
    func tenThousandTests() throws {
        let report = SampleReports.large(count: Self.count)
        #expect(report.summary.total == Self.count)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        for format in ReportFormat.allCases {
            try format.write(report, to: scratch.path(format.defaultFileName))
        }

        let json = try #require(FileManager.default.contents(atPath: scratch.path("report.json")))
        let decoded = try ReportJSON.decode(json)
        #expect(decoded == report)
        #expect(decoded.summary == Summary(results: decoded.results, mode: .hardware, runStatus: .completed, coverage: decoded.coverage, partial: false))
        #expect(decoded.summary.total == 10_000)
        #expect(decoded.summary.passed == 5_001)
        #expect(decoded.summary.failed == 1_667)
        #expect(decoded.summary.errored == 1_666)
        #expect(decoded.summary.skipped == 1_666)

        let xml = try String(contentsOfFile: scratch.path("junit.xml"), encoding: .utf8)
        #expect(xml.ranges(of: "<testcase ").count == Self.count)
        #expect(xml.ranges(of: "<failure ").count == 1_667)
        #expect(xml.ranges(of: "<error ").count == 1_666)
        #expect(xml.matches(of: /<skipped>/).count == 1_666)
    }

    @Test("a 10,000-test report passes the external validators",
          .requires(.xmllint, .pythonValidators, .sharedSchemas))
    func tenThousandTestsExternally() throws {
        let report = SampleReports.large(count: Self.count)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        for format in [ReportFormat.junit, .json, .ctrf] {
            try format.write(report, to: scratch.path(format.defaultFileName))
        }
        let junit = scratch.path(ReportFormat.junit.defaultFileName)
        try ExternalValidation.xmllintSchema(junit, schema: SharedFiles.junit10XSD)
        try ExternalValidation.xmllintSchema(junit, schema: SharedFiles.junit4XSD)
        try ExternalValidation.pythonJUnit(junit, tests: 10_000, failures: 1_667, errors: 1_666, skipped: 1_666)
        try ExternalValidation.jsonSchema(scratch.path(ReportFormat.json.defaultFileName), schema: Paths.reportSchema)
        try ExternalValidation.jsonSchema(scratch.path(ReportFormat.ctrf.defaultFileName), schema: SharedFiles.ctrfSchema)
    }
}
