import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `network.tcp-throughput`: multi-stream TCP from the PF and each VF through the DPU to
/// the peer, warm-up excluded, each against the profile's minimum.
struct TCPThroughput: TestbedCheck {
    let id = "network.tcp-throughput"
    let title = "TCP throughput through the DPU reaches the minimum on the PF and every VF"
    let requirement = "network.minTcpThroughputGbps"
    let minimum: Double

    static let options = ThroughputOptions()

    func covers(_ profile: Profile) -> [String] { ["network.minTcpThroughputGbps"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology)
        let readings: [PathReading<ThroughputResult>] = measureEach(paths, peer: .sinkTCP, on: testbed, context: context,
                                                                     { .tcpThroughput(sink: $0, Self.options) }) {
            if case .tcpThroughput(let result) = $0 { result } else { nil }
        }
        return Self.classify(readings, planned: paths.count, minimum: minimum).outcome
    }

    static func classify(_ readings: [PathReading<ThroughputResult>], planned: Int, minimum: Double) -> NetworkJudgement {
        var judgement = NetworkJudgement(readings, planned: planned) { judgement, path, run in
            judgement.measurements += [
                MeasuredValue(name: path.measurement("tcp_throughput"), value: rounded(run.gbitPerSecond), unit: "Gbit/s",
                              threshold: Threshold(.greaterThanOrEqual, minimum)),
                MeasuredValue(name: path.measurement("cpu_cores_per_gbit"), value: rounded(run.coresPerGbit), unit: "cores per Gbit/s"),
            ]
            judgement.evidence.append(run.description)
            judgement.series.append(run.intervalSeries(path.name, label: "TCP throughput"))
            return "\(path.name) \(ThroughputResult.format(run.gbitPerSecond)) Gbit/s"
        }
        judgement.measurements += options.recorded
        judgement.passMessage = judgement.figures.joined(separator: ", ") + ": every path at least \(number(minimum)) Gbit/s"
        return judgement
    }
}

extension ThroughputResult {
    /// The run's per-interval rates as a chart series named `name`.
    func intervalSeries(_ name: String, label: String) -> DataSeries {
        let step = options.interval.seconds
        return DataSeries(name: name, chart: .line, x: intervalAxis, y: ChartAxis(label: label, unit: "Gbit/s"),
                          points: intervals.enumerated().map { DataPoint(x: Double($0.offset + 1) * step, y: rounded($0.element)) })
    }
}

extension ThroughputOptions {
    /// How the runs were shaped, as the report records it.
    var recorded: [MeasuredValue] {
        [MeasuredValue(name: "streams", value: Double(streams), unit: "count"),
         MeasuredValue(name: "duration_s", value: duration.seconds, unit: "s")]
    }
}

/// Three decimals: figures, not noise.
func rounded(_ value: Double) -> Double { value.isFinite ? (value * 1000).rounded() / 1000 : value }
