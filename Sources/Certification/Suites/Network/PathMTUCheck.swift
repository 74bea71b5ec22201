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
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        var failures: [ProbeFailure] = []
        var figures: [String] = []
        for (path, result) in readings {
            switch result {
            case .success(let run):
                measurements.append(MeasuredValue(name: path.measurement("path_mtu"), value: Double(run.largestCrossing ?? 0),
                                                  unit: "bytes", threshold: Threshold(.equal, Double(mtu))))
                evidence.append(run.description)
                figures.append("\(path.name) \(run.largestCrossing.map(String.init) ?? "none")")
            case .failure(let failure):
                failures.append(failure)
            }
        }
        return NetworkJudgement(measurements: measurements, evidence: evidence, series: [], failures: failures,
                                planned: planned, measured: figures.count,
                                passMessage: "largest packet crossing: " + figures.joined(separator: ", ") + " bytes, the profile's \(mtu)")
    }
}
