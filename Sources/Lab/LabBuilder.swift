import Agent
import Foundation
import Glibc
import Systems
import Testbed

/// Creates a lab's objects in order: namespaces, sysctls, cabling and addresses,
/// firewall, token, agents. Records agent pids as it goes so a failure can clean up.
struct LabBuilder {
    typealias Plan = LabAddressPlan

    let plan: LabAddressPlan
    let firewall: LabFirewall
    let tokenFile: String
    /// Where the agents' logs go, beside the lab's state file.
    let stateDirectory: String
    private(set) var agentPIDs: [pid_t] = []

    init(plan: LabAddressPlan, faults: Set<LabFault>, tokenFile: String, stateDirectory: String) {
        self.plan = plan
        self.firewall = LabFirewall(plan: plan, faults: faults)
        self.tokenFile = tokenFile
        self.stateDirectory = stateDirectory
    }

    private var spec: LabSpec { plan.spec }

    mutating func build() throws(LabError) {
        for namespace in plan.namespaces { try run(["ip", "netns", "add", namespace]) }
        try setKernelParameters()
        try ip(plan.dpu, dpuCommands)
        try ip(plan.host, hostCommands)
        try ip(plan.peer, peerCommands)
        try ip(plan.oob, oobCommands)
        for tenant in 0..<spec.tenantCount { try ip(plan.tenant(tenant), tenantCommands(tenant)) }
        try run(["ip", "netns", "exec", plan.dpu, "nft", "-f", "-"], input: firewall.ruleset)
        for command in LabTraffic.shaping(firewall.faults, uplinks: plan.dpuUplinks) {
            try run(["ip", "netns", "exec", plan.dpu] + command)
        }
        if spec.tokenFile == nil { try writeToken() }
        try startAgents()
    }

    // MARK: kernel parameters

    private func setKernelParameters() throws(LabError) {
        // No DAD (addresses usable at once) and no router solicitations (nothing
        // unprompted reaches the DPU's drop counters); ARP answered only for addresses
        // of the receiving interface.
        let common = [KernelParameter("net.ipv6.conf.all.accept_dad", "0"), KernelParameter("net.ipv6.conf.default.accept_dad", "0"),
                      KernelParameter("net.ipv6.conf.all.router_solicitations", "0"),
                      KernelParameter("net.ipv6.conf.default.router_solicitations", "0"),
                      KernelParameter("net.ipv4.conf.all.arp_ignore", "1"), KernelParameter("net.ipv4.conf.default.arp_ignore", "1")]
        for namespace in plan.namespaces where namespace != plan.dpu {
            try setParameters(common + [KernelParameter("net.ipv4.ip_forward", "0"), KernelParameter("net.ipv6.conf.all.forwarding", "0")],
                      in: namespace)
        }
        let forwarding = firewall.forwards ? "1" : "0"
        try setParameters(common + [KernelParameter("net.ipv4.ip_forward", forwarding),
                            KernelParameter("net.ipv6.conf.all.forwarding", forwarding),
                            KernelParameter("net.ipv4.conf.all.arp_announce", "2"),
                            KernelParameter("net.ipv4.conf.default.arp_announce", "2")], in: plan.dpu)
        // Bridged frames must not enter the inet hooks (br_netfilter may be built in);
        // kernels without br_netfilter have no such keys.
        try setParameters(["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
                   "net.bridge.bridge-nf-call-arptables"].map { KernelParameter($0, "0") },
                  in: plan.dpu, skippingAbsent: true)
    }

    private func setParameters(_ parameters: [KernelParameter], in namespace: String, skippingAbsent: Bool = false) throws(LabError) {
        do {
            try KernelParameters.write(parameters, at: .namespace(namespace), skippingAbsent: skippingAbsent)
        } catch {
            throw .kernelParameters(namespace: namespace, reason: "\(error)")
        }
    }

    // MARK: cabling and addressing

    /// The DPU creates every veth pair (the far ends go straight into their
    /// namespaces), its bridges and its own addresses.
    private var dpuCommands: [String] {
        let channel = spec.hostChannelInterface
        var commands = [
            "link set lo up",
            "link add \(Plan.dpuHostRepresentor) type veth peer name \(Plan.hostPF) netns \(plan.host)",
            "link add \(Plan.dpuUplink) type veth peer name \(Plan.peerUplink) netns \(plan.peer)",
            "link add \(Plan.dpuOOB) type veth peer name \(Plan.oobPort) netns \(plan.oob)",
            "link add \(channel) type veth peer name \(channel) netns \(plan.host)",
            "link add \(Plan.dpuDataBridge) type bridge mcast_snooping 0",
        ]
        var ports = [Plan.dpuHostRepresentor, Plan.dpuUplink]
        var enslave = [(Plan.dpuHostRepresentor, Plan.dpuDataBridge), (Plan.dpuUplink, Plan.dpuDataBridge)]
        var silentBridges: [String] = []
        for tenant in 0..<spec.tenantCount {
            let representor = Plan.dpuVFRepresentor(tenant), uplink = Plan.dpuTenantUplink(tenant), bridge = Plan.dpuTenantBridge(tenant)
            commands += ["link add \(representor) type veth peer name \(Plan.tenantVF) netns \(plan.tenant(tenant))",
                         "link add \(uplink) type veth peer name \(Plan.peerTenantPort(tenant)) netns \(plan.peer)",
                         "link add \(bridge) type bridge mcast_snooping 0"]
            ports += [representor, uplink]
            silentBridges.append(bridge)
            enslave += [(representor, bridge), (uplink, bridge)]
        }
        if firewall.faults.contains(.tenantLeak) && spec.tenantCount >= 2 {
            let (left, right) = Plan.tenantPatch
            commands.append("link add \(left) type veth peer name \(right)")
            ports += [left, right]
            enslave += [(left, Plan.dpuTenantBridge(0)), (right, Plan.dpuTenantBridge(1))]
        }
        // Switch ports and tenant bridges carry no addresses of the DPU's own. Ports get
        // their MTU before they join a bridge, which then takes the smallest.
        commands += (ports + silentBridges).map { "link set \($0) addrgenmode none" }
        let clamped = firewall.faults.contains(.netMTUClamp) ? Set(plan.dpuUplinks) : []
        commands += ports.map { "link set \($0) mtu \(clamped.contains($0) ? LabTraffic.reducedMTU(below: spec.dataPlaneMTU) : spec.dataPlaneMTU)" }
        commands += enslave.map { "link set \($0) master \($1)" }
        commands += (ports + silentBridges + [Plan.dpuDataBridge, Plan.dpuOOB, channel]).map { "link set \($0) up" }
        commands += plan.dpuDataAddresses.map { "address add \($0) dev \(Plan.dpuDataBridge)" }
        commands += plan.managementAddresses.map { "address add \($0) dev \(Plan.dpuOOB)" }
        commands += plan.channelDPUAddresses.map { "address add \($0) dev \(channel)" }
        return commands
    }

    private var hostCommands: [String] {
        let mtu = firewall.faults.contains(.netHostMTU) ? LabTraffic.reducedMTU(below: spec.dataPlaneMTU) : spec.dataPlaneMTU
        var commands = ["link set lo up", "link set \(Plan.hostPF) mtu \(mtu)", "link set \(Plan.hostPF) up"]
        commands += plan.hostAddresses.map { "address add \($0) dev \(Plan.hostPF)" }
        commands += plan.hostRoutesToManagement.map { "route add \($0.destination.prefix) via \($0.via)" }
        if firewall.hostChannelOpen {
            commands.append("link set \(spec.hostChannelInterface) up")
            commands += plan.channelHostAddresses.map { "address add \($0) dev \(spec.hostChannelInterface)" }
        }
        return commands
    }

    private var peerCommands: [String] {
        var commands = ["link set lo up", "link set \(Plan.peerUplink) mtu \(spec.dataPlaneMTU)", "link set \(Plan.peerUplink) up"]
        commands += plan.peerHostNetworkAddresses.map { "address add \($0) dev \(Plan.peerUplink)" }
        for tenant in 0..<spec.tenantCount {
            commands += ["link set \(Plan.peerTenantPort(tenant)) mtu \(spec.dataPlaneMTU)", "link set \(Plan.peerTenantPort(tenant)) up"]
            commands += plan.peerTenantAddresses(tenant).map { "address add \($0) dev \(Plan.peerTenantPort(tenant))" }
        }
        return commands
    }

    private var oobCommands: [String] {
        ["link set lo up", "link set \(Plan.oobPort) up"]
            + plan.oobHostAddresses.map { "address add \($0) dev \(Plan.oobPort)" }
            + plan.oobRoutesToDataPlane.map { "route add \($0.destination.prefix) via \($0.via)" }
    }

    private func tenantCommands(_ tenant: Int) -> [String] {
        ["link set lo up", "link set \(Plan.tenantVF) mtu \(spec.dataPlaneMTU)", "link set \(Plan.tenantVF) up"]
            + plan.tenantAddresses(tenant).map { "address add \($0) dev \(Plan.tenantVF)" }
            + plan.tenantOnLinkRoutes.map { "route add \($0.prefix) dev \(Plan.tenantVF)" }
    }

    // MARK: agents

    /// A fresh random token, readable by root only.
    private func writeToken() throws(LabError) {
        let path = tokenFile
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .stateFile(path: path, reason: "cannot be written: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .stateFile(path: path, reason: "short write")
        }
    }

    private mutating func startAgents() throws(LabError) {
        let port = spec.agentControlPort
        let dpuControl = plan.dpuDataAddresses.map { SocketEndpoint($0.address, port) }
        let peerControl = (plan.peerHostNetworkAddresses + (0..<spec.tenantCount).flatMap(plan.peerTenantAddresses))
            .map { SocketEndpoint($0.address, port) }
        let oobControl = plan.oobHostAddresses.map { SocketEndpoint($0.address, port) }
        let services = try managementServices()
        let agents: [(role: String, namespace: String, control: [SocketEndpoint], services: [ManagementService])] = [
            ("dpu", plan.dpu, dpuControl, services),
            ("peer", plan.peer, peerControl, []),
            ("oob", plan.oob, oobControl, []),
        ]
        var started: [(role: String, pid: pid_t, output: Int32)] = []
        // Every agent is started before any is waited for, so they bind in parallel.
        defer { for agent in started { close(agent.output) } }
        for agent in agents {
            let child = try LabProcesses.start(spec.agent, namespace: agent.namespace, tokenFile: tokenFile,
                                               control: agent.control, services: agent.services,
                                               logPath: Lab.logPath(spec.name, role: agent.role, in: stateDirectory))
            agentPIDs.append(child.pid)
            started.append((agent.role, child.pid, child.output))
        }
        for agent in started {
            try LabProcesses.waitUntilReady(role: agent.role, pid: agent.pid, output: agent.output,
                                            logPath: Lab.logPath(spec.name, role: agent.role, in: stateDirectory))
        }
    }

    /// The DPU's management services: every management port on the OOB addresses
    /// (IPv4, IPv6, link-local), or on all addresses with the listens-everywhere
    /// fault, plus the channel addresses when the host channel is open.
    private func managementServices() throws(LabError) -> [ManagementService] {
        if firewall.faults.contains(.managementDown) { return [] }
        var addresses: [IPAddress]
        if firewall.faults.contains(.managementListensEverywhere) {
            addresses = [IPAddress("0.0.0.0")!, IPAddress("::")!]
        } else {
            addresses = plan.managementAddresses.map(\.address)
            addresses.append(try LabReader.linkLocal(namespace: plan.dpu, interface: Plan.dpuOOB))
            if firewall.hostChannelOpen { addresses += plan.channelDPUAddresses.map(\.address) }
        }
        let ports = spec.managementTCPPorts.map { (TransportProtocol.tcp, $0) } + spec.managementUDPPorts.map { (TransportProtocol.udp, $0) }
        var services = addresses.flatMap { address in
            ports.map { transport, port in
                ManagementService(kind: .wellKnown(transport: transport, port: port), endpoint: SocketEndpoint(address, port))
            }
        }
        if firewall.faults.contains(.udpServiceExposed) {
            services += ["0.0.0.0", "::"].map {
                ManagementService(kind: .udp, endpoint: SocketEndpoint(IPAddress($0)!, LabFault.exposedUDPServicePort))
            }
        }
        return services
    }

    // MARK: commands

    private func ip(_ namespace: String, _ commands: [String]) throws(LabError) {
        try run(["ip", "-n", namespace, "-batch", "-"], input: commands.joined(separator: "\n") + "\n")
    }

    private func run(_ arguments: [String], input: String? = nil) throws(LabError) {
        do {
            try CommandRunner.run(arguments, input: input)
        } catch {
            throw .command(error)
        }
    }
}
