import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `network.udp-loss`: UDP datagrams at the profile's minimum UDP rate from the PF and
/// each VF through the DPU to the peer and back; what comes back must carry that rate,
/// with loss under `maximumLoss`.
struct UDPLoss: TestbedCheck {
    let id = "network.udp-loss"
    let title = "UDP at the minimum rate crosses the DPU without loss on the PF and every VF"
    let requirement = "network.minUdpThroughputGbps"
    let rate: Double

    /// The share of datagrams a path may lose, in percent: a clean path loses none, and
    /// a lost datagram or two in a run is the host's scheduling, not the DPU.
    static let maximumLossPercent = 0.5

    func covers(_ profile: Profile) -> [String] { ["network.minUdpThroughputGbps"] }

    var options: UDPRateOptions { UDPRateOptions(gbitPerSecond: rate) }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology)
        let readings: [PathReading<UDPRateResult>] = measureEach(paths, peer: .echoUDP, on: testbed, context: context,
                                                                  { .udpRate(echo: $0, options) }) {
            if case .udpRate(let result) = $0 { result } else { nil }
        }
        return Self.classify(readings, planned: paths.count, rate: rate).outcome
    }

    static func classify(_ readings: [PathReading<UDPRateResult>], planned: Int, rate: Double) -> NetworkJudgement {
        let minimumDelivered = rate * (1 - maximumLossPercent / 100)
        var judgement = NetworkJudgement(readings, planned: planned) { judgement, path, run in
            judgement.measurements += [
                MeasuredValue(name: path.measurement("udp_throughput"), value: rounded(run.deliveredGbitPerSecond), unit: "Gbit/s",
                              threshold: Threshold(.greaterThanOrEqual, rounded(minimumDelivered))),
                MeasuredValue(name: path.measurement("udp_loss"), value: rounded(run.loss * 100), unit: "%",
                              threshold: Threshold(.lessThanOrEqual, maximumLossPercent)),
                MeasuredValue(name: path.measurement("udp_jitter"), value: rounded(run.jitterMicroseconds), unit: "us"),
            ]
            judgement.evidence.append(run.description)
            return "\(path.name) loss \(number(rounded(run.loss * 100))) %"
        }
        judgement.passMessage = judgement.figures.joined(separator: ", ") + " at \(number(rate)) Gbit/s: every path within "
            + "\(number(maximumLossPercent)) %"
        return judgement
    }
}
