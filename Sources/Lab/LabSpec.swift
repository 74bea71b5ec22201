import Foundation
import Probes
import Profiles
import Systems
import Testbed

/// What an emulated lab is built from: the DPU's management plane and data-plane
/// policy as a device profile states them, and how to start the agent.
public struct LabSpec: Sendable, Hashable, Codable {
    /// The lab name: 1-12 letters and digits, starting with a letter. Every object
    /// the lab creates carries it (`NAME-host`, `dpucert_NAME`, `NAME.json` in the state directory).
    public var name: String
    /// TCP ports the DPU's management plane serves (SSH 22, Redfish/HTTPS 443, ...).
    public var managementTCPPorts: [UInt16]
    /// UDP ports the DPU's management plane serves (IPMI RMCP 623, ...).
    public var managementUDPPorts: [UInt16]
    /// The DPU's OOB management address, IPv4, inside 198.18.0.0/15.
    public var managementIPv4: InterfaceAddress
    /// The DPU's OOB management address, IPv6, inside 2001:db8::/32.
    public var managementIPv6: InterfaceAddress
    /// What the host and tenant side may reach on the DPU's data-plane addresses.
    public var dataPlaneAllowlist: [NetworkService]
    /// How many tenants (VMs owning a VF each) to create, 0-16.
    public var tenantCount: Int
    /// The host↔DPU management channel's interface name (BlueField: `tmfifo_net0`).
    public var hostChannelInterface: String
    /// Whether the profile requires the channel closed (BlueField restricted mode).
    public var hostChannelMustBeClosed: Bool
    /// How to start `dpucert agent` (executable and the arguments before the agent's own).
    public var agent: AgentLauncher
    /// An existing control token file; nil: the lab writes a fresh token beside its state file.
    public var tokenFile: String?
    /// The agents' control port; must be on the allowlist (TCP).
    public var agentControlPort: UInt16
    /// The MTU of every data-plane netdev (host PF, VFs, the DPU's ports, the peer's).
    public var dataPlaneMTU: Int

    public init(name: String,
                agent: AgentLauncher,
                managementTCPPorts: [UInt16] = [22, 443],
                managementUDPPorts: [UInt16] = [623],
                managementIPv4: InterfaceAddress = InterfaceAddress("198.19.0.2/24")!,
                managementIPv6: InterfaceAddress = InterfaceAddress("2001:db8:ff::2/64")!,
                dataPlaneAllowlist: [NetworkService] = [NetworkService(name: "dpucert-agent-control", transport: .tcp, port: 7471)],
                tenantCount: Int = 2,
                hostChannelInterface: String = "tmfifo_net0",
                hostChannelMustBeClosed: Bool = true,
                tokenFile: String? = nil,
                agentControlPort: UInt16 = 7471,
                dataPlaneMTU: Int = 1500) {
        self.name = name
        self.agent = agent
        self.managementTCPPorts = managementTCPPorts
        self.managementUDPPorts = managementUDPPorts
        self.managementIPv4 = managementIPv4
        self.managementIPv6 = managementIPv6
        self.dataPlaneAllowlist = dataPlaneAllowlist
        self.tenantCount = tenantCount
        self.hostChannelInterface = hostChannelInterface
        self.hostChannelMustBeClosed = hostChannelMustBeClosed
        self.tokenFile = tokenFile
        self.agentControlPort = agentControlPort
        self.dataPlaneMTU = dataPlaneMTU
    }

    /// Checks every field; the first problem found is thrown with field, expectation and value.
    public func validate() throws(LabError) {
        func invalid(_ field: String, _ expected: String, _ found: String) -> LabError {
            .invalidSpec(field: field, expected: expected, found: found)
        }
        guard Self.isValidName(name) else {
            throw invalid("name", "1-\(Self.maximumNameLength) letters and digits, starting with a letter", "\"\(name)\"")
        }
        for (field, ports) in [("managementTCPPorts", managementTCPPorts), ("managementUDPPorts", managementUDPPorts)] {
            if ports.contains(0) { throw invalid(field, "ports 1-65535", "\(ports)") }
            if Set(ports).count != ports.count { throw invalid(field, "no port twice", "\(ports)") }
        }
        guard managementIPv4.address.family == .ipv4, LabAddressPlan.benchmarkRange.contains(managementIPv4.address),
              (16...29).contains(managementIPv4.prefixLength) else {
            throw invalid("managementIPv4", "an IPv4 address/16-29 inside \(LabAddressPlan.benchmarkRange)", managementIPv4.description)
        }
        guard managementIPv6.address.family == .ipv6, managementIPv6.address.zone == nil,
              LabAddressPlan.documentationRange.contains(managementIPv6.address),
              (48...120).contains(managementIPv6.prefixLength) else {
            throw invalid("managementIPv6", "an IPv6 address/48-120 inside \(LabAddressPlan.documentationRange)", managementIPv6.description)
        }
        for reserved in LabAddressPlan.reservedNetworks {
            for address in [managementIPv4, managementIPv6] where address.overlaps(reserved) {
                throw invalid(address.address.family == .ipv4 ? "managementIPv4" : "managementIPv6",
                              "a network outside the lab's data-plane and channel networks (\(reserved) is reserved)",
                              address.description)
            }
        }
        for address in [managementIPv4, managementIPv6]
        where address.address == address.network || LabAddressPlan.oobHostAddress(beside: address) == nil {
            throw invalid(address.address.family == .ipv4 ? "managementIPv4" : "managementIPv6",
                          "a host address in a network with room for the OOB host", address.description)
        }
        for service in dataPlaneAllowlist where service.port == 0 || service.name.isEmpty {
            throw invalid("dataPlaneAllowlist", "named services on ports 1-65535", service.description)
        }
        guard dataPlaneAllowlist.contains(where: { $0.transport == .tcp && $0.port == agentControlPort }) else {
            throw invalid("dataPlaneAllowlist", "an entry for the agent control port tcp/\(agentControlPort)",
                          dataPlaneAllowlist.map(\.description).joined(separator: ", "))
        }
        let allowedTCP = Set(dataPlaneAllowlist.filter { $0.transport == .tcp }.map(\.port))
        let allowedUDP = Set(dataPlaneAllowlist.filter { $0.transport == .udp }.map(\.port))
        if let port = managementTCPPorts.first(where: allowedTCP.contains) ?? managementUDPPorts.first(where: allowedUDP.contains) {
            throw invalid("dataPlaneAllowlist", "no management port (a port cannot be both)", "port \(port)")
        }
        let mtuRange = Profile.NetworkRequirements.mtuRange
        guard mtuRange.contains(dataPlaneMTU) else {
            throw invalid("dataPlaneMTU", "\(mtuRange.lowerBound)-\(mtuRange.upperBound) bytes", "\(dataPlaneMTU)")
        }
        guard (0...LabAddressPlan.maximumTenants).contains(tenantCount) else {
            throw invalid("tenantCount", "0-\(LabAddressPlan.maximumTenants)", "\(tenantCount)")
        }
        guard Self.isValidInterfaceName(hostChannelInterface),
              !LabAddressPlan.dpuInterfaceNames(tenants: tenantCount).contains(hostChannelInterface) else {
            throw invalid("hostChannelInterface", "an interface name of 1-15 characters not used by the lab",
                          "\"\(hostChannelInterface)\"")
        }
        if let tokenFile, !FileManager.default.isReadableFile(atPath: tokenFile) {
            throw invalid("tokenFile", "a readable token file (or none, for a generated token)", "\"\(tokenFile)\"")
        }
        guard FileManager.default.isExecutableFile(atPath: agent.executable) else {
            throw invalid("agent.executable", "an executable file", "\"\(agent.executable)\"")
        }
    }

    static let maximumNameLength = 12

    static func isValidName(_ name: String) -> Bool {
        func isLetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }
        let scalars = Array(name.unicodeScalars)
        guard (1...maximumNameLength).contains(scalars.count), isLetter(scalars[0]) else { return false }
        return scalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }

    static func isValidInterfaceName(_ name: String) -> Bool {
        (1...15).contains(name.utf8.count) && !name.contains { $0 == "/" || $0 == ":" || $0.isWhitespace } && name != "." && name != ".."
    }
}

/// How the lab starts an agent: `executable arguments... --listen ... --token-file ... --serve ...`,
/// e.g. (`/usr/local/bin/dpucert`, [`agent`]).
public struct AgentLauncher: Sendable, Hashable, Codable {
    public var executable: String
    public var arguments: [String]

    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }
}
