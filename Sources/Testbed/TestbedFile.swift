import Profiles
import Systems

/// A hardware testbed as a lab describes it in `testbeds/*.yaml`: where the DPU's
/// management plane, its agents, the OOB network, the peer and the tenants are. The
/// profile says what must hold; the testbed file says where, in this lab, to look.
/// Documented in docs/testbed.md.
public struct TestbedFile: Sendable, Hashable {
    public static let supportedSchemaVersion = 1

    /// Lower-case words joined by dashes.
    public var id: String
    /// The control token every agent of the testbed was started with.
    public var agentTokenFile: String
    public var host: Host
    public var dpu: DPU
    public var oob: OOBNetwork
    public var peer: Peer
    public var tenants: [Tenant]
    /// Where the RDMA suite's traffic goes; nil: the suite's data-path checks have no peer.
    public var rdma: RDMA?

    /// The host under test: where the runner itself runs.
    public struct Host: Sendable, Hashable {
        /// The host's netdev toward the DPU (the PF), where neighbours are probed.
        public var interface: String
        /// The host-to-DPU management channel (BlueField's `tmfifo_net0`); nil: the profile's.
        public var managementChannel: String?
    }

    /// The DPU's Arm OS and BMC.
    public struct DPU: Sendable, Hashable {
        /// The control channel of the agent on the DPU's Arm OS, on a data-plane address
        /// (the profile's allowlist must admit it, or the host could not reach it); nil
        /// where the DPU's OS cannot run one: what needs it is then not offered.
        public var agent: SocketEndpoint?
        /// The DPU's addresses on the host link.
        public var dataAddresses: [IPAddress]
        /// The management plane: Arm OS on the OOB port, BMC (Redfish, IPMI).
        public var managementAddresses: [IPAddress]
        /// The DPU's side of the host management channel.
        public var channelAddresses: [IPAddress]
        /// The DPU's nftables counters, read through its agent; nil: not offered.
        public var firewall: Firewall?
    }

    /// The counters the isolation checks read: refused host packets, refused forwards.
    public struct Firewall: Sendable, Hashable {
        public var family: String
        public var table: String
        public var hostDrops: String
        public var forwardDrops: String
    }

    /// A machine on the DPU's out-of-band management network, running an agent.
    public struct OOBNetwork: Sendable, Hashable {
        /// Where the runner reaches that machine's agent (a lab network address, not
        /// one through the host under test's DPU).
        public var agent: SocketEndpoint
        /// The machine's addresses on the OOB network: the host must reach none of them.
        public var addresses: [IPAddress]
        /// Services on the OOB network the DPU reaches (positive control) and the host must not.
        public var services: [SocketEndpoint]
    }

    /// The far end of the DPU's uplink.
    public struct Peer: Sendable, Hashable {
        public var agent: SocketEndpoint
        public var addresses: [IPAddress]
    }

    /// The RDMA device under test and the peer's RDMA address, where `peer.agent` runs the responder.
    public struct RDMA: Sendable, Hashable {
        /// The host's RDMA device under test (`mlx5_0`); nil: those of the profile's network functions.
        public var device: String?
        /// The host's address on that device, where connections leave from; nil: the route decides.
        public var hostAddress: IPAddress?
        /// The peer's address on its RDMA device.
        public var peerAddress: IPAddress
    }

    /// A tenant (a VM or namespace owning a VF), probed from its own agent.
    public struct Tenant: Sendable, Hashable {
        public var agent: SocketEndpoint
        /// The tenant's VF netdev, as the tenant sees it.
        public var interface: String
        public var addresses: [IPAddress]
        /// The tenant's own peer: what it must reach (its positive control).
        public var peerAddresses: [IPAddress]
    }
}

/// Loads testbed files with the located diagnostics profiles have.
public enum TestbedLoader {
    public static func load(path: String) throws(ProfileError) -> TestbedFile {
        try ProfileLoader.document(path: path, kind: "testbed file") { yaml, root in TestbedSchema(yaml: yaml).file(root) }
    }

    /// `file` only labels diagnostics.
    public static func load(yaml text: String, file: String) throws(ProfileError) -> TestbedFile {
        try ProfileLoader.document(yaml: text, file: file, kind: "testbed file") { yaml, root in
            TestbedSchema(yaml: yaml).file(root)
        }
    }
}

/// The rules of a testbed file; every problem is reported with its line, column and key path.
struct TestbedSchema {
    let yaml: YAMLReader

    func file(_ root: YAMLValue) -> TestbedFile? {
        guard let fields = yaml.fields(of: root, allowed: ["schemaVersion", "id", "agentTokenFile", "host", "dpu", "oob",
                                                          "peer", "tenants", "rdma"]) else { return nil }
        let version = fields.required("schemaVersion").flatMap {
            yaml.integer($0, in: TestbedFile.supportedSchemaVersion...TestbedFile.supportedSchemaVersion)
        }
        let id = fields.required("id").flatMap { yaml.dashedName($0) }
        let token = fields.required("agentTokenFile").flatMap { yaml.text($0, maxLength: 4096) }
        let host = fields.required("host").flatMap(host)
        let dpu = fields.required("dpu").flatMap(dpu)
        let oob = fields.required("oob").flatMap(oob)
        let peer = fields.required("peer").flatMap(peer)
        let tenants = fields.optional("tenants").map { value in yaml.list(value)?.map(tenant) }
        let rdma = fields.optional("rdma").map(rdma)
        guard version != nil, let id, let token, let host, let dpu, let oob, let peer, rdma.map({ $0 != nil }) ?? true else { return nil }
        guard let tenants = tenants.map({ $0.map { $0.compactMap { $0 } } }) ?? [] else {
            return nil
        }
        return TestbedFile(id: id, agentTokenFile: token, host: host, dpu: dpu, oob: oob, peer: peer, tenants: tenants,
                           rdma: rdma ?? nil)
    }

    private func rdma(_ value: YAMLValue) -> TestbedFile.RDMA? {
        guard let fields = yaml.fields(of: value, allowed: ["device", "hostAddress", "peerAddress"]) else { return nil }
        let device = fields.optional("device").map { value in
            yaml.parsed(value, expectation: "an RDMA device name (1-63 characters, no '/' or spaces)") { text in
                (1...63).contains(text.utf8.count) && !text.contains(where: { $0 == "/" || $0.isWhitespace }) ? text : nil
            }
        }
        let host = fields.optional("hostAddress").map { yaml.parsed($0, expectation: "an IPv4 or IPv6 address", parse: IPAddress.init) }
        let peer = fields.required("peerAddress").flatMap { yaml.parsed($0, expectation: "an IPv4 or IPv6 address", parse: IPAddress.init) }
        guard device.map({ $0 != nil }) ?? true, host.map({ $0 != nil }) ?? true, let peer else { return nil }
        return TestbedFile.RDMA(device: device ?? nil, hostAddress: host ?? nil, peerAddress: peer)
    }

    private func host(_ value: YAMLValue) -> TestbedFile.Host? {
        guard let fields = yaml.fields(of: value, allowed: ["interface", "managementChannel"]) else { return nil }
        let interface = fields.required("interface").flatMap(interfaceName)
        let channel = fields.optional("managementChannel").map(interfaceName)
        guard let interface, channel.map({ $0 != nil }) ?? true else { return nil }
        return TestbedFile.Host(interface: interface, managementChannel: channel ?? nil)
    }

    private func dpu(_ value: YAMLValue) -> TestbedFile.DPU? {
        guard let fields = yaml.fields(of: value, allowed: ["agent", "dataAddresses", "managementAddresses", "channelAddresses",
                                                           "firewall"]) else { return nil }
        let agent = fields.optional("agent").map(endpoint)
        let data = fields.required("dataAddresses").flatMap { addressList($0, nonEmpty: true) }
        let management = fields.required("managementAddresses").flatMap { addressList($0, nonEmpty: true) }
        let channel = fields.optional("channelAddresses").map { addressList($0, nonEmpty: false) }
        let firewallValue = fields.optional("firewall")
        let firewall = firewallValue.map(firewall)
        if let firewallValue, agent == nil {
            yaml.report("the DPU's firewall counters are read through its agent: give dpu.agent, or leave out the firewall",
                        at: firewallValue)
            return nil
        }
        guard agent.map({ $0 != nil }) ?? true, let data, let management, channel.map({ $0 != nil }) ?? true,
              firewall.map({ $0 != nil }) ?? true else { return nil }
        return TestbedFile.DPU(agent: agent ?? nil, dataAddresses: data, managementAddresses: management,
                               channelAddresses: (channel ?? nil) ?? [], firewall: firewall ?? nil)
    }

    private func firewall(_ value: YAMLValue) -> TestbedFile.Firewall? {
        guard let fields = yaml.fields(of: value, allowed: ["family", "table", "hostDrops", "forwardDrops"]) else { return nil }
        let family = fields.required("family").flatMap { value in
            yaml.parsed(value, expectation: "an nftables family (ip, ip6, inet, bridge, netdev, arp)") { text in
                ["ip", "ip6", "inet", "bridge", "netdev", "arp"].contains(text) ? text : nil
            }
        }
        let names = ["table", "hostDrops", "forwardDrops"].map { key in fields.required(key).flatMap(nftName) }
        guard let family, let table = names[0], let hostDrops = names[1], let forwardDrops = names[2] else { return nil }
        return TestbedFile.Firewall(family: family, table: table, hostDrops: hostDrops, forwardDrops: forwardDrops)
    }

    private func oob(_ value: YAMLValue) -> TestbedFile.OOBNetwork? {
        guard let fields = yaml.fields(of: value, allowed: ["agent", "addresses", "services"]) else { return nil }
        let agent = fields.required("agent").flatMap(endpoint)
        let addresses = fields.required("addresses").flatMap { addressList($0, nonEmpty: true) }
        let services = fields.optional("services").map { value in yaml.list(value)?.map(endpoint) }
        guard let agent, let addresses else { return nil }
        guard let services = services.map({ list in list.flatMap { $0.contains(nil) ? nil : $0.compactMap { $0 } } }) ?? [] else {
            return nil
        }
        return TestbedFile.OOBNetwork(agent: agent, addresses: addresses, services: services)
    }

    private func peer(_ value: YAMLValue) -> TestbedFile.Peer? {
        guard let fields = yaml.fields(of: value, allowed: ["agent", "addresses"]) else { return nil }
        let agent = fields.required("agent").flatMap(endpoint)
        let addresses = fields.required("addresses").flatMap { addressList($0, nonEmpty: true) }
        guard let agent, let addresses else { return nil }
        return TestbedFile.Peer(agent: agent, addresses: addresses)
    }

    private func tenant(_ value: YAMLValue) -> TestbedFile.Tenant? {
        guard let fields = yaml.fields(of: value, allowed: ["agent", "interface", "addresses", "peerAddresses"]) else { return nil }
        let agent = fields.required("agent").flatMap(endpoint)
        let interface = fields.required("interface").flatMap(interfaceName)
        let addresses = fields.required("addresses").flatMap { addressList($0, nonEmpty: true) }
        let peerAddresses = fields.required("peerAddresses").flatMap { addressList($0, nonEmpty: true) }
        guard let agent, let interface, let addresses, let peerAddresses else { return nil }
        return TestbedFile.Tenant(agent: agent, interface: interface, addresses: addresses, peerAddresses: peerAddresses)
    }

    // MARK: Values

    private func endpoint(_ value: YAMLValue) -> SocketEndpoint? {
        yaml.parsed(value, expectation: "ADDRESS:PORT or [IPV6]:PORT", parse: SocketEndpoint.init)
    }

    private func addressList(_ value: YAMLValue, nonEmpty: Bool) -> [IPAddress]? {
        guard let list = yaml.list(value, nonEmpty: nonEmpty) else { return nil }
        let parsed = list.map { yaml.parsed($0, expectation: "an IPv4 or IPv6 address", parse: IPAddress.init) }
        return parsed.contains(where: { $0 == nil }) ? nil : parsed.compactMap { $0 }
    }

    /// A Linux interface name: 1-15 characters, no slash, colon or white space.
    private func interfaceName(_ value: YAMLValue) -> String? {
        yaml.parsed(value, expectation: "an interface name (1-15 characters, no '/', ':' or spaces)") { text in
            (1...15).contains(text.utf8.count) && !text.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
                ? text : nil
        }
    }

    /// An nftables table or counter name.
    private func nftName(_ value: YAMLValue) -> String? {
        yaml.parsed(value, expectation: "an nftables name (letters, digits, '_', starting with a letter)") { text in
            guard let first = text.first, first.isLetter,
                  text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            return text
        }
    }
}
