import Foundation
import Probes
import Profiles
import Reports
import Synchronization
import Systems
import Testbed

/// `network.vf-fairness`: every VF sends TCP at once, through the DPU to the peer; their
/// throughputs may lie apart by at most the profile's spread, (fastest - slowest) / mean.
/// A DPU that starves one tenant's VF while another's is busy fails here, though each
/// VF alone reaches its minimum.
struct VFFairness: TestbedCheck {
    let id = "network.vf-fairness"
    let title = "VFs sending at once share the DPU's path within the profile's spread"
    let requirement = "network.maxVfThroughputSpreadPercent"
    let maximumSpreadPercent: Double

    func covers(_ profile: Profile) -> [String] { ["network.maxVfThroughputSpreadPercent"] }

    func skipReason(_ context: TestContext) -> String? {
        guard let testbed = context.testbed.available else { return context.testbed.unavailableReason }
        let count = testbed.topology.tenants.count
        return count < 2 ? "the testbed offers \(count) VF\(count == 1 ? "" : "s") (tenants); sharing needs at least 2" : nil
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology).filter { $0.name != "pf" }
        let options = TCPThroughput.options
        // One thread per VF, so that every VF sends at once however many cores there are.
        let results = Mutex<[Int: Swift.Result<ThroughputResult, ProbeFailure>]>([:])
        let group = DispatchGroup()
        for (index, path) in paths.enumerated() {
            group.enter()
            Thread {
                let result: Swift.Result<ThroughputResult, ProbeFailure> = measure(path, peer: .sinkTCP, on: testbed, context: context,
                                                                                  { .tcpThroughput(sink: $0, options) }) {
                    if case .tcpThroughput(let result) = $0 { result } else { nil }
                }
                results.withLock { $0[index] = result }
                group.leave()
            }.start()
        }
        group.wait()
        let readings = results.withLock { measured in
            paths.enumerated().compactMap { index, path in measured[index].map { (path: path, result: $0) } }
        }
        return Self.classify(readings, planned: paths.count, maximumSpreadPercent: maximumSpreadPercent).outcome
    }

    static func classify(_ readings: [PathReading<ThroughputResult>], planned: Int, maximumSpreadPercent: Double) -> NetworkJudgement {
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        var series: [DataSeries] = []
        var failures: [ProbeFailure] = []
        var rates: [(name: String, gbit: Double)] = []
        for (path, result) in readings {
            switch result {
            case .success(let run):
                measurements.append(MeasuredValue(name: "tcp_throughput_shared_\(path.name)", value: rounded(run.gbitPerSecond),
                                                  unit: "Gbit/s"))
                evidence.append(run.description)
                rates.append((path.name, run.gbitPerSecond))
                series.append(DataSeries(name: path.name, chart: .line, x: intervalAxis,
                                         y: ChartAxis(label: "TCP throughput, every VF at once", unit: "Gbit/s"),
                                         points: run.intervals.enumerated().map {
                                             DataPoint(x: Double($0.offset + 1) * run.options.interval.seconds, y: rounded($0.element))
                                         }))
            case .failure(let failure):
                failures.append(failure)
            }
        }
        var passMessage = ""
        if rates.count >= 2, let fastest = rates.map(\.gbit).max(), let slowest = rates.map(\.gbit).min() {
            let mean = rates.map(\.gbit).reduce(0, +) / Double(rates.count)
            let spread = mean > 0 ? (fastest - slowest) / mean * 100 : .infinity
            measurements.append(MeasuredValue(name: "vf_throughput_spread", value: rounded(spread), unit: "%",
                                              threshold: Threshold(.lessThanOrEqual, maximumSpreadPercent)))
            passMessage = rates.map { "\($0.name) \(ThroughputResult.format($0.gbit))" }.joined(separator: ", ")
                + " Gbit/s at once: spread \(number(rounded(spread))) %, at most \(number(maximumSpreadPercent)) %"
        } else if failures.isEmpty {
            failures.append(ProbeFailure(probe: "measuring VFs at once", error: "fewer than two VFs measured: no spread to judge"))
        }
        let options = TCPThroughput.options
        measurements.append(MeasuredValue(name: "streams", value: Double(options.streams), unit: "count"))
        measurements.append(MeasuredValue(name: "duration_s", value: options.duration.seconds, unit: "s"))
        return NetworkJudgement(measurements: measurements, evidence: evidence, series: series, failures: failures,
                                planned: planned, measured: rates.count, passMessage: passMessage,
                                examinedWhat: "VFs measured at once")
    }
}
