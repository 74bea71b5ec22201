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
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        var series: [DataSeries] = []
        var failures: [ProbeFailure] = []
        var figures: [String] = []
        for (path, result) in readings {
            switch result {
            case .success(let run):
                measurements.append(MeasuredValue(name: path.measurement("tcp_throughput"), value: rounded(run.gbitPerSecond),
                                                  unit: "Gbit/s", threshold: Threshold(.greaterThanOrEqual, minimum)))
                measurements.append(MeasuredValue(name: path.measurement("cpu_cores_per_gbit"), value: rounded(run.coresPerGbit),
                                                  unit: "cores per Gbit/s"))
                evidence.append(run.description)
                figures.append("\(path.name) \(ThroughputResult.format(run.gbitPerSecond)) Gbit/s")
                let step = run.options.interval.seconds
                series.append(DataSeries(name: path.name, chart: .line, x: intervalAxis,
                                         y: ChartAxis(label: "TCP throughput", unit: "Gbit/s"),
                                         points: run.intervals.enumerated().map { DataPoint(x: Double($0.offset + 1) * step, y: rounded($0.element)) }))
            case .failure(let failure):
                failures.append(failure)
            }
        }
        measurements.append(MeasuredValue(name: "streams", value: Double(options.streams), unit: "count"))
        measurements.append(MeasuredValue(name: "duration_s", value: options.duration.seconds, unit: "s"))
        return NetworkJudgement(measurements: measurements, evidence: evidence, series: series, failures: failures,
                                planned: planned, measured: figures.count,
                                passMessage: figures.joined(separator: ", ") + ": every path at least \(number(minimum)) Gbit/s")
    }
}

/// Three decimals: figures, not noise.
func rounded(_ value: Double) -> Double { value.isFinite ? (value * 1000).rounded() / 1000 : value }
