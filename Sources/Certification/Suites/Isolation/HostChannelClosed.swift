import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `isolation.host-mgmt-channel-closed`: in restricted mode the host↔DPU management
/// channel (BlueField's tmfifo) is down, unaddressed, and serves nothing to the host.
struct HostChannelClosed: TestbedCheck {
    let id = "isolation.host-mgmt-channel-closed"
    let title = "The host-to-DPU management channel is closed"
    let requirement = "isolation.hostManagementChannel.mode: restricted"

    func covers(_ profile: Profile) -> [String] { ["isolation.hostManagementChannel"] }

    struct Plan: Sendable, Hashable {
        var oobControl: ProbeBatch
        /// The channel's interface name on the host.
        var channel: String
        /// The management ports on the DPU's channel addresses, from the host.
        var fromHost: ProbeBatch
    }

    struct Readings: Sendable, Hashable {
        var oobControl: [ProbeResult]
        /// The host's channel interface as the testbed read it; nil when the host has none.
        var hostInterface: LabInterface?
        var fromHost: [ProbeResult]
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, host: testbed.topology.host, testbed: testbed)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let channel = topology.hostChannel
        let requests = channel.dpuAddresses.flatMap { address -> [ProbeRequest] in
            topology.management.tcpPorts.map { ProbeRequest.tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22, timeout: probeTimeout) }
        }
        return Plan(oobControl: ManagementFromOOB.plan(topology, tcpOnly: true), channel: channel.interface,
                    fromHost: ProbeBatch(site: topology.host.site, requests: requests))
    }

    static func probe(_ plan: Plan, host: LabNode, testbed: any Testbed) throws -> Readings {
        Readings(oobControl: try plan.oobControl.run(on: testbed), hostInterface: host.interface(plan.channel),
                 fromHost: try plan.fromHost.run(on: testbed))
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        var evidence: [String] = []
        var findings: [String] = []
        if let interface = readings.hostInterface {
            evidence.append("host interface \(interface)")
            if interface.isUp || !interface.addresses.isEmpty {
                findings.append("host \(plan.channel): expected down and without addresses, observed "
                                + "\(interface.isUp ? "up" : "down"), addresses: "
                                + (interface.addresses.isEmpty ? "none" : interface.addresses.map(\.description).joined(separator: ", ")))
            }
        } else {
            evidence.append("host interface \(plan.channel): absent")
        }
        evidence.append("from the host, management ports on the DPU's channel addresses:")
        evidence += evidenceLines(readings.fromHost)
        findings += readings.fromHost.filter { $0.outcome == .open }.map { "\($0.request.method) → open: \($0.detail)" }
        return IsolationJudgement(
            findings: findings, findingsHeading: "the management channel is open to the host: ",
            controls: [ManagementFromOOB.control(readings.oobControl)], measurements: [], evidence: evidence,
            examined: Examined(readings.fromHost.count, "probes sent to the management channel", as: "probes_sent"),
            passMessage: "the management channel is closed to the host")
    }
}
