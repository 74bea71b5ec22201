import Probes
import Systems
import Testbed

/// The DPU's nftables ruleset, generated from the spec (and faults). Management
/// services are reachable only from the OOB port; the data-plane side (host PF,
/// uplink) reaches only the allowlist on the DPU's data-plane addresses; nothing
/// from the data-plane side is routed. Every refusal on the data-plane side and on
/// the host channel is counted in a named counter.
struct LabFirewall {
    static let family = "inet"
    static let hostDrops = "host_drops"
    static let uplinkDrops = "uplink_drops"
    static let forwardDrops = "forward_drops"
    static let hostChannelDrops = "host_channel_drops"
    static let oobDrops = "oob_drops"
    static let otherDrops = "other_drops"
    /// Mark given in the bridge to frames from the host PF representor, so the inet
    /// table can tell host traffic from uplink traffic arriving on the same bridge.
    static let hostMark = "0x00000001"

    let plan: LabAddressPlan
    let faults: Set<LabFault>

    var location: FirewallLocation {
        FirewallLocation(site: .namespace(plan.dpu), family: Self.family, table: plan.firewallTable)
    }

    var description: DPUFirewall {
        DPUFirewall(location: location, hostDropCounter: Self.hostDrops, forwardDropCounter: Self.forwardDrops)
    }

    /// Whether the DPU forwards between its ports (the sysctls follow this).
    var forwards: Bool { faults.contains(.dpuForwards) }

    /// Whether the host channel is open on the DPU side (fault, or a profile that does not close it).
    var hostChannelOpen: Bool { faults.contains(.hostChannelOpen) || !plan.spec.hostChannelMustBeClosed }

    var ruleset: String {
        let spec = plan.spec
        let table = plan.firewallTable
        let data = LabAddressPlan.dpuDataBridge
        let oob = LabAddressPlan.dpuOOB
        let channel = spec.hostChannelInterface
        let management = plan.managementAddresses.map(\.address)
        let dataAddresses = plan.dpuDataAddresses.map(\.address)

        var input: [String] = [
            "iif \"lo\" accept",
            "ct state established,related accept",
            // Neighbour discovery and multicast listener traffic keep links working and must not count as probes.
            "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept",
        ]
        input += Self.serviceRules(interface: oob, addresses: management, tcp: spec.managementTCPPorts, udp: spec.managementUDPPorts, echo: true)
        input.append("iifname \"\(oob)\" counter name \(Self.oobDrops) drop")

        if faults.contains(.ipv6Unfiltered) {
            input.append("iifname \"\(data)\" meta nfproto ipv6 accept")
        }
        if faults.contains(.firewallOpen) {
            input += Self.serviceRules(interface: data, addresses: nil, tcp: spec.managementTCPPorts, udp: spec.managementUDPPorts, echo: false)
        }
        if faults.contains(.managementListensEverywhere) {
            input += Self.serviceRules(interface: data, addresses: dataAddresses, tcp: spec.managementTCPPorts, udp: spec.managementUDPPorts, echo: false)
        }
        let allowTCP = spec.dataPlaneAllowlist.filter { $0.transport == .tcp }.map(\.port)
        var allowUDP = spec.dataPlaneAllowlist.filter { $0.transport == .udp }.map(\.port)
        if faults.contains(.udpServiceExposed) { allowUDP.append(LabFault.exposedUDPServicePort) }
        if faults.contains(.udpFirewallHole) { allowUDP.append(LabFault.firewallHoleUDPPort) }
        input += Self.serviceRules(interface: data, addresses: dataAddresses, tcp: allowTCP, udp: allowUDP, echo: true)
        input.append("iifname \"\(data)\" meta mark \(Self.hostMark) counter name \(Self.hostDrops) drop")
        input.append("iifname \"\(data)\" counter name \(Self.uplinkDrops) drop")

        if hostChannelOpen {
            input += Self.serviceRules(interface: channel, addresses: nil, tcp: spec.managementTCPPorts, udp: spec.managementUDPPorts, echo: true)
        }
        input.append("iifname \"\(channel)\" counter name \(Self.hostChannelDrops) drop")
        input.append("counter name \(Self.otherDrops) drop")

        var prerouting: [String] = []
        var forward: [String] = []
        if forwards {
            forward += ["iifname \"\(data)\" oifname \"\(oob)\" accept",
                        "iifname \"\(oob)\" oifname \"\(data)\" ct state established,related accept"]
        } else {
            // Drop, silently and counted, whatever the data-plane side sends that is not
            // addressed to the DPU itself, before routing could answer it.
            let family = faults.contains(.ipv6Unfiltered) ? "meta nfproto ipv4 " : ""
            prerouting.append("iifname \"\(data)\" \(family)fib daddr type != { local, broadcast, multicast } counter name \(Self.forwardDrops) drop")
        }
        forward.append("counter name \(Self.forwardDrops) drop")

        let counters = [Self.hostDrops, Self.uplinkDrops, Self.forwardDrops, Self.hostChannelDrops, Self.oobDrops, Self.otherDrops]
        return """
            table bridge \(table) {
                chain prerouting {
                    type filter hook prerouting priority -200; policy accept;
                    iifname "\(LabAddressPlan.dpuHostRepresentor)" meta mark set \(Self.hostMark)
                }
                chain forward {
                    type filter hook forward priority 0; policy accept;
            \(Self.indent(LabTraffic.bridgeRules(faults, uplinks: plan.dpuUplinks, mtu: plan.spec.dataPlaneMTU)))
                }
            }
            table \(Self.family) \(table) {
            \(counters.map { "    counter \($0) { }" }.joined(separator: "\n"))
                chain prerouting {
                    type filter hook prerouting priority 0; policy accept;
            \(Self.indent(prerouting))
                }
                chain input {
                    type filter hook input priority 0; policy drop;
            \(Self.indent(input))
                }
                chain forward {
                    type filter hook forward priority 0; policy drop;
            \(Self.indent(forward))
                }
            }

            """
    }

    /// Accept rules for TCP/UDP ports (and echo requests) arriving on `interface` for
    /// `addresses` (nil: any address). IPv6 rules include the link-local range.
    private static func serviceRules(interface: String, addresses: [IPAddress]?, tcp: [UInt16], udp: [UInt16], echo: Bool) -> [String] {
        var matches: [String] = []
        if let addresses {
            let v4 = addresses.filter { $0.family == .ipv4 }.map(\.literal)
            let v6 = addresses.filter { $0.family == .ipv6 }.map(\.literal) + ["fe80::/64"]
            if !v4.isEmpty { matches.append("ip daddr { \(v4.joined(separator: ", ")) }") }
            matches.append("ip6 daddr { \(v6.joined(separator: ", ")) }")
        } else {
            matches.append("")
        }
        var rules: [String] = []
        for match in matches {
            let prefix = "iifname \"\(interface)\" " + (match.isEmpty ? "" : match + " ")
            if !tcp.isEmpty { rules.append(prefix + "tcp dport { \(tcp.map(String.init).joined(separator: ", ")) } accept") }
            if !udp.isEmpty { rules.append(prefix + "udp dport { \(udp.map(String.init).joined(separator: ", ")) } accept") }
            if echo {
                if match.isEmpty || match.hasPrefix("ip daddr") { rules.append(prefix + "icmp type echo-request accept") }
                if match.isEmpty || match.hasPrefix("ip6 daddr") { rules.append(prefix + "icmpv6 type echo-request accept") }
            }
        }
        return rules
    }

    private static func indent(_ rules: [String]) -> String {
        rules.map { "        " + $0 }.joined(separator: "\n")
    }
}
