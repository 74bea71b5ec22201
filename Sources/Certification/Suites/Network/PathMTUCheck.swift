import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `network.mtu`: the largest IP packet that crosses from the PF and from each VF
/// through the DPU to the peer and back with the don't-fragment bit set must be the
/// profile's MTU: smaller, and jumbo traffic is dropped somewhere on the way; larger,
/// and the path is not configured as the profile says.
struct PathMTUCheck: TestbedCheck {
    let id = "network.mtu"
    let title = "The largest packet crossing the DPU unfragmented, both ways, is the profile's MTU on the PF and every VF"
    let requirement = "network.mtu"
    let mtu: Int

    func covers(_ profile: Profile) -> [String] { ["network.mtu"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology)
        let options = PathMTUOptions(expected: mtu)
        let readings: [PathReading<PathMTUResult>] = measureEach(paths, peer: .echoUDP, on: testbed, context: context,
                                                                  { .pathMTU(echo: $0, options) }) {
            if case .pathMTU(let result) = $0 { result } else { nil }
        }
        return Self.classify(readings, planned: paths.count, mtu: mtu).outcome
    }

    static func classify(_ readings: [PathReading<PathMTUResult>], planned: Int, mtu: Int) -> NetworkJudgement {
        // A path on which not even the protocol's smallest packet came back is down, or
        // its echo peer is: that says nothing of its MTU.
        let readings = readings.map { path, result in
            (path: path, result: result.flatMap { run -> Swift.Result<PathMTUResult, ProbeFailure> in
                run.largestCrossing == nil
                    ? .failure(ProbeFailure(probe: "path mtu of \(path)", error: "no size came back, so the path itself is down: \(run)"))
                    : .success(run)
            })
        }
        var judgement = NetworkJudgement(readings, planned: planned) { judgement, path, run in
            judgement.measurements.append(MeasuredValue(name: path.measurement("path_mtu"), value: Double(run.largestCrossing ?? 0),
                                                        unit: "bytes", threshold: Threshold(.equal, Double(mtu))))
            judgement.evidence.append(run.description)
            return "\(path.name) \(run.largestCrossing ?? 0)"
        }
        judgement.passMessage = "largest packet crossing: " + judgement.figures.joined(separator: ", ") + " bytes, the profile's \(mtu)"
        return judgement
    }
}
