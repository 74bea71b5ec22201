import Foundation
import ReportTestSupport
import TestGates
import Testing
@testable import Reports

@Suite("HTML report")
struct HTMLReportTests {
    @Test("an emulated run says so across the top, before anything else")
    func emulatedBanner() throws {
        let html = try HTMLReport.render(SampleReports.emulatedPass)
        let body = try #require(html.range(of: "<body>\n"))
        #expect(html[body.upperBound...].hasPrefix("<div class=\"emulated\" role=\"alert\">EMULATED — NOT A CERTIFICATION</div>"))
        #expect(html.contains("<header class=\"verdict v-emulated-pass\">"))
        #expect(html.contains("<div class=\"verdict-value\">EMULATED PASS</div>"))
    }

    @Test("a hardware run shows its verdict first and no emulation banner")
    func hardwareVerdict() throws {
        let html = try HTMLReport.render(SampleReports.hardware)
        #expect(!html.contains(HTMLReport.emulatedBanner))
        let body = try #require(html.range(of: "<body>\n"))
        #expect(html[body.upperBound...].hasPrefix("<header class=\"verdict v-not-certified\">"))
        #expect(html.contains("7 tests · 4 passed · 1 failed · 1 errored · 1 skipped · run completed"))
    }

    @Test("the page loads nothing from outside itself")
    func selfContained() throws {
        let html = try HTMLReport.render(SampleReports.hardware).lowercased()
        for reference in ["src=", "href=", "url(", "@import", "<link", "<script", "<img", "<iframe", "<object", "<embed"] {
            #expect(!html.contains(reference), "\(reference) found")
        }
    }

    @Test("report text cannot become markup")
    func escaping() throws {
        var results = SampleReports.results
        results[2].message = "<script>alert(\"x\")</script> & <b>bold</b>"
        results[2].evidence = ["</pre><img src=x onerror=alert(1)>"]
        results[2].series[0].name = "<svg onload=alert(1)>"
        var run = SampleReports.run()
        run.host = "<i>host</i>"
        let html = try HTMLReport.render(Report(run: run, dut: SampleReports.dut, results: results))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>"))
        #expect(!html.contains("<i>"))
        #expect(!html.contains("<svg onload"))
        #expect(html.contains("&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"))
        #expect(html.contains("&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;"))
    }

    @Test("control characters are shown, not emitted")
    func controlCharacters() throws {
        let html = try HTMLReport.render(SampleReports.hostileReport())
        #expect(html.contains("\\x1b[31mFAIL"))
        #expect(!html.unicodeScalars.contains { $0.value < 0x20 && $0.value != 0x0A && $0.value != 0x09 })
    }

    @Test("measurements are shown against their thresholds")
    func measurements() throws {
        let html = try HTMLReport.render(SampleReports.hardware)
        #expect(html.contains("<tr><td class=\"mono\">tcp_throughput</td><td class=\"num\">187.4 Gbit/s</td>"
            + "<td class=\"num\">&gt;= 190 Gbit/s</td><td><span class=\"m-fail\">FAIL</span></td></tr>"))
        #expect(html.contains("<td class=\"num\">—</td><td><span class=\"m-info\">info</span></td>"))
    }

    @Test("series become inline SVG charts, one per kind and axes; evidence is collapsible")
    func chartsAndEvidence() throws {
        let html = try HTMLReport.render(SampleReports.hardware)
        // tcp-throughput (line), rdma p50+p99 (one line chart with a legend), storage IOPS (bar)
        #expect(html.ranges(of: "<svg ").count == 3)
        #expect(html.ranges(of: "<polyline ").count == 3)
        #expect(html.ranges(of: "<rect class=\"bar\"").count == 4)
        #expect(html.contains(">Latency by Message size</text>"))
        #expect(html.contains(">Message size (B, log scale)</text>"))
        let withEvidence = SampleReports.results.filter { !$0.evidence.isEmpty }.count
        #expect(html.matches(of: /<details class="evidence">/).count == withEvidence)
    }

    @Test("charts survive degenerate data without breaking the page")
    func degenerateCharts() throws {
        let axis = ChartAxis(label: "x", unit: "u", scale: .log)
        var result = SampleReports.results[0]
        result.series = [
            DataSeries(name: "empty", chart: .line, x: axis, y: ChartAxis(label: "y", unit: "u"), points: []),
            DataSeries(name: "non-positive on log", chart: .bar, x: axis, y: ChartAxis(label: "y", unit: "u", scale: .log),
                       points: [DataPoint(x: 0, y: 1), DataPoint(x: -1, y: 2)]),
            DataSeries(name: "single", chart: .line, x: ChartAxis(label: "x", unit: ""), y: ChartAxis(label: "y", unit: ""),
                       points: [DataPoint(x: 5, y: 5)]),
            DataSeries(name: "extreme", chart: .bar, x: ChartAxis(label: "x", unit: ""), y: ChartAxis(label: "z", unit: ""),
                       points: [DataPoint(x: -1e308, y: 1e308), DataPoint(x: 1e308, y: -1e308), DataPoint(x: .nan, y: 1)]),
        ]
        let html = try HTMLReport.render(Report(run: SampleReports.run(), dut: SampleReports.dut, results: [result]))
        #expect(html.ranges(of: "<svg ").count == 4)
        #expect(html.matches(of: /no plottable points/).count == 2)
        #expect(!html.contains("nan\"") && !html.contains("inf\""))
    }

    @Test("the page is well-formed markup",
          .requires(.xmllint),
          arguments: [SampleReports.Named.hardware, .emulated, .abortedEmpty, .controlCharacters])
    func wellFormed(_ sample: SampleReports.Named) throws {
        let report = sample.report
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path("report.html")
        try ReportFormat.html.write(report, to: path)
        try ExternalValidation.xmllintWellFormed(path)
    }
}
