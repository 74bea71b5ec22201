import Foundation
import ReportTestSupport
import TestGates
import Testing
@testable import Reports

@Suite("JSON report and CTRF")
struct JSONReportTests {
    @Test("report JSON and CTRF validate against their schemas",
          .requires(.pythonValidators, .sharedSchemas),
          arguments: SampleReports.Named.allCases)
    func schemaValidation(_ sample: SampleReports.Named) throws {
        let report = sample.report
        let name = sample.rawValue
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let json = scratch.path("\(name).json")
        let ctrf = scratch.path("\(name).ctrf.json")
        try ReportFormat.json.write(report, to: json)
        try ReportFormat.ctrf.write(report, to: ctrf)
        try ExternalValidation.jsonSchema(json, schema: Paths.reportSchema)
        try ExternalValidation.jsonSchema(ctrf, schema: SharedFiles.ctrfSchema)
    }

    @Test("text survives exactly, control characters included")
    func exactText() throws {
        let report = SampleReports.hostileReport()
        let decoded = try ReportJSON.decode(ReportJSON.encode(report))
        #expect(decoded == report)
        #expect(decoded.results[2].message == SampleReports.hostileText)
    }

    @Test("non-finite measurements are written as strings and fail their thresholds")
    func nonFiniteValues() throws {
        let report = SampleReports.nonFiniteReport()
        let text = String(decoding: try ReportJSON.encode(report), as: UTF8.self)
        #expect(text.contains("\"value\" : \"NaN\""))
        #expect(text.contains("\"value\" : \"Infinity\""))
        let decoded = try ReportJSON.decode(Data(text.utf8))
        let jitter = try #require(decoded.results[2].measurements.first { $0.name == "jitter" })
        #expect(jitter.value.isNaN)
        #expect(!jitter.passed)
    }

    @Test("keys are sorted and timestamps are RFC 3339 UTC")
    func encodingShape() throws {
        let text = String(decoding: try ReportJSON.encode(SampleReports.hardware), as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object.keys.sorted() == ["coverage", "dut", "results", "run", "schemaVersion", "summary"])
        let dutKey = try #require(text.firstRange(of: "\"dut\""))
        let resultsKey = try #require(text.firstRange(of: "\"results\""))
        #expect(dutKey.lowerBound < resultsKey.lowerBound)
        #expect(text.contains("\"startedAt\" : \"2025-01-02T03:04:05.250Z\""))
        #expect(text.contains("\"vendorID\" : \"15b3\""))
        #expect(text.contains("\"verdict\" : \"not-certified\""))
    }

    @Test("CTRF maps error to failed, keeps the raw status and the certification data under extra.dpucert")
    func ctrfMapping() throws {
        let data = try CTRF.render(SampleReports.hardware)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["reportFormat"] as? String == "CTRF")
        let results = try #require(document["results"] as? [String: Any])
        let summary = try #require(results["summary"] as? [String: Any])
        #expect(summary["tests"] as? Int == 7)
        #expect(summary["passed"] as? Int == 4)
        #expect(summary["failed"] as? Int == 2)
        #expect(summary["skipped"] as? Int == 1)
        #expect(summary["start"] as? Int == 1_735_787_045_250)
        #expect(summary["stop"] as? Int == 1_735_787_347_750)
        let summaryExtra = try #require((summary["extra"] as? [String: Any])?["dpucert"] as? [String: Any])
        #expect(summaryExtra["errored"] as? Int == 1)
        #expect(summaryExtra["verdict"] as? String == "not-certified")

        let tests = try #require(results["tests"] as? [[String: Any]])
        let errored = try #require(tests.first { $0["name"] as? String == "storage.seq-read" })
        #expect(errored["status"] as? String == "failed")
        #expect(errored["rawStatus"] as? String == "error")
        #expect(errored["duration"] as? Int == 3000)
        let testExtra = try #require((errored["extra"] as? [String: Any])?["dpucert"] as? [String: Any])
        #expect(testExtra["status"] as? String == "error")
        #expect(testExtra["requirement"] as? String == "storage.seq_read_throughput >= 6000 MiB/s")

        let runExtra = try #require((document["extra"] as? [String: Any])?["dpucert"] as? [String: Any])
        #expect(runExtra["verdict"] as? String == "not-certified")
        #expect((runExtra["dut"] as? [String: Any])?["firmwareVersion"] as? String == "32.41.1000")
    }
}
