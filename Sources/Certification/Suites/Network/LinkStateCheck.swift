import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `network.link-state`: the netdev of the PF and of each VF, read where it lives: up,
/// with carrier, at the profile's MTU, and (the PF, where its driver reports a speed)
/// at least as fast as the card's slowest port.
struct LinkStateCheck: TestbedCheck {
    let id = "network.link-state"
    let title = "The PF's and every VF's netdev is up with carrier, at the profile's MTU and port speed"
    let requirement = "network.mtu"
    let mtu: Int
    let minimumPFSpeedMbps: Int?

    func covers(_ profile: Profile) -> [String] { ["network.mtu"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let paths = NetworkSuite.paths(testbed.topology)
        var readings: [PathReading<LinkState>] = []
        for path in paths where !context.isCancelled {
            readings.append((path, reading(path, { if case .linkState(let state) = $0 { state } else { nil } }) {
                try testbed.measure(.linkState(interface: path.interface), from: path.site)
            }))
        }
        return Self.classify(readings, planned: paths.count, mtu: mtu, minimumPFSpeedMbps: minimumPFSpeedMbps).outcome
    }

    static func classify(_ readings: [PathReading<LinkState>], planned: Int, mtu: Int, minimumPFSpeedMbps: Int?) -> NetworkJudgement {
        var judgement = NetworkJudgement(readings, planned: planned, examinedWhat: "netdevs read (the PF and each VF)") { judgement, path, link in
            judgement.evidence.append(link.description)
            let figure = "\(path.name) \(path.interface)"
            guard link.exists else {
                judgement.checks.append(Check("\(path.name) netdev \(path.interface)", expected: "present", observed: "none at \(path.site)",
                                              holds: false))
                return figure
            }
            judgement.checks.append(Check(figure, expected: "up with carrier",
                                          observed: "\(link.isUp ? "up" : "down"), \(link.hasCarrier ? "carrier" : "no carrier")",
                                          holds: link.isUp && link.hasCarrier))
            if let observed = link.mtu {
                judgement.measurements.append(MeasuredValue(name: path.measurement("link_mtu"), value: Double(observed), unit: "bytes",
                                                            threshold: Threshold(.equal, Double(mtu))))
            }
            if let speed = link.speedMbps {
                let floor = path.name == "pf" ? minimumPFSpeedMbps : nil
                judgement.measurements.append(MeasuredValue(name: path.measurement("link_speed"), value: Double(speed), unit: "Mb/s",
                                                            threshold: floor.map { Threshold(.greaterThanOrEqual, Double($0)) }))
            }
            return figure
        }
        judgement.passMessage = judgement.figures.joined(separator: ", ") + ": up with carrier, MTU \(mtu)"
        return judgement
    }
}
