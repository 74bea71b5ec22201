import Foundation
import Testing
@testable import Reports

@Suite("Report model")
struct ModelTests {
    // NaN is never equal to itself, so the non-finite sample has its own test.
    @Test("a written report decodes to an equal value",
          arguments: SampleReports.Named.allCases.filter { $0 != .nonFinite })
    func roundTrip(_ sample: SampleReports.Named) throws {
        let report = sample.report
        #expect(try ReportJSON.decode(ReportJSON.encode(report)) == report)
    }

    @Test("timestamps keep whole milliseconds so the round trip is exact")
    func timestampPrecision() throws {
        let precise = Date(timeIntervalSince1970: 1_735_787_045.123_456_789)
        var run = SampleReports.run()
        run.startedAt = precise
        #expect(run.$startedAt.millisecondsSince1970 == 1_735_787_045_123)
        #expect(run.$startedAt.rfc3339 == "2025-01-02T03:04:05.123Z")
        #expect(run.$startedAt.junitTimestamp == "2025-01-02T03:04:05")
        let report = Report(run: run, dut: SampleReports.dut, results: [])
        #expect(try ReportJSON.decode(ReportJSON.encode(report)) == report)
    }

    @Test("RFC 3339 text of instants", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Int64(1_709_164_800_500), "2024-02-29T00:00:00.500Z"),
        (Int64(-62_135_596_800_000), "0001-01-01T00:00:00.000Z"),
        (Int64(253_402_300_799_999), "9999-12-31T23:59:59.999Z"),
    ])
    func rfc3339Text(milliseconds: Int64, text: String) throws {
        let timestamp = UTCTimestamp(millisecondsSince1970: milliseconds)
        #expect(timestamp.rfc3339 == text)
        #expect(CivilTime.parseRFC3339(text) == milliseconds)
    }

    @Test("dates beyond four-digit years are clamped, not crashed on")
    func timestampClamping() {
        #expect(UTCTimestamp(wrappedValue: .distantFuture).rfc3339 == "4001-01-01T00:00:00.000Z")
        #expect(UTCTimestamp(wrappedValue: Date(timeIntervalSince1970: 1e15)).rfc3339 == "9999-12-31T23:59:59.999Z")
        #expect(UTCTimestamp(wrappedValue: Date(timeIntervalSince1970: -1e300)).rfc3339 == "0001-01-01T00:00:00.000Z")
        #expect(UTCTimestamp(wrappedValue: Date(timeIntervalSince1970: .nan)).millisecondsSince1970 == UTCTimestamp.highest)
    }

    @Test("timestamp parsing accepts UTC forms and rejects the rest", arguments: [
        ("2025-01-02T03:04:05Z", Int64?.some(1_735_787_045_000)),
        ("2025-01-02T03:04:05.5Z", 1_735_787_045_500),
        ("2025-01-02T03:04:05.123456789123456789123Z", 1_735_787_045_123),
        ("2025-01-02T03:04:05+00:00", nil),
        ("2025-01-02 03:04:05Z", nil),
        ("2025-13-02T03:04:05Z", nil),
        ("2025-02-29T03:04:05Z", nil),
        ("2025-01-02T24:00:00Z", nil),
        ("2025-01-02T03:04:05.Z", nil),
        ("2025-01-02T03:04:05.1x2Z", nil),
        ("", nil),
    ])
    func timestampParsing(text: String, expected: Int64?) {
        #expect(CivilTime.parseRFC3339(text) == expected)
    }

    @Test("a malformed timestamp in a report is a decoding error naming the value")
    func malformedTimestampDecoding() throws {
        let text = String(decoding: try ReportJSON.encode(SampleReports.hardware), as: UTF8.self)
            .replacingOccurrences(of: "2025-01-02T03:04:05.250Z", with: "yesterday")
        let error = #expect(throws: DecodingError.self) { try ReportJSON.decode(Data(text.utf8)) }
        #expect("\(String(describing: error))".contains("yesterday"))
    }

    @Test("PCI identifiers are fixed-width lower-case hex", arguments: ["15B3", "15b", "15b30", "0x15", "zzzz"])
    func pciIdentifierRejection(text: String) throws {
        let json = Data("[\"\(text)\"]".utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PCIID].self, from: json) }
    }

    @Test("PCI identifiers and class codes encode as lspci prints them")
    func pciIdentifierText() throws {
        let json = try JSONEncoder().encode([PCIID(0x15b3), PCIID(0x0051)])
        #expect(String(decoding: json, as: UTF8.self) == "[\"15b3\",\"0051\"]")
        #expect(PCIClassCode(0x0102_0000).description == "020000")
        #expect(try JSONDecoder().decode([PCIClassCode].self, from: Data("[\"010802\"]".utf8)) == [0x010802])
    }

    @Test("thresholds judge each operator and never pass a non-finite number", arguments: [
        (ThresholdOperator.greaterThanOrEqual, 10.0, 10.0, true),
        (.greaterThanOrEqual, 10, 9.99, false),
        (.greaterThan, 10, 10, false),
        (.lessThanOrEqual, 5, 5, true),
        (.lessThan, 5, 5, false),
        (.equal, 16, 16, true),
        (.equal, 16, 8, false),
        (.lessThan, 5, -.infinity, false),
        (.greaterThan, 0, .nan, false),
        (.lessThan, .infinity, 1, false),
    ])
    func thresholdJudgement(op: ThresholdOperator, limit: Double, measured: Double, met: Bool) {
        #expect(Threshold(op, limit).isMet(by: measured) == met)
        #expect(MeasuredValue(name: "x", value: measured, unit: "", threshold: Threshold(op, limit)).passed == met)
    }

    @Test("a measurement without threshold passes only when it is a number")
    func informationalMeasurement() {
        #expect(MeasuredValue(name: "x", value: 1, unit: "count").passed)
        #expect(!MeasuredValue(name: "x", value: .nan, unit: "count").passed)
    }

    @Test("durations are never negative or non-finite")
    func durationClamping() {
        let make = { (seconds: Double) in
            TestResult(id: "pci.x", suite: "pci", title: "", requirement: "", status: .passed, durationSeconds: seconds)
        }
        #expect(make(-3).durationSeconds == 0)
        #expect(make(.nan).durationSeconds == 0)
        #expect(make(.infinity).durationSeconds == 0)
        #expect(make(1.5).durationSeconds == 1.5)
    }

    @Test("summary counts each status")
    func summaryCounts() {
        let summary = SampleReports.hardware.summary
        #expect(summary.total == 7)
        #expect(summary.passed == 4)
        #expect(summary.failed == 1)
        #expect(summary.errored == 1)
        #expect(summary.skipped == 1)
        #expect(TestStatus.allCases.map(summary.count(of:)) == [4, 1, 1, 1])
        #expect(summary.verdict == .notCertified)
    }

    @Test("suites keep first-appearance order and gather non-adjacent tests")
    func suiteGrouping() {
        let groups = SampleReports.hardware.resultsBySuite
        #expect(groups.map(\.suite) == ["pci", "network", "rdma", "storage", "isolation"])
        #expect(groups[3].results.map(\.id) == ["storage.seq-read", "storage.rand-read-iops"])
    }
}
