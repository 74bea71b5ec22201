import Systems
import Testbed

/// An isolation defect the emulated lab can be built with, and the certification
/// tests it must break. The fault-matrix test joins this table with the suite.
public enum LabFault: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case firewallOpen = "isolation-firewall-open"
    case managementListensEverywhere = "isolation-mgmt-listens-everywhere"
    case ipv6Unfiltered = "isolation-ipv6-unfiltered"
    case dpuForwards = "isolation-dpu-forwards"
    case hostChannelOpen = "isolation-tmfifo-open"
    case tenantLeak = "isolation-tenant-leak"
    case managementDown = "isolation-mgmt-down"
    case udpServiceExposed = "isolation-udp-service-exposed"
    case udpFirewallHole = "isolation-udp-firewall-hole"
    case netRateLimit = "net-rate-limit"
    case netLatency = "net-latency"
    case netLoss = "net-loss"
    case netMTUClamp = "net-mtu-clamp"
    case netHostMTU = "net-host-mtu"
    case netVFUnfair = "net-vf-unfair"

    /// The UDP port of the service `udpServiceExposed` runs on the DPU (Geneve's: an
    /// overlay endpoint is the kind of service a DPU runs), outside every probe list.
    public static let exposedUDPServicePort: UInt16 = 6081
    /// The UDP port `udpFirewallHole` opens in the DPU firewall, with nothing behind it.
    public static let firewallHoleUDPPort: UInt16 = 6082

    /// How a test reacts to the fault.
    public enum Effect: String, Sendable, Hashable, Codable {
        /// The defect is found: the tests fail.
        case testsFail = "fail"
        /// A positive control fails: the tests cannot conclude (status error).
        case positiveControlFails = "error"
    }

    public var name: String { rawValue }

    public var description: String { rawValue }

    /// What the lab does differently, in one sentence.
    public var summary: String {
        switch self {
        case .firewallOpen:
            "the DPU firewall accepts the management ports from the host side on any DPU address, so the host reaches SSH/Redfish/IPMI on the management address through a route via the DPU"
        case .managementListensEverywhere:
            "the management services bind 0.0.0.0 and :: and the firewall lets the host reach them on the DPU's data-plane addresses"
        case .ipv6Unfiltered:
            "IPv4 is filtered but every IPv6 packet from the host side is accepted, so management services answer the host over IPv6"
        case .dpuForwards:
            "the DPU routes host traffic into the OOB management network (forwarding on, no forward filter)"
        case .hostChannelOpen:
            "the host management channel (tmfifo) is up and addressed on both ends and the DPU's management services answer on it"
        case .tenantLeak:
            "the bridges of tenant 0 and tenant 1 are patched together, so the tenants share one L2 segment"
        case .managementDown:
            "the DPU's management services are not running; only the positive controls can notice"
        case .udpServiceExposed:
            "a UDP echo service on the DPU (all addresses, port \(Self.exposedUDPServicePort)) and a firewall rule letting the host reach it on the DPU's data-plane addresses"
        case .udpFirewallHole:
            "the DPU firewall accepts UDP port \(Self.firewallHoleUDPPort) from the host on the DPU's data-plane addresses, where nothing listens"
        case .netRateLimit:
            "a token bucket on each DPU uplink holds traffic toward the peer to \(LabTraffic.rateLimit)"
        case .netLatency:
            "small TCP packets toward the peer (requests, not bulk data) wait in a \(LabTraffic.smallPacketRate) class on each DPU uplink"
        case .netLoss:
            "the DPU drops \(LabTraffic.lossPerMille / 10) % of the UDP datagrams it forwards toward the peer, at random"
        case .netMTUClamp:
            "the DPU's uplinks toward the peer carry smaller packets than every netdev is set for, so larger ones are dropped "
                + "without a word; TCP's segment size is clamped to fit, as a router on such a link does"
        case .netHostMTU:
            "the host's PF netdev is left at a smaller MTU than the profile's"
        case .netVFUnfair:
            "a token bucket holds tenant 1's uplink to \(LabTraffic.unfairRate), so VFs sending at once get unequal shares"
        }
    }

    /// The test ids this fault must break.
    public var breaks: [String] {
        switch self {
        case .firewallOpen:
            ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface"]
        case .managementListensEverywhere:
            ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface"]
        case .ipv6Unfiltered:
            ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface"]
        case .dpuForwards:
            ["isolation.no-route-to-oob"]
        case .hostChannelOpen:
            ["isolation.host-mgmt-channel-closed"]
        case .tenantLeak:
            ["isolation.tenant-separation"]
        case .managementDown:
            // Every check whose positive control is reaching the management services from the OOB side.
            ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface", "isolation.host-mgmt-channel-closed"]
        case .udpServiceExposed, .udpFirewallHole:
            ["isolation.dpu-attack-surface"]
        case .netRateLimit: ["network.tcp-throughput"]
        case .netLatency: ["network.tcp-latency"]
        case .netLoss: ["network.udp-loss"]
        case .netMTUClamp: ["network.mtu"]
        // The netdev's MTU is wrong, and so the largest packet the host's path carries.
        case .netHostMTU: ["network.link-state", "network.mtu"]
        case .netVFUnfair: ["network.vf-fairness"]
        }
    }

    /// The suite whose checks the fault breaks (`isolation`, `network`).
    public var suite: String { String(breaks.first?.prefix { $0 != "." } ?? "") }

    public var effect: Effect {
        self == .managementDown ? .positiveControlFails : .testsFail
    }

    /// Looks a fault up by its name.
    public static func named(_ name: String) throws(LabError) -> LabFault {
        guard let fault = LabFault(rawValue: name) else {
            throw .unknownFault(name: name, validNames: allCases.map(\.rawValue))
        }
        return fault
    }
}

/// Why a lab could not be built, described, or removed.
public enum LabError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidSpec(field: String, expected: String, found: String)
    case unknownFault(name: String, validNames: [String])
    /// Objects of a lab of that name exist already.
    case alreadyExists(name: String, objects: [String])
    /// An `ip`/`nft` command failed.
    case command(CommandError)
    /// A kernel parameter of a lab namespace could not be set.
    case kernelParameters(namespace: String, reason: String)
    /// An agent did not start listening in time (or exited).
    case agentNotReady(role: String, detail: String)
    case stateFile(path: String, reason: String)
    /// The lab came up but could not be read back (interfaces, addresses).
    case description(namespace: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidSpec(field, expected, found):
            "lab spec field \(field): expected \(expected), found \(found)"
        case let .unknownFault(name, validNames):
            "unknown lab fault \"\(name)\"; known faults: \(validNames.joined(separator: ", "))"
        case let .alreadyExists(name, objects):
            "lab \(name) exists already (\(objects.joined(separator: ", "))); remove it with `dpucert emulate down --name \(name)`"
        case let .command(error):
            "lab command failed: \(error)"
        case let .kernelParameters(namespace, reason):
            "setting kernel parameters in \(namespace): \(reason)"
        case let .agentNotReady(role, detail):
            "the \(role) agent did not become ready: \(detail)"
        case let .stateFile(path, reason):
            "lab state file \(path): \(reason)"
        case let .description(namespace, reason):
            "reading the lab back from \(namespace): \(reason)"
        }
    }
}
