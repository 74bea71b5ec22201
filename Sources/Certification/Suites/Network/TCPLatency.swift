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
        var judgement = NetworkJudgement(readings, planned: planned) { judgement, path, run in
            for point in run.summary {
                let label = point.percentile == 100 ? "max" : "p" + number(point.percentile).replacingOccurrences(of: ".", with: "")
                judgement.measurements.append(MeasuredValue(name: path.measurement("tcp_rr_latency_\(label)"), value: rounded(point.microseconds),
                                                            unit: "us", threshold: point.percentile == 99 ? Threshold(.lessThanOrEqual, maximumP99) : nil))
            }
            judgement.evidence.append(run.description)
            judgement.series.append(DataSeries(name: path.name, chart: .line, x: percentileAxis,
                                               y: ChartAxis(label: "round trip", unit: "us", scale: .log),
                                               points: run.distribution.filter { $0.percentile < 100 }.map {
                                                   DataPoint(x: rounded(1 / (1 - $0.percentile / 100)), y: rounded($0.microseconds))
                                               }))
            return "\(path.name) p99 \(number(rounded(run.microseconds(at: 99)))) us"
        }
        judgement.measurements.append(MeasuredValue(name: "message_size", value: Double(options.messageSize), unit: "bytes"))
        judgement.passMessage = judgement.figures.joined(separator: ", ") + ": every path at most \(number(maximumP99)) us"
        return judgement
    }
}
