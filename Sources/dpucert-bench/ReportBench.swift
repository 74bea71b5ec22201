// The report bench: one report of 10,000 results, rendered and atomically written in
// every format, the JSON read back; one line per step.

import Foundation
import Reports

enum Synthetic {
    static let resultCount = 10_000
    static let suites = ["pci", "network", "storage", "rdma", "isolation"]
}

/// A result as a suite would record it: most pass with a measurement inside its threshold,
/// every tenth fails one, every fiftieth is skipped, every tenth title needs escaping and
/// every hundredth result carries a chart.
func syntheticResult(_ index: Int) -> TestResult {
    let suite = Synthetic.suites[index % Synthetic.suites.count]
    let failing = index % 10 == 3
    let skipped = !failing && index % 50 == 7
    let throughput = MeasuredValue(
        name: "tcp_throughput", value: failing ? 12.5 : 94.1, unit: "Gbit/s",
        threshold: Threshold(.greaterThanOrEqual, 90))
    let latency = MeasuredValue(name: "send_lat_p99", value: 3.2, unit: "us", threshold: Threshold(.lessThanOrEqual, 10))
    let series = index % 100 == 0
        ? [DataSeries(
            name: "throughput by message size", chart: .line,
            x: ChartAxis(label: "message size", unit: "B", scale: .log), y: ChartAxis(label: "throughput", unit: "Gbit/s"),
            points: (6...22).map { DataPoint(x: Double(1 << $0), y: min(94.1, Double($0) * 4.5)) })]
        : []
    return TestResult(
        id: "\(suite).synthetic-check-\(index)",
        suite: suite,
        title: index % 10 == 0 ? "Synthetic check \(index) <with markup & \"quotes\">" : "Synthetic check \(index)",
        requirement: "throughput ≥ 90 Gbit/s and p99 latency ≤ 10 us",
        status: failing ? .failed : skipped ? .skipped : .passed,
        durationSeconds: Double(index % 997) / 1000,
        message: failing ? "tcp_throughput 12.5 Gbit/s is below 90 Gbit/s" : skipped ? "no RDMA device" : "",
        measurements: skipped ? [] : [throughput, latency],
        evidence: ["iperf3 -c 198.18.0.2 -t 10 -J", "lane \(index % 16): 16 GT/s x16, no AER errors"],
        series: series)
}

func syntheticReport() -> Report {
    let started = Date(timeIntervalSince1970: 1_767_225_600)
    let run = RunInfo(
        id: "bench-10000", status: .completed, startedAt: started, finishedAt: started.addingTimeInterval(3600),
        toolVersion: "0.1.0", commandLine: ["dpucert", "run", "--profile", "profiles/emulated-smartnic.yaml"],
        host: "bench-host", kernel: "6.1.0 #1 SMP", mode: .emulated,
        profile: ProfileReference(id: "emulated-smartnic", sha256: String(repeating: "ab", count: 32)))
    let dut = DUT(functions: (0..<8).map { function in
        DUTFunction(address: "0000:03:00.\(function)", vendorID: 0x15b3, deviceID: 0xa2dc, classCode: 0x020000,
                    role: function == 0 ? "pf" : "vf", driver: "mlx5_core")
    })
    let results = (0..<Synthetic.resultCount).map(syntheticResult)
    // One requirement per result, as a profile with that many requirements would give.
    let coverage = results.map { result in
        CoverageEntry(requirement: "\(result.suite).requirement\(result.id.split(separator: "-").last ?? "")",
                      checks: [result.id], outcome: .combining([result.status]))
    }
    return Report(run: run, coverage: coverage, dut: dut, results: results)
}

func milliseconds(_ duration: Duration) -> String {
    String(format: "%8.1f", Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
}

/// Renders, writes and reads back the synthetic report into `directory`.
func reportBench(directory: String) throws {
    let clock = ContinuousClock()

    var total = Duration.zero
    var start = clock.now
    let report = syntheticReport()
    print("built report with \(report.results.count) results in \(milliseconds(clock.now - start)) ms (not counted)")
    // Each format on its own (every render checks the report first): the breakdown.
    print("format      render ms   write ms       bytes   (each render includes a validation)")
    for format in ReportFormat.allCases {
        start = clock.now
        let data = try format.render(report)
        let rendered = clock.now
        try AtomicFile.write(data, to: directory + "/single-" + format.defaultFileName)
        let written = clock.now
        let name = format.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        print("\(name)    \(milliseconds(rendered - start))   \(milliseconds(written - rendered))   \(String(format: "%9d", data.count))")
    }
    // As `dpucert run` writes them, checked once: this is what counts.
    let targets = ReportFormat.allCases.map { (format: $0, path: directory + "/" + $0.defaultFileName) }
    start = clock.now
    try ReportFormat.write(report, to: targets)
    let wroteAll = clock.now - start
    total += wroteAll
    print("all formats, checked once: \(milliseconds(wroteAll)) ms")
    let jsonPath = directory + "/" + ReportFormat.json.defaultFileName
    start = clock.now
    let decoded = try ReportJSON.decode(try Data(contentsOf: URL(fileURLWithPath: jsonPath)))
    let read = clock.now - start
    total += read
    guard decoded.results.count == Synthetic.resultCount else {
        throw BenchError("read back \(decoded.results.count) results, wrote \(Synthetic.resultCount)")
    }
    print("json read   \(milliseconds(read))")
    print("report total: \(milliseconds(total).trimmingCharacters(in: .whitespaces)) ms for \(Synthetic.resultCount) results (target < 1000 ms)")
}
