import Agent
import Foundation
import Lab
import Probes
import Systems
import TestGates
import Testbed
import Testing

/// One probe whose outcome a fault changes.
struct FaultSignature: CustomStringConvertible {
    var site: ProbeSite
    var request: ProbeRequest
    var clean: ProbeOutcome
    var faulted: ProbeOutcome

    var description: String { "from \(site): \(request)" }

    static let quick = Duration.milliseconds(500)

    /// The faults a single probe reveals (the network faults show in measurements).
    static let isolationFaults = LabFault.allCases.filter { $0.suite == "isolation" }

    static func of(_ fault: LabFault, in t: LabTopology) -> [FaultSignature] {
        let host = t.host.site, oob = t.oob.site
        switch fault {
        case .firewallOpen:
            return [FaultSignature(site: host, request: .tcp(SocketEndpoint(t.mgmt4, 22), timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .tcp(SocketEndpoint(t.data4, 22), timeout: quick), clean: .dropped, faulted: .answeredClosed)]
        case .managementListensEverywhere:
            return [FaultSignature(site: host, request: .tcp(SocketEndpoint(t.data4, 22), readsBanner: true, timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .tcp(SocketEndpoint(t.data6, 443), timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .udp(SocketEndpoint(t.data4, 623), timeout: quick), clean: .dropped, faulted: .open)]
        case .ipv6Unfiltered:
            return [FaultSignature(site: host, request: .tcp(SocketEndpoint(t.mgmt6, 22), timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .tcp(SocketEndpoint(t.mgmt4, 22), timeout: quick), clean: .dropped, faulted: .dropped)]
        case .dpuForwards:
            let oobHost = t.management.oobHostAddresses
            return [FaultSignature(site: host, request: .tcp(SocketEndpoint(oobHost[0], t.controlPort), timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .icmpEcho(oobHost[1], timeout: quick), clean: .dropped, faulted: .open)]
        case .hostChannelOpen:
            return [FaultSignature(site: host, request: .tcp(SocketEndpoint(t.hostChannel.dpuAddresses[0], 22), timeout: quick), clean: .notSent, faulted: .open)]
        case .tenantLeak:
            let tenant0 = t.tenants[0], tenant1 = t.tenants[1]
            return [FaultSignature(site: tenant0.node.site, request: .icmpEcho(tenant1.addresses[0], timeout: quick), clean: .dropped, faulted: .open),
                    FaultSignature(site: tenant0.node.site, request: .arp(tenant1.addresses[0], on: tenant0.interface, timeout: quick), clean: .dropped, faulted: .open)]
        case .managementDown:
            return [FaultSignature(site: oob, request: .tcp(SocketEndpoint(t.mgmt4, 22), timeout: quick), clean: .open, faulted: .answeredClosed),
                    FaultSignature(site: oob, request: .udp(SocketEndpoint(t.mgmt6, 623), timeout: quick), clean: .open, faulted: .answeredClosed)]
        case .udpServiceExposed:
            return [FaultSignature(site: host, request: .udp(SocketEndpoint(t.data4, LabFault.exposedUDPServicePort), timeout: quick),
                                   clean: .dropped, faulted: .open),
                    FaultSignature(site: host, request: .udp(SocketEndpoint(t.data6, LabFault.exposedUDPServicePort), timeout: quick),
                                   clean: .dropped, faulted: .open)]
        case .udpFirewallHole:
            return [FaultSignature(site: host, request: .udp(SocketEndpoint(t.data4, LabFault.firewallHoleUDPPort), timeout: quick),
                                   clean: .dropped, faulted: .answeredClosed)]
        case .netRateLimit, .netLatency, .netLoss, .netMTUClamp, .netHostMTU, .netVFUnfair:
            return []
        }
    }
}

@Suite("Lab isolation", .serialized, .requires(.networkNamespaces))
struct LabIsolationTests {
    @Test("Clean lab: management only from OOB, allowlist only from host, tenants apart, drops counted")
    func cleanLab() throws {
        try LabSupport.with { lab in
            let t = lab.topology
            let quick = FaultSignature.quick

            // Positive controls from the OOB side: every management address and service answers.
            var fromOOB: [ProbeRequest] = []
            for address in t.management.dpuAddresses {
                fromOOB += [.tcp(SocketEndpoint(address, 22), readsBanner: true), .tcp(SocketEndpoint(address, 443)),
                            .udp(SocketEndpoint(address, 623)), .icmpEcho(address)]
            }
            let oobResults = try probe(fromOOB, from: t.oob.site)
            for result in oobResults { #expect(result.outcome == .open, "\(result)") }
            #expect(oobResults[0].detail.contains("SSH-2.0-"))

            // From the host: nothing of the management plane, on any DPU address; the allowlist on the data plane.
            let before = try lab.readDropCounters()
            var refused: [ProbeRequest] = []
            for address in [t.mgmt4, t.mgmt6] {
                refused += [.tcp(SocketEndpoint(address, 22), timeout: quick), .tcp(SocketEndpoint(address, 443), timeout: quick),
                            .udp(SocketEndpoint(address, 623), timeout: quick), .icmpEcho(address, timeout: quick)]
            }
            for address in t.dataPlane.dpuAddresses {
                refused += [.tcp(SocketEndpoint(address, 22), timeout: quick), .tcp(SocketEndpoint(address, 443), timeout: quick),
                            .udp(SocketEndpoint(address, 623), timeout: quick)]
            }
            let refusedResults = try probe(refused, from: t.host.site)
            for result in refusedResults { #expect(result.outcome == .dropped, "\(result)") }
            let after = try lab.readDropCounters()
            let hostDrops = lab.firewall.hostDropCounter
            #expect((after[hostDrops]?.packets ?? 0) >= (before[hostDrops]?.packets ?? 0) + UInt64(refused.count),
                    "\(hostDrops): \(before[hostDrops]?.description ?? "missing") → \(after[hostDrops]?.description ?? "missing")")

            let control = try #require(t.agent(.dpu)).control
            let allowed = control.map { ProbeRequest.tcp($0) } + t.dataPlane.dpuAddresses.map { .icmpEcho($0) }
            for result in try probe(allowed, from: t.host.site) { #expect(result.outcome == .open, "\(result)") }
            // Allowed but nothing listening: the DPU's stack answers with a reset.
            let idle = try Prober.run(.tcp(SocketEndpoint(t.dataLinkLocal, t.controlPort)), from: t.host.site)
            #expect(idle.outcome == .answeredClosed, "\(idle)")

            // No route through the DPU, no management neighbours on the host link.
            let forwardBefore = after[lab.firewall.forwardDropCounter]?.packets ?? 0
            let hostLink = t.dataPlane.hostInterface
            let oddities = try probe([.tcp(SocketEndpoint(t.management.oobHostAddresses[0], t.controlPort), timeout: quick),
                                      .arp(t.mgmt4, on: hostLink, timeout: quick), .ndp(t.mgmt6, on: hostLink, timeout: quick)],
                                     from: t.host.site)
            for result in oddities { #expect(result.outcome == .dropped, "\(result)") }
            #expect((try lab.readDropCounters()[lab.firewall.forwardDropCounter]?.packets ?? 0) > forwardBefore)
            let neighbours = try Prober.discoverLinkNeighbours(on: hostLink, from: t.host.site)
            #expect(neighbours.responders == [t.dataPlane.peerAddresses[2]], "\(neighbours)")

            // The host channel is closed: interface down, unaddressed, no route to the DPU's end.
            let channel = try #require(t.host.interface(t.hostChannel.interface))
            #expect(!channel.isUp && channel.addresses.isEmpty)

            // Tenants: their peer answers, the DPU and the other tenant do not.
            for tenant in t.tenants {
                let other = t.tenants[(tenant.index + 1) % t.tenants.count]
                let results = try probe([
                    .tcp(SocketEndpoint(tenant.peerAddresses[0], t.controlPort)), .icmpEcho(tenant.peerAddresses[1]),
                    .tcp(SocketEndpoint(t.mgmt4, 22), timeout: quick), .tcp(SocketEndpoint(t.data4, t.controlPort), timeout: quick),
                    .icmpEcho(other.addresses[0], timeout: quick), .ndp(other.addresses[1], on: tenant.interface, timeout: quick),
                ], from: tenant.node.site)
                #expect(results.map(\.outcome) == [.open, .open, .dropped, .dropped, .dropped, .dropped], "\(results)")
            }

            // Every fault's probe shows its clean outcome here.
            let signatures = FaultSignature.isolationFaults.flatMap { FaultSignature.of($0, in: t) }
            for site in Set(signatures.map(\.site)) {
                let here = signatures.filter { $0.site == site }
                for (signature, result) in zip(here, try probe(here.map(\.request), from: site)) {
                    #expect(result.outcome == signature.clean, "\(result)")
                }
            }
        }
    }

    @Test("Each isolation fault changes the probe that reveals it", arguments: FaultSignature.isolationFaults)
    func fault(_ fault: LabFault) throws {
        try LabSupport.with(faults: [fault]) { lab in
            let signatures = FaultSignature.of(fault, in: lab.topology)
            for site in Set(signatures.map(\.site)) {
                let here = signatures.filter { $0.site == site }
                for (signature, result) in zip(here, try probe(here.map(\.request), from: site)) {
                    #expect(result.outcome == signature.faulted, "\(result)")
                }
            }
            if fault == .tenantLeak {
                let t = lab.topology
                let found = try Prober.discoverLinkNeighbours(on: t.tenants[0].interface, from: t.tenants[0].node.site)
                #expect(found.responders.contains(t.tenants[1].addresses[2].scoped(to: t.tenants[0].interface)), "\(found)")
            }
        }
    }

    @Test("The DPU agent's control channel: token checked, counters and echo peers served")
    func agentControl() throws {
        try LabSupport.with(tenants: 0) { lab in
            let t = lab.topology
            let control = try #require(t.agent(.dpu)?.control.first)
            #expect {
                try AgentClient.connect(to: control, from: t.host.site, token: "not-the-lab-token-at-all")
            } throws: { error in
                String(describing: error).contains("authentication failed")
            }
            let dpu = try AgentClient.connect(to: control, from: t.host.site, tokenFile: t.agentTokenFile)
            try dpu.ping()
            let counters = try dpu.counters(family: lab.firewall.location.family, table: lab.firewall.location.table)
            #expect(Set(counters.keys).isSuperset(of: lab.firewall.counterNames))

            // An echo peer on the DPU is outside the allowlist: the host cannot reach it, the DPU itself can.
            let echo = try dpu.startEcho(.tcp, port: 0)
            #expect(try Prober.run(.tcp(echo, timeout: FaultSignature.quick), from: t.host.site).outcome == .dropped)
            #expect(try Prober.run(.tcp(echo), from: t.dpu.site).outcome == .open)
            let listening = try dpu.listeningSockets()
            let ssh = listening.first { $0.transport == .tcp && $0.endpoint == SocketEndpoint(t.mgmt4, 22) }
            #expect(ssh?.owner?.hasPrefix("dpucert") == true, "\(listening)")
            #expect(!listening.contains { $0.endpoint.address == t.data4 && t.management.tcpPorts.contains($0.endpoint.port) })

            // The peer has no firewall: its echo peer is the data path's positive control.
            let peerControl = try #require(t.agent(.peer)?.control.first)
            let peer = try AgentClient.connect(to: peerControl, from: t.host.site, tokenFile: t.agentTokenFile)
            let peerEcho = try peer.startEcho(.udp, port: 5201)
            #expect(peerEcho == SocketEndpoint(peerControl.address, 5201))
            #expect(try Prober.run(.udp(peerEcho), from: t.host.site).outcome == .open)
            peer.close()
            dpu.close()
        }
    }

    @Test("The port scanner agrees with nmap on the DPU's data-plane addresses", .requires(.nmap),
          arguments: [[], [LabFault.managementListensEverywhere]])
    func scannerAgreesWithNmap(faults: [LabFault]) throws {
        try LabSupport.with(faults: faults, tenants: 0) { lab in
            let t = lab.topology
            let expected: [UInt16] = (faults.isEmpty ? [t.controlPort] : [22, 443, t.controlPort]).sorted()
            for address in [t.data4, t.data6] {
                let ours = try Prober.scanTCP(address, from: t.host.site)
                #expect(ours.open == expected, "\(ours)")
                #expect(ours.elapsed < .seconds(6), "\(ours)")
                let nmap = try Nmap.openPorts(address, from: t.host.site)
                #expect(nmap == expected, "nmap found \(nmap)")
            }
        }
    }

    @Test("The UDP sweep agrees with nmap: the exposed service replies, the firewall hole answers port-unreachable",
          .requires(.nmap), arguments: [[], [LabFault.udpServiceExposed, .udpFirewallHole]])
    func udpSweepAgreesWithNmap(faults: [LabFault]) throws {
        try LabSupport.with(faults: faults, tenants: 0) { lab in
            let t = lab.topology
            let replies: [UInt16] = faults.isEmpty ? [] : [LabFault.exposedUDPServicePort]
            let unreachable: [UInt16] = faults.isEmpty ? [] : [LabFault.firewallHoleUDPPort]
            for address in [t.data4, t.data6] {
                let ours = try Prober.sweepUDP(address, from: t.host.site)
                #expect(ours.answers(.reply).map(\.port) == replies, "\(ours)")
                #expect(ours.answers(.portUnreachable).map(\.port) == unreachable, "\(ours)")
                #expect(ours.answers(.otherError).isEmpty && ours.notSent == 0, "\(ours)")
                #expect(ours.elapsed < .seconds(4), "\(ours)")
                let nmap = try Nmap.ports(address, from: t.host.site, scan: "-sU")
                #expect(nmap["open", default: []] == replies, "nmap found \(nmap)")
                #expect(nmap["closed", default: []] == unreachable, "nmap found \(nmap)")
            }
        }
    }
}

/// nmap's scans of all ports, fast timing (a veth loses nothing).
enum Nmap {
    /// The open ports of a SYN scan of every TCP port.
    static func openPorts(_ address: IPAddress, from site: ProbeSite) throws -> [UInt16] {
        try ports(address, from: site, scan: "-sS")["open", default: []]
    }

    /// The ports of a UDP scan of every port, by nmap's state (`open`, `closed`; the
    /// silent majority, `open|filtered`, is not listed port by port).
    static func ports(_ address: IPAddress, from site: ProbeSite, scan: String) throws -> [String: [UInt16]] {
        let arguments = try site.commandPrefix + ["nmap", "-n", "-Pn", scan, "-p-", "-T5", "--max-retries", "0", "--min-rate", "100000",
                                              "-oG", "-"] + (address.family == .ipv6 ? ["-6"] : []) + [address.description]
        let output = try CommandRunner.run(arguments, timeout: .seconds(60)).standardOutput
        // Grepable output: "Host: ADDR ()\tPorts: 22/open/tcp//ssh///, 7471/open/tcp//...\tIgnored State: ..."
        guard let portsField = output.split(separator: "\t").first(where: { $0.hasPrefix("Ports: ") }) else { return [:] }
        var states: [String: [UInt16]] = [:]
        for entry in portsField.dropFirst("Ports: ".count).split(separator: ",") {
            let fields = entry.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
            guard fields.count > 1, let port = UInt16(fields[0]) else { continue }
            states[String(fields[1]), default: []].append(port)
        }
        return states.mapValues { $0.sorted() }
    }
}
