import Foundation
import ReportTestSupport
import TestGates
import Testing
@testable import Reports

@Suite("JUnit XML")
struct JUnitXMLTests {
    @Test("times have exactly three decimals, no exponent, never negative", arguments: [
        (0.0, "0.000"), (0.0004, "0.000"), (0.0005, "0.001"), (1e-9, "0.000"), (1.5, "1.500"),
        (1234.5678, "1234.568"), (86_400.0, "86400.000"), (-5, "0.000"), (.nan, "0.000"),
        (.infinity, "0.000"), (1e300, "1000000000000.000"),
    ])
    func secondsText(seconds: Double, text: String) {
        #expect(NumberText.seconds(seconds) == text)
    }

    @Test("every time attribute in a document is plain seconds with three decimals")
    func timeAttributes() throws {
        var report = SampleReports.hardware
        report.results[0].durationSeconds = 1e-7
        report.results[1].durationSeconds = 12_345.678_9
        for dialect in JUnitXML.Dialect.allCases {
            let xml = try JUnitXML.render(report, dialect: dialect)
            let times = xml.matches(of: /time="([^"]*)"/).map { String($0.output.1) }
            #expect(!times.isEmpty)
            for time in times {
                #expect(time.wholeMatch(of: /[0-9]+\.[0-9]{3}/) != nil, "time=\"\(time)\"")
            }
        }
    }

    @Test("one testcase per test id, in the suite named by the id")
    func testcaseLayout() throws {
        let xml = try JUnitXML.render(SampleReports.hardware)
        #expect(xml.ranges(of: "<testcase ").count == SampleReports.results.count)
        for result in SampleReports.results {
            #expect(xml.matches(of: try Regex("<testcase classname=\"dpucert\\.\(result.suite)\" name=\"\(result.id)\"")).count == 1)
        }
        #expect(xml.ranges(of: "<testsuite ").count == 5)
        #expect(xml.contains("<testsuites name=\"dpucert nvidia-bluefield-3\" tests=\"7\" failures=\"1\" errors=\"1\" time=\"106.803\">"))
        #expect(xml.contains("<property name=\"dpucert.verdict\" value=\"not-certified\"/>"))
        #expect(xml.contains("<skipped>profile declares no out-of-band management port</skipped>"))
        #expect(xml.contains("<failure message=\"TCP throughput 187.4 Gbit/s is below the required 190 Gbit/s\" type=\"dpucert.requirement-not-met\">"))
        #expect(xml.contains("tcp_throughput = 187.4 Gbit/s (required &gt;= 190 Gbit/s): FAIL"))
        #expect(xml.contains("<error message=\"block device /dev/nvme0n1 vanished during the test\" type=\"dpucert.test-error\">"))
    }

    @Test("forbidden characters are replaced visibly, never as character references")
    func controlCharacters() throws {
        for dialect in JUnitXML.Dialect.allCases {
            let xml = try JUnitXML.render(SampleReports.hostileReport(), dialect: dialect)
            for scalar in xml.unicodeScalars {
                let value = scalar.value
                let legal = value == 0x09 || value == 0x0A || (0x20..<0x7F).contains(value)
                    || (0xA0...0xD7FF).contains(value) || (0xE000...0xFFFD).contains(value) || value >= 0x10000
                #expect(legal, "U+\(String(value, radix: 16)) left in \(dialect) output")
            }
            for visible in ["\\x1b[31mFAIL", "\\x07", "\\x0b", "\\x00", "\\x0c", "\\ufffe", "\\uffff", "\\x7f", "\\x9b", "a\u{FFFD}"] {
                #expect(xml.contains(visible), "\(visible) missing in \(dialect) output")
            }
            #expect(xml.contains("&lt;tag attr=\"v\"&gt; &amp; 'q' ]]&gt;"))
            #expect(xml.matches(of: /&#(x0*1[bB]|0*27|0*7|x0*7|0*11|x0*[bB]|0*0|x0*0);/).isEmpty)
        }
    }

    @Test("a 1 MiB message and 1 MiB evidence survive whole; the message attribute stays short")
    func hugeOutput() throws {
        let xml = try JUnitXML.render(SampleReports.hugeReport())
        // Plain substring searches only: a periodic megabyte makes naive matching quadratic.
        let failureStart = try #require(xml.range(of: "<failure message=\""))
        let attributeEnd = try #require(xml[failureStart.upperBound...].firstIndex(of: "\""))
        let attribute = xml[failureStart.upperBound..<attributeEnd]
        #expect(attribute.count == JUnitXML.messageAttributeLimit + 2)
        #expect(attribute.hasSuffix("m …"))
        #expect(xml.ranges(of: "0123456789abcdef").count == 2 * 65_536)
        #expect(xml.contains("0123456789abcdef\\x1b"))
        #expect(xml.utf8.count > 3 * 1_048_576)
    }

    @Test("an empty run is still a valid document")
    func emptyRun() throws {
        let report = Report(run: SampleReports.run(status: .aborted), dut: DUT(functions: []), results: [])
        let xml = try JUnitXML.render(report)
        #expect(xml.contains("<testsuites name=\"dpucert nvidia-bluefield-3\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"0.000\">"))
        #expect(!xml.contains("<testsuite "))
    }

    @Test("documents validate against the JUnit schemas and parse with the same counts in Python",
          .requires(.xmllint, .pythonValidators, .sharedSchemas),
          arguments: SampleReports.Named.allCases)
    func externalValidation(_ sample: SampleReports.Named) throws {
        try validate(sample.report, name: sample.rawValue)
    }

    /// Standard dialect: junit-10 + junit-4; Ant dialect: windyroad + junit-10. Both parsed by
    /// junitparser and xunitparser with the report's counts.
    private func validate(_ report: Report, name: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let (tests, failures, errors, skipped) = SampleReports.counts(report)

        let standard = scratch.path("\(name).junit.xml")
        try ReportFormat.junit.write(report, to: standard)
        try ExternalValidation.xmllintSchema(standard, schema: SharedFiles.junit10XSD)
        try ExternalValidation.xmllintSchema(standard, schema: SharedFiles.junit4XSD)
        try ExternalValidation.pythonJUnit(standard, tests: tests, failures: failures, errors: errors, skipped: skipped)

        let ant = scratch.path("\(name).ant.junit.xml")
        try AtomicFile.write(Data(JUnitXML.render(report, dialect: .ant).utf8), to: ant)
        try ExternalValidation.xmllintSchema(ant, schema: SharedFiles.antXSD)
        try ExternalValidation.xmllintSchema(ant, schema: SharedFiles.junit10XSD)
        try ExternalValidation.pythonJUnit(ant, tests: tests, failures: failures, errors: errors, skipped: skipped)
    }
}
