import Systems
import Testbed

/// Names and addresses of everything in a lab, derived from its spec. Fixed parts:
///
/// - host network (host PF, DPU data plane, peer): 198.18.0.0/24, 2001:db8:1::/64 (.1 host, .2 DPU, .3 peer)
/// - tenant i network (VF, peer): 198.18.(16+i).0/24, 2001:db8:1:(16+i)::/64 (.10 tenant, .3 peer)
/// - host management channel: 198.19.255.0/30, 2001:db8:ffff::/64 (.1 host, .2 DPU)
/// - OOB network: the spec's management prefixes; the OOB host takes the first free host address.
struct LabAddressPlan {
    static let benchmarkRange = InterfaceAddress("198.18.0.0/15")!
    static let documentationRange = InterfaceAddress("2001:db8::/32")!
    static let dataPlane4 = InterfaceAddress("198.18.0.0/19")!
    static let dataPlane6 = InterfaceAddress("2001:db8:1::/48")!
    static let channel4 = InterfaceAddress("198.19.255.0/24")!
    static let channel6 = InterfaceAddress("2001:db8:ffff::/48")!
    static let reservedNetworks = [dataPlane4, dataPlane6, channel4, channel6]
    static let maximumTenants = 16

    // Interface names (inside the lab's namespaces, so they need no lab prefix).
    static let hostPF = "ens1f0np0"
    static let dpuHostRepresentor = "pf0hpf"
    static let dpuUplink = "p0"
    static let dpuDataBridge = "br0"
    static let dpuOOB = "oob_net0"
    static let peerUplink = "eth0"
    static let oobPort = "eth0"
    static let tenantVF = "eth0"
    static let tenantPatch = ("patch0", "patch1")
    static func dpuVFRepresentor(_ tenant: Int) -> String { "pf0vf\(tenant)" }
    static func dpuTenantUplink(_ tenant: Int) -> String { "p0t\(tenant)" }
    static func dpuTenantBridge(_ tenant: Int) -> String { "brt\(tenant)" }
    static func peerTenantPort(_ tenant: Int) -> String { "eth0t\(tenant)" }

    static func dpuInterfaceNames(tenants: Int) -> [String] {
        [dpuHostRepresentor, dpuUplink, dpuDataBridge, dpuOOB, tenantPatch.0, tenantPatch.1]
            + (0..<max(0, tenants)).flatMap { [dpuVFRepresentor($0), dpuTenantUplink($0), dpuTenantBridge($0)] }
    }

    let spec: LabSpec

    // Namespaces.
    var host: String { "\(spec.name)-host" }
    var dpu: String { "\(spec.name)-dpu" }
    var oob: String { "\(spec.name)-oob" }
    var peer: String { "\(spec.name)-peer" }
    func tenant(_ index: Int) -> String { "\(spec.name)-tenant\(index)" }
    var namespaces: [String] { [host, dpu, oob, peer] + (0..<spec.tenantCount).map(tenant) }

    var firewallTable: String { "dpucert_\(spec.name)" }

    /// The DPU's ports toward the peer: the host's uplink and each tenant's.
    var dpuUplinks: [String] { [Self.dpuUplink] + (0..<spec.tenantCount).map(Self.dpuTenantUplink) }

    // Host network.
    let hostNetwork4 = InterfaceAddress("198.18.0.0/24")!
    let hostNetwork6 = InterfaceAddress("2001:db8:1::/64")!
    var hostAddresses: [InterfaceAddress] { [on(hostNetwork4, 1), on(hostNetwork6, 1)] }
    var dpuDataAddresses: [InterfaceAddress] { [on(hostNetwork4, 2), on(hostNetwork6, 2)] }
    var peerHostNetworkAddresses: [InterfaceAddress] { [on(hostNetwork4, 3), on(hostNetwork6, 3)] }

    // Tenants.
    func tenantNetworks(_ index: Int) -> [InterfaceAddress] {
        [InterfaceAddress("198.18.\(16 + index).0/24")!, InterfaceAddress("2001:db8:1:\(String(16 + index, radix: 16))::/64")!]
    }
    func tenantAddresses(_ index: Int) -> [InterfaceAddress] { tenantNetworks(index).map { on($0, 10) } }
    func peerTenantAddresses(_ index: Int) -> [InterfaceAddress] { tenantNetworks(index).map { on($0, 3) } }
    /// Tenants treat the whole lab range as on-link, so nothing but the DPU's L2
    /// separation keeps one tenant from another.
    let tenantOnLinkRoutes = [benchmarkRange, documentationRange]

    // Host management channel.
    let channelNetwork4 = InterfaceAddress("198.19.255.0/30")!
    let channelNetwork6 = InterfaceAddress("2001:db8:ffff::/64")!
    var channelHostAddresses: [InterfaceAddress] { [on(channelNetwork4, 1), on(channelNetwork6, 1)] }
    var channelDPUAddresses: [InterfaceAddress] { [on(channelNetwork4, 2), on(channelNetwork6, 2)] }

    // OOB network.
    var managementAddresses: [InterfaceAddress] { [spec.managementIPv4, spec.managementIPv6] }
    var oobHostAddresses: [InterfaceAddress] {
        managementAddresses.compactMap { address in
            Self.oobHostAddress(beside: address).flatMap { InterfaceAddress(address: $0, prefixLength: address.prefixLength) }
        }
    }

    /// The OOB host's address: the network's first host address not taken by the DPU.
    static func oobHostAddress(beside dpu: InterfaceAddress) -> IPAddress? {
        [1, 2].lazy.compactMap { dpu.host($0) }.first { $0 != dpu.address }
    }

    /// Routes the host holds toward the OOB networks via the DPU's data-plane addresses.
    var hostRoutesToManagement: [LabRoute] {
        zip(managementAddresses, dpuDataAddresses).map { LabRoute(destination: $0.prefix, via: $1.address) }
    }

    /// Routes the OOB host holds back to the data-plane networks via the DPU, so only
    /// the DPU's own policy keeps the networks apart.
    var oobRoutesToDataPlane: [LabRoute] {
        zip([Self.dataPlane4, Self.dataPlane6], managementAddresses).map { LabRoute(destination: $0, via: $1.address) }
    }

    private func on(_ network: InterfaceAddress, _ offset: Int) -> InterfaceAddress {
        // The plan's networks are fixed and large enough; a nil here is a programming error in the plan itself.
        guard let address = network.host(offset), let result = InterfaceAddress(address: address, prefixLength: network.prefixLength) else {
            preconditionFailure("lab address plan: \(network) has no host \(offset)")
        }
        return result
    }
}
