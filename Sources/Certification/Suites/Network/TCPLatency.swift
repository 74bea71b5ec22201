import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `network.tcp-latency`: TCP request/response round trips (64 bytes each way, one at a
/// time) from the PF and each VF through the DPU to the peer; the p99 of each against the
/// profile's maximum, the whole distribution on record.
struct TCPLatency: TestbedCheck {
    let id = "network.tcp-latency"
    let title = "TCP request/response latency through the DPU stays under the p99 maximum on the PF and every VF"
    let requirement = "network.maxTcpLatencyP99us"
    let maximumP99: Double

    static let options = LatencyOptions()

    func covers(_ profile: Profile) -> [String] { ["network.maxTcpLatencyP99us"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology)
        let readings: [PathReading<LatencyResult>] = measureEach(paths, peer: .echoTCP, on: testbed, context: context,
                                                                  { .tcpLatency(echo: $0, Self.options) }) {
            if case .tcpLatency(let result) = $0 { result } else { nil }
        }
        return Self.classify(readings, planned: paths.count, maximumP99: maximumP99).outcome
    }

    /// The percentile axis of an HdrHistogram plot: 1/(1-p), so p90, p99 and p99.9 are
    /// evenly spaced on a log scale.
    static let percentileAxis = ChartAxis(label: "percentile as 1/(1-p): 10 = p90, 100 = p99, 1000 = p99.9", unit: "", scale: .log)

    static func classify(_ readings: [PathReading<LatencyResult>], planned: Int, maximumP99: Double) -> NetworkJudgement {
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        var series: [DataSeries] = []
        var failures: [ProbeFailure] = []
        var figures: [String] = []
        for (path, result) in readings {
            switch result {
            case .success(let run):
                for point in run.summary {
                    let label = point.percentile == 100 ? "max" : "p" + number(point.percentile).replacingOccurrences(of: ".", with: "")
                    measurements.append(MeasuredValue(name: path.measurement("tcp_rr_latency_\(label)"), value: rounded(point.microseconds),
                                                      unit: "us", threshold: point.percentile == 99 ? Threshold(.lessThanOrEqual, maximumP99) : nil))
                }
                evidence.append(run.description)
                figures.append("\(path.name) p99 \(number(rounded(run.microseconds(at: 99)))) us")
                series.append(DataSeries(name: path.name, chart: .line, x: percentileAxis,
                                         y: ChartAxis(label: "round trip", unit: "us", scale: .log),
                                         points: run.distribution.filter { $0.percentile < 100 }.map {
                                             DataPoint(x: rounded(1 / (1 - $0.percentile / 100)), y: rounded($0.microseconds))
                                         }))
            case .failure(let failure):
                failures.append(failure)
            }
        }
        measurements.append(MeasuredValue(name: "message_size", value: Double(options.messageSize), unit: "bytes"))
        return NetworkJudgement(measurements: measurements, evidence: evidence, series: series, failures: failures,
                                planned: planned, measured: figures.count,
                                passMessage: figures.joined(separator: ", ") + ": every path at most \(number(maximumP99)) us")
    }
}
