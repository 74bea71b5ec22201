import Foundation
import ReportTestSupport
import Testing
@testable import Reports

/// The committed documents in Fixtures/golden are what the writers must produce for the
/// sample reports, byte for byte. To change them on purpose, run the tests once with
/// DPUCERT_UPDATE_GOLDENS=1 (which rewrites them and fails so it cannot stay on), then
/// review the diff.
@Suite("Golden files")
struct GoldenTests {
    enum Document: String, CaseIterable, Sendable {
        case junit = "report.junit.xml"
        case junitAnt = "report.ant.junit.xml"
        case json = "report.json"
        case ctrf = "report.ctrf.json"
        case html = "report.html"
        case emulatedHTML = "report-emulated.html"

        func render() throws -> Data {
            switch self {
            case .junit: try ReportFormat.junit.render(SampleReports.hardware)
            case .junitAnt: Data(try JUnitXML.render(SampleReports.hardware, dialect: .ant).utf8)
            case .json: try ReportFormat.json.render(SampleReports.hardware)
            case .ctrf: try ReportFormat.ctrf.render(SampleReports.hardware)
            case .html: try ReportFormat.html.render(SampleReports.hardware)
            case .emulatedHTML: try ReportFormat.html.render(SampleReports.emulatedPass)
            }
        }
    }

    static let updating = ProcessInfo.processInfo.environment["DPUCERT_UPDATE_GOLDENS"] == "1"

    @Test("writer output equals the golden file", arguments: Document.allCases)
    func matchesGolden(_ document: Document) throws {
        let path = goldenDirectory.appendingPathComponent(document.rawValue).path
        let rendered = try document.render()
        if Self.updating {
            try AtomicFile.write(rendered, to: path)
            Issue.record("rewrote \(path); unset DPUCERT_UPDATE_GOLDENS and review the diff")
            return
        }
        let golden = try #require(FileManager.default.contents(atPath: path), "missing golden \(path)")
        #expect(rendered == golden, "\(document.rawValue) differs from its golden file; first difference near byte \(firstDifference(rendered, golden))")
    }

    @Test("the golden JSON report decodes to the sample report")
    func goldenDecodes() throws {
        let path = goldenDirectory.appendingPathComponent(Document.json.rawValue).path
        let golden = try #require(FileManager.default.contents(atPath: path))
        #expect(try ReportJSON.decode(golden) == SampleReports.hardware)
    }

    private func firstDifference(_ lhs: Data, _ rhs: Data) -> Int {
        zip(lhs, rhs).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(lhs.count, rhs.count)
    }
}
