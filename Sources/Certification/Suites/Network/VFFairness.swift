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
        var rates: [Double] = []
        var judgement = NetworkJudgement(readings, planned: planned, examinedWhat: "VFs measured at once") { judgement, path, run in
            judgement.measurements.append(MeasuredValue(name: "tcp_throughput_shared_\(path.name)", value: rounded(run.gbitPerSecond),
                                                        unit: "Gbit/s"))
            judgement.evidence.append(run.description)
            judgement.series.append(run.intervalSeries(path.name, label: "TCP throughput, every VF at once"))
            rates.append(run.gbitPerSecond)
            return "\(path.name) \(ThroughputResult.format(run.gbitPerSecond))"
        }
        if rates.count >= 2, let fastest = rates.max(), let slowest = rates.min() {
            let mean = rates.reduce(0, +) / Double(rates.count)
            let spread = mean > 0 ? (fastest - slowest) / mean * 100 : .infinity
            judgement.measurements.append(MeasuredValue(name: "vf_throughput_spread", value: rounded(spread), unit: "%",
                                                        threshold: Threshold(.lessThanOrEqual, maximumSpreadPercent)))
            judgement.passMessage = judgement.figures.joined(separator: ", ")
                + " Gbit/s at once: spread \(number(rounded(spread))) %, at most \(number(maximumSpreadPercent)) %"
        } else if judgement.failures.isEmpty {
            judgement.failures.append(ProbeFailure(probe: "measuring VFs at once", error: "fewer than two VFs measured: no spread to judge"))
        }
        judgement.measurements += TCPThroughput.options.recorded
        return judgement
    }
}
