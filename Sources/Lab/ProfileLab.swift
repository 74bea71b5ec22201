import Profiles
import Systems

extension LabSpec {
    /// The lab a profile's isolation and emulation sections describe: its management
    /// ports, its emulated management addresses, its data-plane allowlist and its host
    /// management channel, and its data-plane MTU. Nil when the profile has no isolation section.
    public init?(profile: Profile, name: String, agent: AgentLauncher) {
        guard let isolation = profile.isolation, let lab = profile.emulation?.lab else { return nil }
        let allowlist = isolation.allowlist.map(NetworkService.init)
        let controlPort = allowlist.first { $0.name == "dpucert-agent-control" && $0.transport == .tcp }?.port
            ?? allowlist.first { $0.transport == .tcp }?.port ?? 7471
        var spec = LabSpec(name: name, agent: agent,
                           managementTCPPorts: isolation.management.tcpPorts.map { UInt16($0) },
                           managementUDPPorts: isolation.management.udpPorts.map { UInt16($0) },
                           dataPlaneAllowlist: allowlist, agentControlPort: controlPort)
        if let address = lab.managementIPv4.first.flatMap({ InterfaceAddress("\($0)/24") }) {
            spec.managementIPv4 = address
        }
        if let address = lab.managementIPv6.first.flatMap({ InterfaceAddress("\($0)/64") }) {
            spec.managementIPv6 = address
        }
        if let mtu = profile.network?.mtu { spec.dataPlaneMTU = mtu }
        if let channel = isolation.hostManagementChannel {
            spec.hostChannelInterface = channel.interface
            spec.hostChannelMustBeClosed = channel.mode == .restricted
        }
        self = spec
    }
}
