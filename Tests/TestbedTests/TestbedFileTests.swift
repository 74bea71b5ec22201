import Foundation
import Profiles
import Testbed
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A valid testbed file to break one line of.
let validTestbed = """
    schemaVersion: 1
    id: bench-1
    agentTokenFile: /etc/dpucert/agent.token
    host: {interface: ens1f0np0}
    dpu:
      agent: "192.0.2.1:7471"
      dataAddresses: ["192.0.2.1", "fe80::1"]
      managementAddresses: ["198.51.100.21"]
    oob: {agent: "203.0.113.9:7471", addresses: ["198.51.100.9"], services: ["198.51.100.9:7471"]}
    peer: {agent: "192.0.2.20:7471", addresses: ["192.0.2.20"]}

    """

@Suite("Testbed files")
struct TestbedFileTests {
    @Test("the shipped example loads, and a hardware testbed reaches every machine through its agent")
    func example() throws {
        let path = repositoryRoot + "/testbeds/example-bluefield.yaml"
        let file = try TestbedLoader.load(path: path)
        #expect(file.id == "lab3-bluefield2-rack12")
        #expect(file.dpu.managementAddresses.count == 3 && file.tenants.count == 2)
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let testbed = HardwareTestbed(file: file, path: path, profile: profile, hostInterfaces: [])
        let topology = testbed.topology
        #expect(topology.host.site == .current)
        let dpuAgent = try #require(file.dpu.agent)
        #expect(topology.dpu.site == .agent(dpuAgent) && topology.oob.site == .agent(file.oob.agent))
        #expect(topology.tenants.map(\.node.site) == file.tenants.map { .agent($0.agent) })
        #expect(topology.management.tcpPorts == [22, 443] && topology.management.udpPorts == [623])
        #expect(topology.firewall?.location.site == .agent(dpuAgent))
        #expect(topology.hostChannel.mustBeClosed && topology.hostChannel.interface == "tmfifo_net0")
        #expect(testbed.summary == "hardware testbed lab3-bluefield2-rack12 (\(path))")
        #expect(file.rdma?.device == "mlx5_0" && file.rdma?.peerAddress == file.peer.addresses.first)
    }

    @Test("without a firewall section the testbed offers no counters; link-local DPU addresses are scoped to the host link")
    func minimal() throws {
        let file = try TestbedLoader.load(yaml: validTestbed, file: "t.yaml")
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let topology = HardwareTestbed(file: file, path: "t.yaml", profile: profile, hostInterfaces: []).topology
        #expect(topology.firewall == nil)
        #expect(topology.dataPlane.dpuAddresses.map(\.description) == ["192.0.2.1", "fe80::1%ens1f0np0"])
        #expect(topology.tenants.isEmpty)
        #expect(topology.agent(.oob)?.control.map(\.description) == ["198.51.100.9:7471"])
    }

    @Test("the rdma section names the device under test and the peer's RDMA address; without it there is none")
    func rdma() throws {
        #expect(try TestbedLoader.load(yaml: validTestbed, file: "t.yaml").rdma == nil)
        let yaml = validTestbed + "rdma: {device: mlx5_0, hostAddress: \"192.0.2.5\", peerAddress: \"192.0.2.21\"}\n"
        let rdma = try #require(try TestbedLoader.load(yaml: yaml, file: "t.yaml").rdma)
        #expect(rdma.device == "mlx5_0" && rdma.hostAddress?.description == "192.0.2.5" && rdma.peerAddress.description == "192.0.2.21")
    }

    @Test("every mistake is reported with line, column and key path", arguments: [
        ("schemaVersion: 1", "schemaVersion: 2", "1:16: schemaVersion"),
        ("id: bench-1", "id: Bench_1", "2:5: id"),
        ("host: {interface: ens1f0np0}", "host: {interface: ens1f0np0, mtu: 9000}", "4:30: host.mtu: unknown key"),
        ("\"192.0.2.1:7471\"\n  dataAddresses", "\"192.0.2.1\"\n  dataAddresses", "6:10: dpu.agent: expected ADDRESS:PORT"),
        ("managementAddresses: [\"198.51.100.21\"]", "managementAddresses: []", "8:24: dpu.managementAddresses"),
        ("peer: {agent: \"192.0.2.20:7471\", addresses: [\"192.0.2.20\"]}", "", "missing required key 'peer'"),
        ("host: {interface: ens1f0np0}", "host: {interface: \"a/b\"}", "4:19: host.interface: expected an interface name"),
        ("peer: {agent", "rdma: {device: mlx5_0}\npeer: {agent", "rdma: missing required key 'peerAddress'"),
        ("peer: {agent", "rdma: {peerAddress: \"192.0.2.300\"}\npeer: {agent", "10:21: rdma.peerAddress: expected an IPv4 or IPv6 address"),
    ])
    func mistakes(original: String, replacement: String, expected: String) throws {
        let yaml = validTestbed.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != validTestbed)
        let error = #expect(throws: ProfileError.self) { try TestbedLoader.load(yaml: yaml, file: "t.yaml") }
        let text = error?.description ?? ""
        #expect(text.contains(expected), "\(text)")
        #expect(text.hasPrefix("t.yaml:"), "\(text)")
    }

    @Test("a firewall section must name its family, table and both counters")
    func firewall() throws {
        let yaml = validTestbed.replacingOccurrences(
            of: "  managementAddresses: [\"198.51.100.21\"]\n",
            with: "  managementAddresses: [\"198.51.100.21\"]\n  firewall: {family: inet6, table: dpu}\n")
        let error = #expect(throws: ProfileError.self) { try TestbedLoader.load(yaml: yaml, file: "t.yaml") }
        let messages = error?.diagnostics.map(\.description) ?? []
        #expect(messages.contains { $0.contains("dpu.firewall.family: expected an nftables family") }, "\(messages)")
        #expect(messages.contains { $0.contains("missing required key 'hostDrops'") }, "\(messages)")
        #expect(messages.contains { $0.contains("missing required key 'forwardDrops'") }, "\(messages)")
    }

    @Test("without an agent on the DPU nothing runs there: the DPU site says why, and the firewall counters cannot be named")
    func noDPUAgent() throws {
        let yaml = validTestbed.replacingOccurrences(of: "  agent: \"192.0.2.1:7471\"\n", with: "")
        let file = try TestbedLoader.load(yaml: yaml, file: "t.yaml")
        #expect(file.dpu.agent == nil)
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let topology = HardwareTestbed(file: file, path: "t.yaml", profile: profile, hostInterfaces: []).topology
        #expect(topology.dpu.site == .unavailable(HardwareTestbed.noDPUAgent))
        #expect(topology.dpu.site.unavailableReason == "the testbed file names no agent on the DPU's Arm OS (dpu.agent)")
        #expect(topology.agent(.dpu)?.control == [])

        let withFirewall = yaml.replacingOccurrences(
            of: "  managementAddresses: [\"198.51.100.21\"]\n",
            with: "  managementAddresses: [\"198.51.100.21\"]\n  firewall: {family: inet, table: dpu, hostDrops: h, forwardDrops: f}\n")
        let error = #expect(throws: ProfileError.self) { try TestbedLoader.load(yaml: withFirewall, file: "t.yaml") }
        #expect(error?.description.contains("dpu.firewall: the DPU's firewall counters are read through its agent") == true,
                "\(String(describing: error))")
    }
}
