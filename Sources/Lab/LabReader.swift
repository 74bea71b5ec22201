import Foundation
import Systems
import Testbed

/// Reads a built lab back (`ip -j address show` in each namespace) and describes it
/// as a `LabTopology`.
struct LabReader {
    typealias Plan = LabAddressPlan

    let plan: LabAddressPlan
    let firewall: LabFirewall
    let tokenFile: String

    func read() throws(LabError) -> LabTopology {
        let spec = plan.spec
        let host = try node(.host, plan.host)
        let dpu = try node(.dpu, plan.dpu)
        let oob = try node(.oob, plan.oob)
        let peer = try node(.peer, plan.peer)

        let dpuOOBLinkLocal = try Self.onlyLinkLocal(dpu, Plan.dpuOOB)
        let management = ManagementPlane(
            dpuInterface: Plan.dpuOOB,
            dpuAddresses: plan.managementAddresses.map(\.address) + [dpuOOBLinkLocal.scoped(to: Plan.oobPort)],
            tcpPorts: spec.managementTCPPorts, udpPorts: spec.managementUDPPorts,
            oobInterface: Plan.oobPort, oobHostAddresses: plan.oobHostAddresses.map(\.address),
            networks: plan.managementAddresses.map(\.prefix))

        let hostLinkLocal = try Self.onlyLinkLocal(host, Plan.hostPF)
        let dataLinkLocal = try Self.onlyLinkLocal(dpu, Plan.dpuDataBridge)
        let peerLinkLocal = try Self.onlyLinkLocal(peer, Plan.peerUplink)
        let dataPlane = DataPlane(
            hostInterface: Plan.hostPF,
            hostAddresses: plan.hostAddresses.map(\.address) + [hostLinkLocal],
            dpuAddresses: plan.dpuDataAddresses.map(\.address) + [dataLinkLocal.scoped(to: Plan.hostPF)],
            peerAddresses: plan.peerHostNetworkAddresses.map(\.address) + [peerLinkLocal.scoped(to: Plan.hostPF)],
            allowlist: spec.dataPlaneAllowlist,
            hostRoutesThroughDPU: plan.hostRoutesToManagement)

        var tenants: [TenantLink] = []
        for index in 0..<spec.tenantCount {
            let tenant = try node(.tenant(index), plan.tenant(index))
            let peerPort = Plan.peerTenantPort(index)
            let peerTenantLinkLocal = try Self.onlyLinkLocal(peer, peerPort)
            tenants.append(TenantLink(
                index: index, node: tenant, interface: Plan.tenantVF, representor: Plan.dpuVFRepresentor(index),
                addresses: plan.tenantAddresses(index).map(\.address) + [try Self.onlyLinkLocal(tenant, Plan.tenantVF)],
                peerAddresses: plan.peerTenantAddresses(index).map(\.address) + [peerTenantLinkLocal.scoped(to: Plan.tenantVF)]))
        }

        let port = spec.agentControlPort
        let agents = [
            AgentEndpoints(role: .dpu, control: plan.dpuDataAddresses.map { SocketEndpoint($0.address, port) }),
            AgentEndpoints(role: .peer, control: (plan.peerHostNetworkAddresses + (0..<spec.tenantCount).flatMap(plan.peerTenantAddresses))
                .map { SocketEndpoint($0.address, port) }),
            AgentEndpoints(role: .oob, control: plan.oobHostAddresses.map { SocketEndpoint($0.address, port) }),
        ]
        return LabTopology(
            name: spec.name, host: host, dpu: dpu, oob: oob, peer: peer, tenants: tenants,
            management: management, dataPlane: dataPlane,
            hostChannel: HostChannel(interface: spec.hostChannelInterface, mustBeClosed: spec.hostChannelMustBeClosed,
                                     hostSideAddresses: plan.channelHostAddresses,
                                     dpuAddresses: plan.channelDPUAddresses.map(\.address)),
            agents: agents, agentTokenFile: tokenFile, firewall: firewall.description)
    }

    private func node(_ role: LabRole, _ namespace: String) throws(LabError) -> LabNode {
        LabNode(role: role, site: .namespace(namespace), interfaces: try Self.interfaces(namespace: namespace))
    }

    /// The interfaces of a namespace, loopback left out.
    static func interfaces(namespace: String) throws(LabError) -> [LabInterface] {
        do {
            return try LabInterface.read(at: .namespace(namespace))
        } catch let error as CommandError {
            throw .command(error)
        } catch let error as ProbeError {
            throw .description(namespace: namespace, reason: error.message)
        } catch {
            throw .description(namespace: namespace, reason: "\(error)")
        }
    }

    /// The IPv6 link-local address of one interface in a namespace, scoped to it.
    static func linkLocal(namespace: String, interface: String) throws(LabError) -> IPAddress {
        try onlyLinkLocal(in: interfaces(namespace: namespace), interface, namespace: namespace)
    }

    private static func onlyLinkLocal(_ node: LabNode, _ interface: String) throws(LabError) -> IPAddress {
        try onlyLinkLocal(in: node.interfaces, interface, namespace: "\(node.site)")
    }

    private static func onlyLinkLocal(in interfaces: [LabInterface], _ interface: String, namespace: String) throws(LabError) -> IPAddress {
        guard let address = interfaces.first(where: { $0.name == interface })?.ipv6LinkLocal.first else {
            throw .description(namespace: namespace, reason: "\(interface) has no IPv6 link-local address")
        }
        return address
    }
}
