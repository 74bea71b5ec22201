import Foundation
import Probes
import Profiles
import Reports

/// The isolation suite: a compromised host must not reach the DPU's management plane,
/// route through the DPU, or reach another tenant. Every "blocked" reading is backed by
/// positive controls: the same service answers from where it is allowed, the host's
/// probe path works (an allowlisted service answers), and the DPU firewall counted the
/// refused probes. A reached management service fails the check whatever the controls
/// say; a blocked one with a failed control is `error`.
public enum IsolationSuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        guard profile.isolation != nil else { return [] }
        return [ManagementUnreachable(), AttackSurface(), NoRouteToOOB(), HostChannelClosed(), TenantSeparation()]
    }
}

/// Probes are short: a dropped probe costs its timeout, and probes run side by side.
private let probeTimeout = Duration.milliseconds(700)

/// Checks that need a network to probe skip, with the reason, when there is none.
private protocol IsolationCheck: CertificationTest {}

extension IsolationCheck {
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(120) }

    func skipReason(_ context: TestContext) -> String? {
        context.isolation.topology == nil ? context.isolation.unavailableReason : nil
    }

    func topology(_ context: TestContext) throws -> LabTopology {
        guard let topology = context.isolation.topology else {
            throw PositiveControlFailure(context.isolation.unavailableReason)
        }
        return topology
    }
}

/// Runs probes from a site; an infrastructure failure (namespace gone) is an error.
private func probe(_ requests: [ProbeRequest], from site: ProbeSite) throws -> [ProbeResult] {
    do {
        return try Prober.run(requests, from: site)
    } catch {
        throw PositiveControlFailure("probing from \(site) failed: \(error)")
    }
}

/// The management plane answers from the OOB side: every address, port and echo.
/// Without it, nothing the host cannot reach proves anything.
private func managementAnswersFromOOB(_ topology: LabTopology, tcpOnly: Bool = false) throws -> (failures: [String], evidence: [String]) {
    let management = topology.management
    var requests: [ProbeRequest] = []
    for address in management.dpuAddresses {
        requests += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22) }
        if !tcpOnly {
            requests += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0)) }
            requests.append(.icmpEcho(address))
        }
    }
    let results = try probe(requests, from: topology.oob.site)
    let failures = results.filter { $0.outcome != .open }.map(\.description)
    return (failures, ["positive control, management from the OOB network:"] + results.map { "  " + $0.description })
}

/// An allowlisted data-plane service on the DPU answers the host: its probe path works.
private func allowlistAnswersHost(_ topology: LabTopology) throws -> (reached: Bool, evidence: [String]) {
    let endpoints = topology.dataPlane.allowedEndpoints(.tcp).filter { !$0.address.isLinkLocal }
    guard !endpoints.isEmpty else { return (false, ["positive control: the profile allowlists no TCP service on the DPU"]) }
    let results = try probe(endpoints.map { .tcp($0) }, from: topology.host.site)
    return (results.contains { $0.outcome == .open },
            ["positive control, allowlisted services from the host:"] + results.map { "  " + $0.description })
}

/// Packet count of a DPU firewall counter, nil where the firewall cannot be read.
private func counter(_ name: String, in topology: LabTopology) -> UInt64? {
    (try? topology.firewall.readCounters())?[name]?.packets
}

private func describe(_ results: [ProbeResult]) -> [String] { results.map { "  " + $0.description } }

/// A positive control: whether it held, and what it means when it did not.
private struct Control {
    var holds: Bool
    var failure: String
}

/// The DPU firewall counted refused probes: `counter` rose from `before` to `after`.
/// Where the counters cannot be read (hardware without an agent) the control is
/// recorded as unavailable and does not block a pass.
private func counterRose(_ name: String, from before: UInt64?, to after: UInt64?, what: String,
                         evidence: inout [String]) -> Control {
    guard let before, let after else {
        evidence.append("DPU firewall counters are not readable here; the \(name) control is not available")
        return Control(holds: true, failure: "")
    }
    evidence.append("DPU firewall \(name): \(before) → \(after) packets")
    return Control(holds: after > before, failure: "\(what) never reached the DPU: \(name) stayed at \(before)")
}

/// The isolation verdict rule. A finding (something answered that must not) fails the
/// check whatever the controls say; without findings, a failed positive control makes
/// it `error`, because a blocked probe proves nothing when the thing it aims at is not
/// there or the probe never left; otherwise it passes.
private func conclude(findings: [String], failure: String, controls: [Control], measurements: [MeasuredValue],
                      evidence: [String], passMessage: String) throws -> TestOutcome {
    if !findings.isEmpty {
        return TestOutcome(status: .failed, message: failure + findings.prefix(8).joined(separator: "; "),
                           measurements: measurements, evidence: evidence)
    }
    if let failed = controls.first(where: { !$0.holds }) {
        throw PositiveControlFailure(failed.failure, evidence: evidence)
    }
    return TestOutcome(status: .passed, message: passMessage, measurements: measurements, evidence: evidence)
}

/// The controls every check that probes the management plane shares.
private func managementControls(oob: (failures: [String], evidence: [String]), hostPath: (reached: Bool, evidence: [String])?) -> [Control] {
    var controls = [Control(holds: oob.failures.isEmpty,
                            failure: "the management plane does not answer from the OOB network, so its silence toward the host proves nothing: "
                                + oob.failures.prefix(4).joined(separator: "; "))]
    if let hostPath {
        controls.append(Control(holds: hostPath.reached,
                                failure: "no allowlisted DPU service answers the host, so the host's probe path is unproven"))
    }
    return controls
}

/// `isolation.mgmt-unreachable-from-host`: every management address × port × protocol,
/// ICMP echo and ARP/NDP, from the host and from every tenant: none answers.
struct ManagementUnreachable: IsolationCheck {
    let id = "isolation.mgmt-unreachable-from-host"
    let title = "The host and tenants cannot reach the DPU management plane"
    let requirement = "isolation.management: ipv4, ipv6, tcpPorts, udpPorts"

    func run(_ context: TestContext) throws -> TestOutcome {
        let topology = try topology(context)
        let management = topology.management
        context.progress("positive controls")
        let fromOOB = try managementAnswersFromOOB(topology)
        let hostPath = try allowlistAnswersHost(topology)
        var evidence = fromOOB.evidence + hostPath.evidence

        // Management addresses as the host would aim at them (its routes lead via the
        // DPU), and the DPU's data-plane addresses on the management ports.
        let managementTargets = management.dpuAddresses.filter { !$0.isLinkLocal }
        var requests: [ProbeRequest] = []
        for address in managementTargets {
            requests += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22, timeout: probeTimeout) }
            requests += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0), timeout: probeTimeout) }
            requests.append(.icmpEcho(address, timeout: probeTimeout))
        }
        for address in topology.dataPlane.dpuAddresses {
            requests += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), timeout: probeTimeout) }
            requests += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0), timeout: probeTimeout) }
        }
        let hostLink = topology.dataPlane.hostInterface
        var neighbourRequests: [ProbeRequest] = []
        for address in managementTargets {
            neighbourRequests.append(address.family == .ipv4 ? .arp(address, on: hostLink, timeout: probeTimeout)
                                                              : .ndp(address, on: hostLink, timeout: probeTimeout))
        }
        let hostDrops = counter(topology.firewall.hostDropCounter, in: topology)
        context.progress("probing the management plane from the host")
        let fromHost = try probe(requests + neighbourRequests, from: topology.host.site)
        let hostDropsAfter = counter(topology.firewall.hostDropCounter, in: topology)
        evidence.append("from the host (\(topology.host.site)):")
        evidence += describe(fromHost)
        var tenantResults: [ProbeResult] = []
        for tenant in topology.tenants {
            context.progress("probing the management plane from tenant \(tenant.index)")
            let tenantRequests = managementTargets.flatMap { address in
                management.tcpPorts.map { ProbeRequest.tcp(SocketEndpoint(address, $0), timeout: probeTimeout) }
                    + [ProbeRequest.icmpEcho(address, timeout: probeTimeout)]
            }
            tenantResults += try probe(tenantRequests, from: tenant.node.site)
        }
        evidence.append("from the tenants:")
        evidence += describe(tenantResults)

        // Any answer from a management address is a finding; on the data-plane
        // addresses an open management port is.
        let managementSet = Set(managementTargets.map(\.unscoped))
        let reached = (fromHost + tenantResults).filter { result in
            switch result.request.method {
            case .tcpConnect(let endpoint, _), .udp(let endpoint, _):
                return managementSet.contains(endpoint.address.unscoped) ? result.outcome == .open || result.outcome == .answeredClosed
                                                                        : result.outcome == .open
            case .icmpEcho(let address):
                return managementSet.contains(address.unscoped) && result.outcome != .dropped && result.outcome != .notSent
            case .arp, .ndp:
                return result.outcome == .open
            }
        }
        let measurements = [MeasuredValue(name: "mgmt_probes_answered", value: Double(reached.count), unit: "count",
                                          threshold: Threshold(.equal, 0))]
        let counted = counterRose(topology.firewall.hostDropCounter, from: hostDrops, to: hostDropsAfter,
                                  what: "the host's probes", evidence: &evidence)
        return try conclude(
            findings: reached.map { "from \($0.site): \($0.request.method) → \($0.outcome.rawValue)" },
            failure: "the management plane answered \(reached.count) probe(s) from the host side: ",
            controls: managementControls(oob: fromOOB, hostPath: hostPath) + [counted],
            measurements: measurements, evidence: evidence,
            passMessage: "\(fromHost.count + tenantResults.count) probes from the host and tenants: no answer from the management plane")
    }
}

/// `isolation.dpu-attack-surface`: every TCP port and a UDP probe list on every DPU
/// address the host can see; what answers must be on the allowlist.
struct AttackSurface: IsolationCheck {
    let id = "isolation.dpu-attack-surface"
    let title = "The DPU exposes only allowlisted services to the host"
    let requirement = "isolation.allowlist"

    func run(_ context: TestContext) throws -> TestOutcome {
        let topology = try topology(context)
        let fromOOB = try managementAnswersFromOOB(topology, tcpOnly: true)
        let hostPath = try allowlistAnswersHost(topology)
        var evidence = fromOOB.evidence + hostPath.evidence

        // Every DPU address the host can aim at: its data-plane addresses, link-local
        // neighbours that answer all-nodes echo (other than the peer), and the
        // management addresses through the host's routes.
        let hostLink = topology.dataPlane.hostInterface
        var targets = topology.dataPlane.dpuAddresses
        if let neighbours = try? Prober.discoverLinkNeighbours(on: hostLink, from: topology.host.site) {
            evidence.append(neighbours.description)
            let known = Set((topology.dataPlane.peerAddresses + topology.dataPlane.hostAddresses + targets).map(\.unscoped))
            targets += neighbours.responders.filter { !known.contains($0.unscoped) }
        }
        let managementTargets = topology.management.dpuAddresses.filter { !$0.isLinkLocal }
        targets += managementTargets
        let managementSet = Set(managementTargets.map(\.unscoped))
        let allowed = Set(topology.dataPlane.allowlist.map { "\($0.transport)/\($0.port)" })

        var exposed: [String] = []
        var scanned = 0.0
        let started = ContinuousClock.now
        for (index, target) in targets.enumerated() {
            if context.isCancelled { break }
            context.progress("scanning \(target) (\(index + 1)/\(targets.count)): TCP 1-65535 and the UDP list")
            let scan: PortScanResult
            let udp: [ProbeResult]
            do {
                scan = try Prober.scanTCP(target, from: topology.host.site)
                udp = try Prober.sweepUDP(target, from: topology.host.site, timeout: probeTimeout)
            } catch {
                throw PositiveControlFailure("scanning \(target) from the host failed: \(error)", evidence: evidence)
            }
            scanned += 1
            evidence.append(scan.description)
            evidence += describe(udp.filter { $0.outcome != .dropped })
            let isManagement = managementSet.contains(target.unscoped)
            // A management address must not answer at all; elsewhere only open ports count.
            exposed += scan.open.filter { isManagement || !allowed.contains("tcp/\($0)") }
                .map { "tcp/\($0) on \(target) → open" }
            if isManagement {
                exposed += scan.answeredClosed.map { "tcp/\($0) on \(target) → answered-closed" }
            }
            exposed += udp.filter { result in
                guard case .udp(let endpoint, _) = result.request.method else { return false }
                let answered = result.outcome == .open || (isManagement && result.outcome == .answeredClosed)
                return answered && (isManagement || !allowed.contains("udp/\(endpoint.port)"))
            }.map { "\($0.request.method) → \($0.outcome.rawValue)" }
        }
        let elapsed = (ContinuousClock.now - started)
        let measurements = [
            MeasuredValue(name: "exposed_services", value: Double(exposed.count), unit: "count", threshold: Threshold(.equal, 0)),
            MeasuredValue(name: "addresses_scanned", value: scanned, unit: "count"),
            MeasuredValue(name: "scan_duration", value: (elapsed.seconds * 1000).rounded() / 1000, unit: "s"),
        ]
        return try conclude(
            findings: exposed,
            failure: "the host reaches \(exposed.count) DPU service(s) outside the allowlist "
                + "(\(topology.dataPlane.allowlist.map(\.description).joined(separator: ", "))): ",
            controls: managementControls(oob: fromOOB, hostPath: hostPath),
            measurements: measurements, evidence: evidence,
            passMessage: "\(targets.count) DPU addresses scanned: only allowlisted services answer")
    }
}

/// `isolation.no-route-to-oob`: the host cannot reach the OOB network through the DPU
/// (no forwarding, no NAT, no proxy ARP), over IPv4 and IPv6.
struct NoRouteToOOB: IsolationCheck {
    let id = "isolation.no-route-to-oob"
    let title = "The host cannot route through the DPU into the OOB network"
    let requirement = "isolation.management (the OOB network behind the DPU)"

    func run(_ context: TestContext) throws -> TestOutcome {
        let topology = try topology(context)
        let oobHosts = topology.management.oobHostAddresses.filter { !$0.isLinkLocal }
        let oobControl = topology.agent(.oob)?.control ?? []
        // Positive control: the OOB host is there and serves, seen from the DPU.
        let fromDPU = try probe(oobControl.map { .tcp($0) } + oobHosts.map { .icmpEcho($0) }, from: topology.dpu.site)
        var evidence = ["positive control, the OOB host from the DPU:"] + describe(fromDPU)

        let hostLink = topology.dataPlane.hostInterface
        var requests: [ProbeRequest] = oobControl.filter { !$0.address.isLinkLocal }.map { .tcp($0, timeout: probeTimeout) }
        requests += oobHosts.map { .icmpEcho($0, timeout: probeTimeout) }
        requests += oobHosts.map { address in
            address.family == .ipv4 ? .arp(address, on: hostLink, timeout: probeTimeout) : .ndp(address, on: hostLink, timeout: probeTimeout)
        }
        let forwardDrops = counter(topology.firewall.forwardDropCounter, in: topology)
        let fromHost = try probe(requests, from: topology.host.site)
        let forwardDropsAfter = counter(topology.firewall.forwardDropCounter, in: topology)
        evidence.append("from the host, toward the OOB network via the DPU:")
        evidence += describe(fromHost)
        let reached = fromHost.filter { $0.outcome == .open }
        let measurements = [MeasuredValue(name: "oob_probes_answered", value: Double(reached.count), unit: "count",
                                          threshold: Threshold(.equal, 0))]
        let oobPresent = Control(holds: !fromDPU.isEmpty && fromDPU.allSatisfy { $0.outcome == .open },
                                 failure: "the OOB host does not answer even from the DPU: "
                                     + fromDPU.filter { $0.outcome != .open }.map(\.description).joined(separator: "; "))
        let counted = counterRose(topology.firewall.forwardDropCounter, from: forwardDrops, to: forwardDropsAfter,
                                  what: "the host's packets toward the OOB network", evidence: &evidence)
        return try conclude(
            findings: reached.map { "\($0.request.method) → \($0.outcome.rawValue)" },
            failure: "the host reached the OOB network through the DPU: ",
            controls: [oobPresent, counted], measurements: measurements, evidence: evidence,
            passMessage: "no path from the host into the OOB network (IPv4 and IPv6)")
    }
}

/// `isolation.host-mgmt-channel-closed`: in restricted mode the host↔DPU management
/// channel (BlueField's tmfifo) is down, unaddressed, and serves nothing to the host.
struct HostChannelClosed: IsolationCheck {
    let id = "isolation.host-mgmt-channel-closed"
    let title = "The host-to-DPU management channel is closed"
    let requirement = "isolation.hostManagementChannel.mode: restricted"

    func skipReason(_ context: TestContext) -> String? {
        if context.isolation.topology == nil { return context.isolation.unavailableReason }
        guard let channel = context.profile.isolation?.hostManagementChannel else {
            return "the profile names no host management channel"
        }
        return channel.mode == .restricted ? nil : "the profile allows the host management channel (mode: \(channel.mode.rawValue))"
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let topology = try topology(context)
        let channel = topology.hostChannel
        let fromOOB = try managementAnswersFromOOB(topology, tcpOnly: true)
        var evidence = fromOOB.evidence
        var findings: [String] = []
        if let interface = topology.host.interface(channel.interface) {
            evidence.append("host interface \(interface)")
            if interface.isUp || !interface.addresses.isEmpty {
                findings.append("host \(channel.interface): expected down and without addresses, observed "
                                + "\(interface.isUp ? "up" : "down"), addresses: "
                                + (interface.addresses.isEmpty ? "none" : interface.addresses.map(\.description).joined(separator: ", ")))
            }
        } else {
            evidence.append("host interface \(channel.interface): absent")
        }
        let requests: [ProbeRequest] = channel.dpuAddresses.flatMap { address -> [ProbeRequest] in
            topology.management.tcpPorts.map { ProbeRequest.tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22, timeout: probeTimeout) }
        }
        let fromHost = try probe(requests, from: topology.host.site)
        evidence.append("from the host, management ports on the DPU's channel addresses:")
        evidence += describe(fromHost)
        findings += fromHost.filter { $0.outcome == .open }.map { "\($0.request.method) → open: \($0.detail)" }
        return try conclude(findings: findings, failure: "the management channel is open to the host: ",
                            controls: managementControls(oob: fromOOB, hostPath: nil), measurements: [],
                            evidence: evidence, passMessage: "the management channel is closed to the host")
    }
}

/// `isolation.tenant-separation`: a tenant's VF reaches its own peer but nothing of
/// another tenant, at L2 (ARP/NDP, all-nodes echo) or L3 (echo, TCP).
struct TenantSeparation: IsolationCheck {
    let id = "isolation.tenant-separation"
    let title = "Tenants' VFs cannot reach one another"
    let requirement = "pci.functions[].sriov (VFs as tenant interfaces)"

    func skipReason(_ context: TestContext) -> String? {
        guard let topology = context.isolation.topology else { return context.isolation.unavailableReason }
        return topology.tenants.count < 2 ? "fewer than two tenants in the lab" : nil
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let topology = try topology(context)
        let controlPort = topology.agent(.peer)?.control.first?.port ?? 7471
        var evidence: [String] = []
        var controlFailures: [String] = []
        var findings: [String] = []
        for tenant in topology.tenants {
            context.progress("tenant \(tenant.index)")
            // Positive control: the tenant's own peer answers (L3 and L2).
            let ownPeer = tenant.peerAddresses.filter { !$0.isLinkLocal }
            var requests = ownPeer.map { ProbeRequest.icmpEcho($0) }
            if let first = ownPeer.first { requests.append(.tcp(SocketEndpoint(first, controlPort))) }
            let others = topology.tenants.filter { $0.index != tenant.index }
            for other in others {
                for address in other.addresses where !address.isLinkLocal {
                    requests.append(.icmpEcho(address, timeout: probeTimeout))
                    requests.append(.tcp(SocketEndpoint(address, controlPort), timeout: probeTimeout))
                    requests.append(address.family == .ipv4 ? .arp(address, on: tenant.interface, timeout: probeTimeout)
                                                            : .ndp(address, on: tenant.interface, timeout: probeTimeout))
                }
            }
            let results = try probe(requests, from: tenant.node.site)
            evidence.append("from tenant \(tenant.index) (\(tenant.node.site)):")
            evidence += describe(results)
            let controlCount = ownPeer.count + min(ownPeer.count, 1)
            controlFailures += results.prefix(controlCount).filter { $0.outcome != .open }.map(\.description)
            findings += results.dropFirst(controlCount).filter { $0.outcome == .open || $0.outcome == .answeredClosed }
                .map { "tenant \(tenant.index): \($0.request.method) → \($0.outcome.rawValue)" }
            if let neighbours = try? Prober.discoverLinkNeighbours(on: tenant.interface, from: tenant.node.site) {
                evidence.append(neighbours.description)
                let allowedNeighbours = Set(tenant.peerAddresses.map(\.unscoped))
                findings += neighbours.responders.filter { !allowedNeighbours.contains($0.unscoped) }
                    .map { "tenant \(tenant.index): all-nodes echo answered by \($0)" }
            }
        }
        let measurements = [MeasuredValue(name: "cross_tenant_answers", value: Double(findings.count), unit: "count",
                                          threshold: Threshold(.equal, 0))]
        return try conclude(
            findings: findings, failure: "tenants reach one another: ",
            controls: [Control(holds: controlFailures.isEmpty,
                               failure: "a tenant cannot reach its own peer, so its silence toward other tenants proves nothing: "
                                   + controlFailures.prefix(4).joined(separator: "; "))],
            measurements: measurements, evidence: evidence,
            passMessage: "\(topology.tenants.count) tenants reach their peers and nothing of each other")
    }
}
