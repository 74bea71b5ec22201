import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `isolation.tenant-separation`: a tenant's VF reaches its own peer but nothing of
/// another tenant, at L2 (ARP/NDP, all-nodes echo) or L3 (echo, TCP).
struct TenantSeparation: TestbedCheck {
    let id = "isolation.tenant-separation"
    let title = "Tenants' VFs cannot reach one another"
    let requirement = "pci.functions[].sriov (VFs as tenant interfaces)"

    func covers(_ profile: Profile) -> [String] {
        profile.expectedFunctions.filter { $0.sriov != nil }.map { RequirementPath.function($0, "sriov") }
    }

    func skipReason(_ context: TestContext) -> String? {
        guard let topology = context.testbed.available?.topology else { return context.testbed.unavailableReason }
        return topology.tenants.count < 2 ? "fewer than two tenants in the lab" : nil
    }

    /// What one tenant probes.
    struct TenantPlan: Sendable, Hashable {
        var index: Int
        var site: ProbeSite
        /// The tenant's VF.
        var interface: String
        /// Its own peer (echo to each address, TCP to the first): its positive control.
        var ownPeer: [ProbeRequest]
        /// Every other tenant's addresses: echo, TCP, ARP/NDP.
        var otherTenants: [ProbeRequest]
        /// Who may answer all-nodes echo on the VF: the tenant's own peer (unscoped).
        var allowedNeighbours: Set<IPAddress>
    }

    struct Plan: Sendable, Hashable {
        var tenants: [TenantPlan]
    }

    /// What one tenant's probes found.
    struct TenantReadings: Sendable, Hashable {
        /// The answers to `ownPeer` and `otherTenants`.
        var results: [ProbeResult]
        var neighbours: Result<MulticastEchoResult, ProbeFailure>
    }

    struct Readings: Sendable, Hashable {
        /// In plan order; fewer than planned when the check was cancelled.
        var tenants: [TenantReadings]
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, testbed: testbed, context: context)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let controlPort = topology.agent(.peer)?.control.first?.port ?? 7471
        return Plan(tenants: topology.tenants.map { tenant in
            let ownPeer = tenant.peerAddresses.filter { !$0.isLinkLocal }
            let otherTenants = topology.tenants.filter { $0.index != tenant.index }
                .flatMap { $0.addresses.filter { !$0.isLinkLocal } }
                .flatMap { address in
                    [ProbeRequest.icmpEcho(address, timeout: probeTimeout),
                     ProbeRequest.tcp(SocketEndpoint(address, controlPort), timeout: probeTimeout),
                     neighbourProbe(address, on: tenant.interface)]
                }
            return TenantPlan(index: tenant.index, site: tenant.node.site, interface: tenant.interface,
                              ownPeer: ownPeer.map { ProbeRequest.icmpEcho($0) } + ownPeer.prefix(1).map { .tcp(SocketEndpoint($0, controlPort)) },
                              otherTenants: otherTenants,
                              allowedNeighbours: Set(tenant.peerAddresses.map(\.unscoped)))
        })
    }

    static func probe(_ plan: Plan, testbed: any Testbed, context: TestContext) throws -> Readings {
        var tenants: [TenantReadings] = []
        for tenant in plan.tenants {
            if context.isCancelled { break }
            context.progress("tenant \(tenant.index)")
            let results = try ProbeBatch(site: tenant.site, requests: tenant.ownPeer + tenant.otherTenants).run(on: testbed)
            tenants.append(TenantReadings(results: results,
                                          neighbours: discoverNeighbours(on: tenant.interface, from: tenant.site, in: testbed)))
        }
        return Readings(tenants: tenants)
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        var evidence: [String] = []
        var findings: [String] = []
        var unexamined: [String] = []
        var controls: [Control] = []
        for (tenant, read) in zip(plan.tenants, readings.tenants) {
            evidence.append("from tenant \(tenant.index) (\(tenant.site)):")
            evidence += evidenceLines(read.results)
            let ownPeer = Set(tenant.ownPeer)
            controls.append(peerControl(tenant, read.results.filter { ownPeer.contains($0.request) }))
            findings += read.results.filter { !ownPeer.contains($0.request) && ($0.outcome == .open || $0.outcome == .answeredClosed) }
                .map { "tenant \(tenant.index): \($0.request.method) → \($0.outcome.rawValue)" }
            switch read.neighbours {
            case .success(let neighbours):
                evidence.append(neighbours.description)
                findings += neighbours.responders.filter { !tenant.allowedNeighbours.contains($0.unscoped) }
                    .map { "tenant \(tenant.index): all-nodes echo answered by \($0)" }
            case .failure(let failure):
                unexamined.append("tenant \(tenant.index): \(failure), so who else answers on its link is unknown")
            }
        }
        if readings.tenants.count < plan.tenants.count {
            unexamined.append("probed from \(readings.tenants.count) of \(plan.tenants.count) tenants: "
                              + "the check was cancelled before tenant \(plan.tenants[readings.tenants.count].index)")
        }
        return IsolationJudgement(
            findings: findings, findingsHeading: "tenants reach one another: ",
            controls: controls, unexamined: unexamined,
            measurements: [MeasuredValue(name: "cross_tenant_answers", value: Double(findings.count), unit: "count",
                                         threshold: Threshold(.equal, 0))],
            evidence: evidence,
            examined: Examined(readings.tenants.map(\.results.count).reduce(0, +), "probes sent between tenants", as: "probes_sent"),
            passMessage: "\(plan.tenants.count) tenants reach their peers and nothing of each other")
    }

    /// The control that a tenant reaches its own peer: its data path works, so its
    /// silence toward other tenants means something.
    static func peerControl(_ tenant: TenantPlan, _ results: [ProbeResult]) -> Control {
        .everyProbeAnswered("tenant \(tenant.index) reaches its own peer", results,
                            notOffered: "the topology gives tenant \(tenant.index) no peer address",
                            failure: "tenant \(tenant.index) cannot reach its own peer, so its silence toward other tenants proves nothing: ",
                            heading: nil)
    }
}
