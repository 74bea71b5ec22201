import Probes
import Profiles
import Reports
import Testbed

/// `isolation.no-route-to-oob`: the host cannot reach the OOB network through the DPU
/// (no forwarding, no NAT, no proxy ARP), over IPv4 and IPv6.
struct NoRouteToOOB: TestbedCheck {
    let id = "isolation.no-route-to-oob"
    let title = "The host cannot route through the DPU into the OOB network"
    let requirement = "isolation.management (the OOB network behind the DPU)"

    func covers(_ profile: Profile) -> [String] { ["isolation.management"] }

    struct Plan: Sendable, Hashable {
        /// The OOB host's services and addresses seen from the DPU: they are there and serve.
        var oobFromDPU: ProbeBatch
        var fromHost: ProbeBatch
        /// The DPU firewall counter of refused forwarded packets.
        var forwardDropCounter: String?
    }

    struct Readings: Sendable, Hashable {
        var oobFromDPU: [ProbeResult]
        var forwardDropsBefore: CounterReading
        var fromHost: [ProbeResult]
        var forwardDropsAfter: CounterReading
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, testbed: testbed)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let oobHosts = topology.management.oobHostAddresses.filter { !$0.isLinkLocal }
        let oobServices = topology.agent(.oob)?.control ?? []
        let hostLink = topology.dataPlane.hostInterface
        let fromHost: [ProbeRequest] = oobServices.filter { !$0.address.isLinkLocal }.map { .tcp($0, timeout: probeTimeout) }
            + oobHosts.map { .icmpEcho($0, timeout: probeTimeout) }
            + oobHosts.map { neighbourProbe($0, on: hostLink) }
        return Plan(oobFromDPU: ProbeBatch(site: topology.dpu.site,
                                           requests: oobServices.map { .tcp($0) } + oobHosts.map { .icmpEcho($0) }),
                    fromHost: ProbeBatch(site: topology.host.site, requests: fromHost),
                    forwardDropCounter: topology.firewall?.forwardDropCounter)
    }

    static func probe(_ plan: Plan, testbed: any Testbed) throws -> Readings {
        // Without an agent on the DPU this control is not offered (classify says why).
        let oobFromDPU = plan.oobFromDPU.site.unavailableReason == nil ? try plan.oobFromDPU.run(on: testbed) : []
        let before = CounterReading.read(plan.forwardDropCounter, in: testbed)
        let fromHost = try plan.fromHost.run(on: testbed)
        let after = CounterReading.read(plan.forwardDropCounter, in: testbed)
        return Readings(oobFromDPU: oobFromDPU, forwardDropsBefore: before, fromHost: fromHost, forwardDropsAfter: after)
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        let reached = readings.fromHost.filter { $0.outcome == .open }
        return IsolationJudgement(
            findings: reached.map { "\($0.request.method) → \($0.outcome.rawValue)" },
            findingsHeading: "the host reached the OOB network through the DPU: ",
            controls: [oobPresent(readings.oobFromDPU, notOffered: plan.oobFromDPU.site.unavailableReason),
                       dropCounterControl(plan.forwardDropCounter, before: readings.forwardDropsBefore,
                                          after: readings.forwardDropsAfter, counting: "the host's packets toward the OOB network")],
            measurements: [MeasuredValue(name: "oob_probes_answered", value: Double(reached.count), unit: "count",
                                         threshold: Threshold(.equal, 0))],
            evidence: ["from the host, toward the OOB network via the DPU:"] + evidenceLines(readings.fromHost),
            examined: Examined(readings.fromHost.count, "probes sent toward the OOB network", as: "probes_sent"),
            passMessage: "no path from the host into the OOB network (IPv4 and IPv6)")
    }

    /// The control that the OOB host is there and serves, seen from the DPU; not offered
    /// with `notOffered`'s reason when nothing runs on the DPU.
    static func oobPresent(_ results: [ProbeResult], notOffered: String?) -> Control {
        .everyProbeAnswered("the OOB host answers the DPU", results,
                            notOffered: notOffered ?? "the topology names no OOB host service or address",
                            failure: "the OOB host does not answer even from the DPU: ",
                            heading: "positive control, the OOB host from the DPU:")
    }
}
