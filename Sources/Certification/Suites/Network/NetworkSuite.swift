import Probes
import Profiles
import Reports
import Systems
import Testbed

/// The network suite: traffic from the host's PF and from each tenant's VF, through the
/// DPU, to the peer at the far end of the wire, measured against the profile's
/// `network` thresholds. The peer's agent is the far end: a sink for throughput, echo
/// peers for request/response and UDP. Each check measures every path in turn and
/// judges each figure against its threshold.
public enum NetworkSuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        guard let network = profile.network else { return [] }
        var tests: [any CertificationTest] = []
        if let mtu = network.mtu {
            tests += [LinkStateCheck(mtu: mtu, minimumPFSpeedMbps: profile.ports.map(\.speedGbps).min().map { $0 * 1000 }),
                      PathMTUCheck(mtu: mtu)]
        }
        if let minimum = network.minTcpThroughputGbps { tests.append(TCPThroughput(minimum: minimum)) }
        if let maximum = network.maxTcpLatencyP99us { tests.append(TCPLatency(maximumP99: maximum)) }
        if let rate = network.minUdpThroughputGbps { tests.append(UDPLoss(rate: rate)) }
        if let spread = network.maxVfThroughputSpreadPercent { tests.append(VFFairness(maximumSpreadPercent: spread)) }
        return tests
    }

    /// The paths the suite measures: the host's PF, then each tenant's VF, each to the
    /// peer agent's control address on that network (nil when the peer has none there).
    static func paths(_ topology: LabTopology) -> [NetworkPath] {
        [NetworkPath(name: "pf", site: topology.host.site, interface: topology.dataPlane.hostInterface,
                     peerControl: topology.peerControl(on: topology.dataPlane.peerAddresses))]
            + topology.tenants.map { tenant in
                NetworkPath(name: "vf\(tenant.index)", site: tenant.node.site, interface: tenant.interface,
                            peerControl: topology.peerControl(on: tenant.peerAddresses))
            }
    }
}

/// One path of the network suite: where the traffic starts, the netdev it leaves by,
/// and the peer agent it goes to.
struct NetworkPath: Sendable, Hashable, CustomStringConvertible {
    /// `pf`, `vf0`, ...: names the path's measurements and series.
    var name: String
    var site: ProbeSite
    var interface: String
    var peerControl: SocketEndpoint?

    var description: String { "\(name) (\(site))" }

    /// `base` for the PF, `base_vfN` for a VF: one measurement name per path.
    func measurement(_ base: String) -> String { name == "pf" ? base : "\(base)_\(name)" }
}

/// What one path gave: its result, or why it could not be measured.
typealias PathReading<Result: Sendable & Hashable> = (path: NetworkPath, result: Swift.Result<Result, ProbeFailure>)

extension TestbedCheck {
    /// Measures every path in turn with a traffic peer of `peer` on its peer agent.
    func measureEach<Result: Sendable & Hashable>(
        _ paths: [NetworkPath], peer: TrafficPeerKind, on testbed: any Testbed, context: TestContext,
        _ measurement: (SocketEndpoint) -> TrafficMeasurement, _ pick: (TrafficMeasurement.Result) -> Result?
    ) -> [PathReading<Result>] {
        var readings: [PathReading<Result>] = []
        for path in paths {
            if context.isCancelled { break }
            readings.append((path, measure(path, peer: peer, on: testbed, context: context, measurement, pick)))
        }
        return readings
    }

    /// Measures one path with a traffic peer of `peer` on its peer agent.
    func measure<Result: Sendable & Hashable>(
        _ path: NetworkPath, peer: TrafficPeerKind, on testbed: any Testbed, context: TestContext,
        _ measurement: (SocketEndpoint) -> TrafficMeasurement, _ pick: (TrafficMeasurement.Result) -> Result?
    ) -> Swift.Result<Result, ProbeFailure> {
        guard let control = path.peerControl else {
            return .failure(ProbeFailure(probe: "measuring \(path)", error: "the testbed names no peer agent on its network"))
        }
        return reading(path, pick) {
            context.progress("\(path.name): measuring from \(path.site) to the peer at \(control.address)")
            return try testbed.withTrafficPeer(peer, at: control, reachedFrom: path.site) { target in
                try testbed.measure(measurement(target), from: path.site) { rate in
                    context.progress("\(path.name): \(ThroughputResult.format(rate)) Gbit/s")
                }
            }
        }
    }

    /// What `body` measured on `path`, as the kind of result `pick` takes, or why not.
    func reading<Result: Sendable & Hashable>(
        _ path: NetworkPath, _ pick: (TrafficMeasurement.Result) -> Result?, _ body: () throws -> TrafficMeasurement.Result
    ) -> Swift.Result<Result, ProbeFailure> {
        do {
            guard let picked = pick(try body()) else {
                throw ProbeFailure(probe: "measuring \(path)", error: "the measurement answered with another kind of result")
            }
            return .success(picked)
        } catch {
            return .failure(error as? ProbeFailure ?? ProbeFailure(probe: "measuring \(path)", error: "\(error)"))
        }
    }
}

/// The verdict of a network check: every path measured, each figure against its
/// threshold. A path that could not be measured leaves the check `error` (unless a
/// measured path already fails it): an unmeasured path proves nothing.
struct NetworkJudgement {
    /// What was judged besides the measurements (states, not figures).
    var checks: [Check] = []
    var measurements: [MeasuredValue] = []
    var evidence: [String] = []
    var series: [DataSeries] = []
    var failures: [ProbeFailure] = []
    var planned: Int
    /// One short figure per measured path, for the pass message.
    var figures: [String] = []
    var passMessage = ""
    var examinedWhat: String

    /// Gathers `readings`: each measured path goes to `judge`, which records what it
    /// measured and returns its figure; each path that could not be measured is kept as
    /// a failure.
    init<Result>(_ readings: [PathReading<Result>], planned: Int,
                 examinedWhat: String = "paths measured (the PF and each VF to the peer)",
                 judge: (inout NetworkJudgement, NetworkPath, Result) -> String) {
        self.planned = planned
        self.examinedWhat = examinedWhat
        for (path, result) in readings {
            switch result {
            case .success(let value): figures.append(judge(&self, path, value))
            case .failure(let failure): failures.append(failure)
            }
        }
    }

    var measured: Int { figures.count }

    var outcome: TestOutcome {
        let evidence = evidence + failures.map { "not measured: \($0)" }
        let examined = Examined(measured, examinedWhat, as: "paths_measured")
        let shortfalls = measurements.filter { !$0.passed && $0.threshold != nil }
        if shortfalls.isEmpty && checks.allSatisfy(\.holds) && !failures.isEmpty {
            return TestOutcome(status: .error, message: "measured \(measured) of \(planned) paths: "
                               + failures.map(\.description).joined(separator: "; "),
                               measurements: measurements, evidence: evidence, series: series, examined: examined)
        }
        return TestOutcome.judged(checks, measurements: measurements, evidence: evidence, series: series,
                                  examined: examined, passMessage: passMessage)
    }
}

/// The x axis of a per-interval chart: seconds into the measured window.
let intervalAxis = ChartAxis(label: "time into the measurement", unit: "s")
