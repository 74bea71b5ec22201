import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `isolation.mgmt-unreachable-from-host`: every management address × port × protocol,
/// ICMP echo and ARP/NDP, from the host and from every tenant: none answers.
struct ManagementUnreachable: TestbedCheck {
    let id = "isolation.mgmt-unreachable-from-host"
    let title = "The host and tenants cannot reach the DPU management plane"
    let requirement = "isolation.management: ipv4, ipv6, tcpPorts, udpPorts"

    func covers(_ profile: Profile) -> [String] { ["isolation.management"] }

    struct Plan: Sendable, Hashable {
        var oobControl: ProbeBatch
        var hostPathControl: ProbeBatch
        var fromHost: ProbeBatch
        var fromTenants: [ProbeBatch]
        /// The management addresses (unscoped): any answer from them is a finding.
        var managementAddresses: Set<IPAddress>
        /// The DPU firewall counter of refused host packets.
        var hostDropCounter: String?
    }

    struct Readings: Sendable, Hashable {
        var oobControl: [ProbeResult]
        var hostPathControl: [ProbeResult]
        var hostDropsBefore: CounterReading
        var fromHost: [ProbeResult]
        var hostDropsAfter: CounterReading
        /// One entry per tenant probed, in plan order; fewer than planned when the check was cancelled.
        var fromTenants: [[ProbeResult]]
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, testbed: testbed, context: context)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let management = topology.management
        // Management addresses as the host would aim at them (its routes lead via the
        // DPU), and the DPU's data-plane addresses on the management ports.
        let managementTargets = management.dpuAddresses.filter { !$0.isLinkLocal }
        var fromHost: [ProbeRequest] = []
        for address in managementTargets {
            fromHost += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22, timeout: probeTimeout) }
            fromHost += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0), timeout: probeTimeout) }
            fromHost.append(.icmpEcho(address, timeout: probeTimeout))
        }
        for address in topology.dataPlane.dpuAddresses {
            fromHost += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), timeout: probeTimeout) }
            fromHost += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0), timeout: probeTimeout) }
        }
        fromHost += managementTargets.map { neighbourProbe($0, on: topology.dataPlane.hostInterface) }
        let tenantRequests = managementTargets.flatMap { address in
            management.tcpPorts.map { ProbeRequest.tcp(SocketEndpoint(address, $0), timeout: probeTimeout) }
                + [ProbeRequest.icmpEcho(address, timeout: probeTimeout)]
        }
        return Plan(oobControl: ManagementFromOOB.plan(topology), hostPathControl: HostProbePath.plan(topology),
                    fromHost: ProbeBatch(site: topology.host.site, requests: fromHost),
                    fromTenants: topology.tenants.map { ProbeBatch(site: $0.node.site, requests: tenantRequests) },
                    managementAddresses: Set(managementTargets.map(\.unscoped)),
                    hostDropCounter: topology.firewall?.hostDropCounter)
    }

    static func probe(_ plan: Plan, testbed: any Testbed, context: TestContext) throws -> Readings {
        context.progress("positive controls")
        let oobControl = try plan.oobControl.run(on: testbed)
        let hostPathControl = try plan.hostPathControl.run(on: testbed)
        let before = CounterReading.read(plan.hostDropCounter, in: testbed)
        context.progress("probing the management plane from the host")
        let fromHost = try plan.fromHost.run(on: testbed)
        let after = CounterReading.read(plan.hostDropCounter, in: testbed)
        var fromTenants: [[ProbeResult]] = []
        for tenant in plan.fromTenants {
            if context.isCancelled { break }
            context.progress("probing the management plane from \(tenant.site)")
            fromTenants.append(try tenant.run(on: testbed))
        }
        return Readings(oobControl: oobControl, hostPathControl: hostPathControl, hostDropsBefore: before,
                        fromHost: fromHost, hostDropsAfter: after, fromTenants: fromTenants)
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        let tenantResults = readings.fromTenants.flatMap { $0 }
        // Any answer from a management address is a finding; on the data-plane
        // addresses an open management port is.
        let reached = (readings.fromHost + tenantResults).filter { result in
            switch result.request.method {
            case .tcpConnect(let endpoint, _), .udp(let endpoint, _):
                return plan.managementAddresses.contains(endpoint.address.unscoped)
                    ? result.outcome == .open || result.outcome == .answeredClosed
                    : result.outcome == .open
            case .icmpEcho(let address):
                return plan.managementAddresses.contains(address.unscoped) && result.outcome != .dropped && result.outcome != .notSent
            case .arp, .ndp:
                return result.outcome == .open
            }
        }
        var unexamined: [String] = []
        if readings.fromTenants.count < plan.fromTenants.count {
            unexamined.append("probed from \(readings.fromTenants.count) of \(plan.fromTenants.count) tenants: "
                              + "the check was cancelled before \(plan.fromTenants[readings.fromTenants.count].site)")
        }
        let probesSent = readings.fromHost.count + tenantResults.count
        return IsolationJudgement(
            findings: reached.map { "from \($0.site): \($0.request.method) → \($0.outcome.rawValue)" },
            findingsHeading: "the management plane answered \(reached.count) probe(s) from the host side: ",
            controls: [ManagementFromOOB.control(readings.oobControl), HostProbePath.control(readings.hostPathControl),
                       dropCounterControl(plan.hostDropCounter, before: readings.hostDropsBefore, after: readings.hostDropsAfter,
                                          counting: "the host's probes")],
            unexamined: unexamined,
            measurements: [MeasuredValue(name: "mgmt_probes_answered", value: Double(reached.count), unit: "count",
                                         threshold: Threshold(.equal, 0))],
            evidence: ["from the host (\(plan.fromHost.site)):"] + evidenceLines(readings.fromHost)
                + ["from the tenants:"] + evidenceLines(tenantResults),
            examined: Examined(probesSent, "probes sent toward the management plane", as: "probes_sent"),
            passMessage: "\(probesSent) probes from the host and tenants: no answer from the management plane")
    }
}
