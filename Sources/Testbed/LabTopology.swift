import Foundation
import Probes
import Systems

/// The machines of a DPU test set-up as probes see them: the x86 host, the DPU's Arm
/// OS, the lab's out-of-band (OOB) management network, the peer at the far end of
/// the wire and the tenants (VMs owning VFs). The emulated lab and a hardware testbed
/// file fill it in; checks read it to know what to probe from where, without knowing
/// whether it is emulated.
public struct LabTopology: Sendable, Hashable, Codable {
    public var name: String
    public var host: LabNode
    public var dpu: LabNode
    public var oob: LabNode
    public var peer: LabNode
    public var tenants: [TenantLink]
    public var management: ManagementPlane
    public var dataPlane: DataPlane
    public var hostChannel: HostChannel
    /// `dpucert agent` control channels, by machine.
    public var agents: [AgentEndpoints]
    /// The file holding the agents' control token.
    public var agentTokenFile: String
    /// Nil where the set-up offers no readable DPU firewall counters.
    public var firewall: DPUFirewall?

    public init(name: String, host: LabNode, dpu: LabNode, oob: LabNode, peer: LabNode, tenants: [TenantLink],
                management: ManagementPlane, dataPlane: DataPlane, hostChannel: HostChannel,
                agents: [AgentEndpoints], agentTokenFile: String, firewall: DPUFirewall?) {
        self.name = name
        self.host = host
        self.dpu = dpu
        self.oob = oob
        self.peer = peer
        self.tenants = tenants
        self.management = management
        self.dataPlane = dataPlane
        self.hostChannel = hostChannel
        self.agents = agents
        self.agentTokenFile = agentTokenFile
        self.firewall = firewall
    }

    /// Every machine, tenants last.
    public var nodes: [LabNode] { [host, dpu, oob, peer] + tenants.map(\.node) }

    public func agent(_ role: LabRole) -> AgentEndpoints? { agents.first { $0.role == role } }

    /// The peer agent's control endpoint on the network of `addresses` (not link-local),
    /// so traffic to it crosses that network; nil when the peer has none there.
    public func peerControl(on addresses: [IPAddress]) -> SocketEndpoint? {
        agent(.peer)?.control.first { endpoint in
            !endpoint.address.isLinkLocal && addresses.contains { $0.unscoped == endpoint.address.unscoped }
        }
    }
}

/// Which machine of the set-up a node is.
public enum LabRole: Sendable, Hashable, Codable, CustomStringConvertible {
    case host, dpu, oob, peer
    case tenant(Int)

    public var description: String {
        switch self {
        case .host: "host"
        case .dpu: "dpu"
        case .oob: "oob"
        case .peer: "peer"
        case .tenant(let index): "tenant\(index)"
        }
    }
}

/// One machine: where to probe from and its interfaces as read when the lab came up.
public struct LabNode: Sendable, Hashable, Codable, CustomStringConvertible {
    public var role: LabRole
    public var site: ProbeSite
    public var interfaces: [LabInterface]

    public init(role: LabRole, site: ProbeSite, interfaces: [LabInterface]) {
        self.role = role
        self.site = site
        self.interfaces = interfaces
    }

    public func interface(_ name: String) -> LabInterface? { interfaces.first { $0.name == name } }

    public var description: String { "\(role) (\(site))" }
}

/// A network interface and its addresses (link-local IPv6 ones scoped to it).
public struct LabInterface: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var mac: String
    public var isUp: Bool
    public var addresses: [InterfaceAddress]

    public init(name: String, mac: String, isUp: Bool, addresses: [InterfaceAddress]) {
        self.name = name
        self.mac = mac
        self.isUp = isUp
        self.addresses = addresses
    }

    public var ipv4: [IPAddress] { addresses.map(\.address).filter { $0.family == .ipv4 } }
    public var ipv6Global: [IPAddress] { addresses.map(\.address).filter { $0.family == .ipv6 && !$0.isLinkLocal } }
    public var ipv6LinkLocal: [IPAddress] {
        addresses.map(\.address).filter { $0.family == .ipv6 && $0.isLinkLocal }.map { $0.scoped(to: name) }
    }

    public var description: String {
        "\(name) \(mac) \(isUp ? "up" : "down") " + (addresses.isEmpty ? "no addresses" : addresses.map(\.description).joined(separator: " "))
    }

    /// The interfaces of `site` (this process's namespace or another on this machine) as
    /// `ip -j address show` lists them, loopback left out.
    public static func read(at site: ProbeSite) throws -> [LabInterface] {
        struct Link: Decodable {
            struct Address: Decodable {
                var local: String
                var prefixlen: Int
            }
            var ifname: String
            var flags: [String]
            var address: String?
            var addr_info: [Address]?
        }
        let output = try CommandRunner.run(site.commandPrefix + ["ip", "-j", "address", "show"]).standardOutput
        let links: [Link]
        do {
            links = try JSONDecoder().decode([Link].self, from: Data(output.utf8))
        } catch {
            throw ProbeError(site: site, "unexpected `ip -j address show` output: \(error)")
        }
        return try links.filter { $0.ifname != "lo" }.map { link in
            let addresses = try (link.addr_info ?? []).map { info in
                guard let address = IPAddress(info.local).flatMap({ InterfaceAddress(address: $0, prefixLength: info.prefixlen) }) else {
                    throw ProbeError(site: site, "\(link.ifname) has an address ip prints as \"\(info.local)/\(info.prefixlen)\"")
                }
                return address
            }
            return LabInterface(name: link.ifname, mac: link.address ?? "", isUp: link.flags.contains("UP"), addresses: addresses)
        }
    }
}

/// The DPU's management plane on the OOB side.
public struct ManagementPlane: Sendable, Hashable, Codable {
    /// The DPU's OOB port (`oob_net0`).
    public var dpuInterface: String
    /// The DPU's management addresses: IPv4, IPv6 and the IPv6 link-local address
    /// scoped to the OOB host's interface (ready to probe from the OOB node).
    public var dpuAddresses: [IPAddress]
    public var tcpPorts: [UInt16]
    public var udpPorts: [UInt16]
    /// The OOB host's interface toward the DPU.
    public var oobInterface: String
    /// The OOB host's own addresses (targets for route-through probes).
    public var oobHostAddresses: [IPAddress]
    /// The OOB networks.
    public var networks: [InterfaceAddress]

    public init(dpuInterface: String, dpuAddresses: [IPAddress], tcpPorts: [UInt16], udpPorts: [UInt16],
                oobInterface: String, oobHostAddresses: [IPAddress], networks: [InterfaceAddress]) {
        self.dpuInterface = dpuInterface
        self.dpuAddresses = dpuAddresses
        self.tcpPorts = tcpPorts
        self.udpPorts = udpPorts
        self.oobInterface = oobInterface
        self.oobHostAddresses = oobHostAddresses
        self.networks = networks
    }

    /// Every (address, port) pair of the management TCP services.
    public var tcpEndpoints: [SocketEndpoint] { dpuAddresses.flatMap { address in tcpPorts.map { SocketEndpoint(address, $0) } } }
    public var udpEndpoints: [SocketEndpoint] { dpuAddresses.flatMap { address in udpPorts.map { SocketEndpoint(address, $0) } } }
}

/// The host-facing side: host PF, the DPU's data-plane addresses, the wire's peer.
public struct DataPlane: Sendable, Hashable, Codable {
    /// The host's PF netdev.
    public var hostInterface: String
    public var hostAddresses: [IPAddress]
    /// The DPU's data-plane addresses, link-local scoped to `hostInterface`.
    public var dpuAddresses: [IPAddress]
    /// The peer's addresses on the host network (link-local scoped to `hostInterface`).
    public var peerAddresses: [IPAddress]
    /// What the host may reach on the DPU's data-plane addresses.
    public var allowlist: [NetworkService]
    /// Routes the host holds toward the management networks through the DPU, as an
    /// attacker with root on the host would add them.
    public var hostRoutesThroughDPU: [LabRoute]

    public init(hostInterface: String, hostAddresses: [IPAddress], dpuAddresses: [IPAddress], peerAddresses: [IPAddress],
                allowlist: [NetworkService], hostRoutesThroughDPU: [LabRoute]) {
        self.hostInterface = hostInterface
        self.hostAddresses = hostAddresses
        self.dpuAddresses = dpuAddresses
        self.peerAddresses = peerAddresses
        self.allowlist = allowlist
        self.hostRoutesThroughDPU = hostRoutesThroughDPU
    }

    /// Every (DPU data-plane address, allowed port) pair of one transport.
    public func allowedEndpoints(_ transport: TransportProtocol) -> [SocketEndpoint] {
        dpuAddresses.flatMap { address in
            allowlist.filter { $0.transport == transport }.map { SocketEndpoint(address, $0.port) }
        }
    }
}

/// A route: destination network and next hop.
public struct LabRoute: Sendable, Hashable, Codable, CustomStringConvertible {
    public var destination: InterfaceAddress
    public var via: IPAddress

    public init(destination: InterfaceAddress, via: IPAddress) {
        self.destination = destination
        self.via = via
    }

    public var description: String { "\(destination.prefix) via \(via)" }
}

/// A tenant (VM owning a VF): its node, VF netdev, DPU representor, and the peer's
/// addresses on its network (its data path's positive control).
public struct TenantLink: Sendable, Hashable, Codable {
    public var index: Int
    public var node: LabNode
    /// The VF netdev inside the tenant.
    public var interface: String
    /// The VF's representor on the DPU (`pf0vf0`).
    public var representor: String
    /// The tenant's addresses, link-local scoped to `interface`.
    public var addresses: [IPAddress]
    /// The peer's addresses on this tenant's network, link-local scoped to `interface`.
    public var peerAddresses: [IPAddress]

    public init(index: Int, node: LabNode, interface: String, representor: String,
                addresses: [IPAddress], peerAddresses: [IPAddress]) {
        self.index = index
        self.node = node
        self.interface = interface
        self.representor = representor
        self.addresses = addresses
        self.peerAddresses = peerAddresses
    }
}

/// The host↔DPU management channel (BlueField's RShim `tmfifo_net0`).
public struct HostChannel: Sendable, Hashable, Codable {
    public var interface: String
    /// Whether the device profile requires the channel closed (restricted mode).
    public var mustBeClosed: Bool
    /// The addresses a host uses on the channel when it is open (configured or not).
    public var hostSideAddresses: [InterfaceAddress]
    /// The DPU's addresses on the channel.
    public var dpuAddresses: [IPAddress]

    public init(interface: String, mustBeClosed: Bool, hostSideAddresses: [InterfaceAddress], dpuAddresses: [IPAddress]) {
        self.interface = interface
        self.mustBeClosed = mustBeClosed
        self.hostSideAddresses = hostSideAddresses
        self.dpuAddresses = dpuAddresses
    }
}

/// Where a `dpucert agent` takes control connections.
public struct AgentEndpoints: Sendable, Hashable, Codable {
    public var role: LabRole
    public var control: [SocketEndpoint]

    public init(role: LabRole, control: [SocketEndpoint]) {
        self.role = role
        self.control = control
    }
}

/// The DPU's nftables firewall and the named drop counters the checks read.
public struct DPUFirewall: Sendable, Hashable, Codable {
    public var location: FirewallLocation
    /// Packets from the host PF to the DPU itself that were refused.
    public var hostDropCounter: String
    /// Packets from the data-plane side the DPU was asked to route elsewhere.
    public var forwardDropCounter: String

    public init(location: FirewallLocation, hostDropCounter: String, forwardDropCounter: String) {
        self.location = location
        self.hostDropCounter = hostDropCounter
        self.forwardDropCounter = forwardDropCounter
    }

    public var counterNames: [String] { [hostDropCounter, forwardDropCounter] }

    public func readCounters() throws -> [String: FirewallCounter] {
        try FirewallCounters.read(location)
    }
}
