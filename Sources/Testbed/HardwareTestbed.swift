import Probes
import Profiles
import Systems

/// A real DPU in a lab, described by a testbed file: the runner probes as the host
/// from this process, and from the DPU, the OOB network, the peer and the tenants
/// through the agents the file names.
public struct HardwareTestbed: Testbed {
    public let topology: LabTopology
    public let file: TestbedFile
    /// The testbed file's path, for messages.
    public let path: String

    public var summary: String { "hardware testbed \(file.id) (\(path))" }

    /// The testbed of `file` for a card certified against `profile` (its management ports,
    /// allowlist and host channel mode). `hostInterfaces` are the host's interfaces as
    /// this process sees them.
    public init(file: TestbedFile, path: String, profile: Profile, hostInterfaces: [LabInterface]) {
        self.file = file
        self.path = path
        let isolation = profile.isolation
        let hostLink = file.host.interface
        let host = LabNode(role: .host, site: .current, interfaces: hostInterfaces)
        let dpu = LabNode(role: .dpu, site: file.dpu.agent.map { .agent($0) } ?? .unavailable(Self.noDPUAgent), interfaces: [])
        let oob = LabNode(role: .oob, site: .agent(file.oob.agent), interfaces: [])
        let peer = LabNode(role: .peer, site: .agent(file.peer.agent), interfaces: [])
        let management = ManagementPlane(
            dpuInterface: "", dpuAddresses: file.dpu.managementAddresses,
            tcpPorts: (isolation?.management.tcpPorts ?? []).map(UInt16.init),
            udpPorts: (isolation?.management.udpPorts ?? []).map(UInt16.init),
            oobInterface: "", oobHostAddresses: file.oob.addresses, networks: [])
        let hostAddresses = hostInterfaces.first { $0.name == hostLink }?.addresses.map(\.address) ?? []
        let dataPlane = DataPlane(
            hostInterface: hostLink, hostAddresses: hostAddresses,
            dpuAddresses: file.dpu.dataAddresses.map { $0.isLinkLocal ? $0.scoped(to: hostLink) : $0 },
            peerAddresses: file.peer.addresses,
            allowlist: (isolation?.allowlist ?? []).map(NetworkService.init),
            hostRoutesThroughDPU: [])
        let tenants = file.tenants.enumerated().map { index, tenant in
            TenantLink(index: index, node: LabNode(role: .tenant(index), site: .agent(tenant.agent), interfaces: []),
                       interface: tenant.interface, representor: "",
                       addresses: tenant.addresses, peerAddresses: tenant.peerAddresses)
        }
        let channel = HostChannel(
            interface: file.host.managementChannel ?? isolation?.hostManagementChannel?.interface ?? "",
            mustBeClosed: isolation?.hostManagementChannel?.mode == .restricted,
            hostSideAddresses: [], dpuAddresses: file.dpu.channelAddresses)
        // The services the DPU offers the set-up and the OOB services it reaches: the
        // agent's control endpoint is one of each (the runner reaches them by their sites).
        let agents = [AgentEndpoints(role: .dpu, control: file.dpu.agent.map { [$0] } ?? []),
                      AgentEndpoints(role: .oob, control: file.oob.services),
                      AgentEndpoints(role: .peer, control: [file.peer.agent])]
        let firewall = file.dpu.firewall.map { firewall in
            DPUFirewall(location: FirewallLocation(site: dpu.site, family: firewall.family, table: firewall.table),
                        hostDropCounter: firewall.hostDrops, forwardDropCounter: firewall.forwardDrops)
        }
        topology = LabTopology(name: file.id, host: host, dpu: dpu, oob: oob, peer: peer, tenants: tenants,
                               management: management, dataPlane: dataPlane, hostChannel: channel, agents: agents,
                               agentTokenFile: file.agentTokenFile, firewall: firewall)
    }

    /// Why nothing runs on the DPU of a testbed file without `dpu.agent`.
    public static let noDPUAgent = "the testbed file names no agent on the DPU's Arm OS (dpu.agent)"

    /// Loads `path` and reads this host's interfaces.
    public static func load(path: String, profile: Profile) throws -> HardwareTestbed {
        HardwareTestbed(file: try TestbedLoader.load(path: path), path: path, profile: profile,
                        hostInterfaces: try LabInterface.read(at: .current))
    }
}

extension NetworkService {
    /// A service of a profile's isolation allowlist.
    public init(_ service: Profile.AllowedService) {
        self.init(name: service.name, transport: service.transport == .tcp ? .tcp : .udp, port: UInt16(service.port))
    }
}
