import Foundation
import ReportTestSupport
import TestGates
import Testing

/// nftables in this process's own network namespace (root): the loopback testbed's
/// stand-in for the DPU firewall.
let nftablesHere = Requirement(
    name: "nftables in this network namespace",
    remedy: "run the tests as root with nftables installed (scripts/setup-deps.sh)"
) {
    guard let result = try? runProcess(["nft", "list", "tables"], timeout: 10) else { return "nft cannot be run" }
    return result.status == 0 ? nil : "nft list tables: " + result.combined.prefix(200)
}

/// A hardware testbed made of agents on loopback addresses in this namespace, no
/// network namespaces: the DPU (data plane 127.77.0.2, management 127.77.1.2), a machine
/// on the OOB network (127.77.2.1, reached by the runner at 127.77.9.1), the peer, and two
/// tenants. An nftables table plays the DPU firewall (on the input hook, so a refused
/// packet is silently lost as it would be on the DPU, not refused to its sender by the
/// local stack): the management plane answers only
/// the OOB network, the OOB network only the DPU's management side, the data plane only
/// the allowlisted agent port, and tenants not each other. The probes of each agent
/// leave from the address of the network it stands for (`--probe-source`).
final class LoopbackTestbed {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-testbed-\(UUID().uuidString)").path
    let table = "dpucert_tb_" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
    private var agents: [Process] = []

    var testbedFile: String { directory + "/testbed.yaml" }
    var profileFile: String { directory + "/profile.yaml" }

    /// `exposedService`: the DPU also serves SSH on its data-plane address, and the
    /// firewall lets the host reach it. Without `dpuAgentInFile` the testbed file names no
    /// agent on the DPU (nor, so, its firewall counters), as for a DPU that cannot run one.
    init(exposedService: Bool, dpuAgentInFile: Bool = true) throws {
        Self.removeLeftovers()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let token = directory + "/agent.token"
        try "loopback-testbed-token-\(UUID().uuidString)".write(toFile: token, atomically: true, encoding: .utf8)
        try writeProfile()
        try writeTestbed(token: token, dpuAgent: dpuAgentInFile)
        try installFirewall(exposedService: exposedService)
        do {
            try startAgent(token: token, listen: ["127.77.0.2:7471"], probeSource: "127.77.1.2",
                           serve: ["ssh@127.77.1.2:10022", "http@127.77.1.2:10443", "udp@127.77.1.2:10623"]
                               + (exposedService ? ["ssh@127.77.0.2:10022"] : []))
            try startAgent(token: token, listen: ["127.77.9.1:7471", "127.77.2.1:7471"], probeSource: "127.77.2.1")
            try startAgent(token: token, listen: ["127.77.3.1:7471", "127.77.4.254:7471", "127.77.5.254:7471"])
            try startAgent(token: token, listen: ["127.77.4.1:7471"], probeSource: "127.77.4.1")
            try startAgent(token: token, listen: ["127.77.5.1:7471"], probeSource: "127.77.5.1")
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// What a killed test run left: its agents (found by their token folder) and firewall tables.
    private static func removeLeftovers() {
        _ = try? runProcess(["pkill", "-f", "dpucert agent --token-file .*/dpucert-testbed-"], timeout: 10)
        let tables = (try? runProcess(["nft", "list", "tables", "inet"], timeout: 10))?.standardOutput ?? ""
        for line in tables.split(separator: "\n") where line.hasPrefix("table inet dpucert_tb_") {
            _ = try? runProcess(["nft", "delete", "table", "inet", String(line.dropFirst("table inet ".count))], timeout: 10)
        }
    }

    private func tearDown() {
        for agent in agents where agent.isRunning {
            agent.terminate()
            let deadline = Date().addingTimeInterval(5)
            while agent.isRunning && Date() < deadline { usleep(20_000) }
            if agent.isRunning { kill(agent.processIdentifier, SIGKILL) }
            agent.waitUntilExit()
        }
        agents = []
        _ = try? runProcess(["nft", "delete", "table", "inet", table], timeout: 10)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The default profile with management services on unprivileged ports.
    private func writeProfile() throws {
        let profile = try String(contentsOfFile: Tooling.repositoryRoot + "/profiles/emulated-smartnic.yaml", encoding: .utf8)
            .replacingOccurrences(of: "tcpPorts: [22, 443]", with: "tcpPorts: [10022, 10443]")
            .replacingOccurrences(of: "udpPorts: [623]", with: "udpPorts: [10623]")
        try profile.write(toFile: profileFile, atomically: true, encoding: .utf8)
    }

    private func writeTestbed(token: String, dpuAgent: Bool) throws {
        let agentLines = dpuAgent ? """
              agent: "127.77.0.2:7471"
              firewall: {family: inet, table: \(table), hostDrops: host_drops, forwardDrops: forward_drops}

            """ : ""
        try """
        schemaVersion: 1
        id: loopback-testbed
        agentTokenFile: \(token)
        host: {interface: lo}
        dpu:
        \(agentLines)  dataAddresses: ["127.77.0.2"]
          managementAddresses: ["127.77.1.2"]
          channelAddresses: ["127.77.6.2"]
        oob:
          agent: "127.77.9.1:7471"
          addresses: ["127.77.2.1"]
          services: ["127.77.2.1:7471"]
        peer:
          agent: "127.77.3.1:7471"
          addresses: ["127.77.3.1"]
        tenants:
          - {agent: "127.77.4.1:7471", interface: lo, addresses: ["127.77.4.1"], peerAddresses: ["127.77.4.254"]}
          - {agent: "127.77.5.1:7471", interface: lo, addresses: ["127.77.5.1"], peerAddresses: ["127.77.5.254"]}

        """.write(toFile: testbedFile, atomically: true, encoding: .utf8)
    }

    private func installFirewall(exposedService: Bool) throws {
        let dataPlanePorts = exposedService ? "{ 7471, 10022 }" : "7471"
        let rules = """
        table inet \(table) {
          counter host_drops {}
          counter forward_drops {}
          chain input {
            type filter hook input priority 0; policy accept;
            ip daddr 127.77.1.2 ip saddr != 127.77.2.1 counter name host_drops drop
            ip daddr 127.77.2.0/24 ip saddr != 127.77.1.2 counter name forward_drops drop
            ip daddr 127.77.0.2 tcp dport != \(dataPlanePorts) drop
            ip daddr 127.77.0.2 meta l4proto udp drop
            ip saddr 127.77.4.1 ip daddr 127.77.5.0/24 drop
            ip saddr 127.77.5.1 ip daddr 127.77.4.0/24 drop
          }
        }

        """
        let path = directory + "/firewall.nft"
        try rules.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runProcess(["nft", "-f", path], timeout: 10)
        guard result.status == 0 else { throw TestbedSetupError("nft -f: \(result.combined)") }
    }

    private func startAgent(token: String, listen: [String], probeSource: String? = nil, serve: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Tooling.executable))
        process.arguments = ["agent", "--token-file", token] + listen.flatMap { ["--listen", $0] }
            + (probeSource.map { ["--probe-source", $0] } ?? []) + serve.flatMap { ["--serve", $0] }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let live = LiveOutput(output)
        try process.run()
        agents.append(process)
        guard live.wait(for: "dpucert agent: control on", timeout: 20) else {
            throw TestbedSetupError("agent \(listen) did not start: \(live.current)")
        }
    }
}

struct TestbedSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("Isolation against a hardware testbed file, without namespaces", .serialized, .runsDpucert,
       .requires(nftablesHere))
struct HardwareTestbedTests {
    /// The isolation checks that probe the network (the management-function check reads
    /// the PCI bus, where this host has no card).
    static let networkChecks = ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface", "isolation.no-route-to-oob",
                                "isolation.host-mgmt-channel-closed", "isolation.tenant-separation"]

    func run(_ testbed: LoopbackTestbed, in folder: OutputFolder) throws -> (ProcessOutput, [[String: Any]]) {
        let output = try dpucert(["run", "--profile", testbed.profileFile, "--testbed", testbed.testbedFile]
                                 + Self.networkChecks.flatMap { ["--only", $0] } + ["--out", folder.path, "--verbose"], timeout: 240)
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]], "\(output.combined)")
        return (output, results)
    }

    @Test("a clean testbed: every isolation check passes, through agents that are not in namespaces")
    func cleanTestbed() throws {
        let testbed = try LoopbackTestbed(exposedService: false)
        let folder = OutputFolder()
        let (output, results) = try run(testbed, in: folder)
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.standardOutput.hasPrefix("dpucert: HARDWARE run"))
        #expect(output.standardOutput.contains("hardware testbed loopback-testbed"))
        #expect(results.compactMap { $0["id"] as? String } == Self.networkChecks)
        for result in results {
            #expect(result["status"] as? String == "passed", "\(result["id"] ?? ""): \(result["message"] ?? "")")
        }
        let evidence = results.flatMap { $0["evidence"] as? [String] ?? [] }.joined(separator: "\n")
        #expect(evidence.contains("agent 127.77.9.1:7471"), "probes from the OOB agent are named as such")
        #expect(evidence.contains("positive control held: the DPU firewall counted"))
    }

    @Test("a management service exposed on the DPU's data plane turns the isolation checks red, naming it")
    func exposedService() throws {
        let testbed = try LoopbackTestbed(exposedService: true)
        let folder = OutputFolder()
        let (output, results) = try run(testbed, in: folder)
        #expect(output.status == 1, "\(output.combined)")
        let failed = results.filter { $0["status"] as? String == "failed" }
        #expect(Set(failed.compactMap { $0["id"] as? String }) == ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface"],
                "\(results.map { "\($0["id"] ?? ""): \($0["status"] ?? "") \($0["message"] ?? "")" })")
        for result in failed {
            #expect((result["message"] as? String)?.contains("127.77.0.2") == true, "\(result["message"] ?? "")")
            #expect((result["message"] as? String)?.contains("10022") == true, "\(result["message"] ?? "")")
        }
    }

    @Test("without an agent on the DPU the attack surface's white-box half is skipped with the reason; nothing is certified")
    func noDPUAgent() throws {
        let testbed = try LoopbackTestbed(exposedService: false, dpuAgentInFile: false)
        let folder = OutputFolder()
        let output = try dpucert(["run", "--profile", testbed.profileFile, "--testbed", testbed.testbedFile,
                                  "--only", "isolation.dpu-attack-surface", "--out", folder.path], timeout: 240)
        let report = try loadReport(folder.path)
        let result = try #require((report["results"] as? [[String: Any]])?.first, "\(output.combined)")
        #expect(result["status"] as? String == "skipped", "\(result["message"] ?? "")")
        #expect((result["message"] as? String)?.hasPrefix("cannot conclude: the DPU's own view of its listening sockets "
                                                          + "(the testbed file names no agent on the DPU's Arm OS (dpu.agent))") == true,
                "\(result["message"] ?? "")")
        let verdict = try #require((report["summary"] as? [String: Any])?["verdict"] as? String)
        #expect(verdict != "certified")
    }

    @Test("a testbed file with a mistake is exit 2 naming file, line, column and key")
    func badTestbedFile() throws {
        let folder = OutputFolder()
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let file = folder.path + "/broken-testbed.yaml"
        try """
        schemaVersion: 1
        id: broken
        agentTokenFile: /nonexistent/token
        host: {interface: ens1f0np0}
        dpu:
          agent: "192.0.2.1:7471"
          dataAddresses: ["192.0.2.1"]
          managementAddresses: ["192.0.2.300"]
        oob: {agent: "198.51.100.9:7471", addresses: ["198.51.100.9"]}
        peer: {agent: "192.0.2.20:7471", addresses: ["192.0.2.20"]}

        """.write(toFile: file, atomically: true, encoding: .utf8)
        let output = try dpucert(["run", "--profile", "profiles/emulated-smartnic.yaml", "--testbed", file,
                                  "--out", folder.path + "/reports"])
        #expect(output.status == 2, "\(output.combined)")
        #expect(output.standardError.contains("broken-testbed.yaml:8:"), "\(output.standardError)")
        #expect(output.standardError.contains("dpu.managementAddresses[0]"), "\(output.standardError)")
    }
}
