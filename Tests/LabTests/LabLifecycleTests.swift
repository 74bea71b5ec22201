@testable import Lab
import Agent
import Foundation
import Glibc
import Systems
import TestGates
import Testbed
import Testing

@Suite("Lab spec validation")
struct LabSpecTests {
    private static func spec(_ change: (inout LabSpec) -> Void = { _ in }) -> LabSpec {
        var spec = LabSpec(name: "v1", agent: AgentLauncher(executable: "/bin/true", arguments: []))
        change(&spec)
        return spec
    }

    static let badSpecs: [(field: String, spec: LabSpec)] = [
        ("name", spec { $0.name = "has-dash" }),
        ("name", spec { $0.name = "averyveryverylongname" }),
        ("name", spec { $0.name = "9lives" }),
        ("managementIPv4", spec { $0.managementIPv4 = InterfaceAddress("10.0.0.2/24")! }),
        ("managementIPv4", spec { $0.managementIPv4 = InterfaceAddress("198.18.1.2/24")! }),
        ("managementIPv4", spec { $0.managementIPv4 = InterfaceAddress("198.19.0.0/24")! }),
        ("managementIPv6", spec { $0.managementIPv6 = InterfaceAddress("fd00::2/64")! }),
        ("managementIPv6", spec { $0.managementIPv6 = InterfaceAddress("2001:db8:1:5::2/64")! }),
        ("managementTCPPorts", spec { $0.managementTCPPorts = [22, 22] }),
        ("dataPlaneAllowlist", spec { $0.dataPlaneAllowlist = [] }),
        ("dataPlaneAllowlist", spec { $0.dataPlaneAllowlist.append(NetworkService(name: "ssh", transport: .tcp, port: 22)) }),
        ("tenantCount", spec { $0.tenantCount = 17 }),
        ("dataPlaneMTU", spec { $0.dataPlaneMTU = 1000 }),
        ("dataPlaneMTU", spec { $0.dataPlaneMTU = 9217 }),
        ("hostChannelInterface", spec { $0.hostChannelInterface = "oob_net0" }),
        ("hostChannelInterface", spec { $0.hostChannelInterface = "a-name-far-too-long" }),
        ("agent.executable", spec { $0.agent.executable = "/nonexistent/dpucert" }),
    ]

    @Test("The default spec is valid")
    func defaults() throws {
        try Self.spec().validate()
    }

    @Test("Each bad field is named in the error", arguments: badSpecs)
    func invalid(field: String, spec: LabSpec) {
        #expect {
            try spec.validate()
        } throws: { error in
            guard case .invalidSpec(let named, _, _) = error as? LabError else { return false }
            return named == field
        }
    }

    @Test("Faults are looked up by name; unknown names list the known ones")
    func faultNames() throws {
        #expect(try LabFault.named("isolation-tenant-leak") == .tenantLeak)
        #expect {
            try LabFault.named("isolation-nope")
        } throws: { error in
            String(describing: error).contains("isolation-dpu-forwards")
        }
    }

    @Test("A fault the spec cannot carry is refused before anything is built",
          arguments: [(LabFault.tenantLeak, "tenantCount"), (.netVFUnfair, "tenantCount"), (.netMTUClamp, "dataPlaneMTU"),
                      (.netHostMTU, "dataPlaneMTU")])
    func faultNeedsRoom(fault: LabFault, field: String) {
        var spec = Self.spec()
        spec.tenantCount = 1
        spec.dataPlaneMTU = 1280
        #expect {
            _ = try Lab.up(spec, faults: [fault], stateDirectory: "/nonexistent")
        } throws: { error in
            guard case .invalidSpec(let named, _, _) = error as? LabError else { return false }
            return named == field
        }
    }

    @Test("Every fault names the tests it breaks and how")
    func faultTable() {
        let knownTests: Set = ["isolation.mgmt-unreachable-from-host", "isolation.dpu-attack-surface", "isolation.no-route-to-oob",
                               "isolation.host-mgmt-channel-closed", "isolation.tenant-separation",
                               "network.link-state", "network.mtu", "network.tcp-throughput", "network.tcp-latency",
                               "network.udp-loss", "network.vf-fairness"]
        for fault in LabFault.allCases {
            #expect(!fault.breaks.isEmpty && Set(fault.breaks).isSubset(of: knownTests), "\(fault)")
            #expect(fault.breaks.allSatisfy { $0.hasPrefix(fault.suite + ".") }, "\(fault)")
            #expect(fault.summary.count > 20)
        }
        #expect(Set(LabFault.allCases.flatMap(\.breaks)) == knownTests)
        #expect(LabFault.managementDown.effect == .positiveControlFails)
        #expect(LabFault.allCases.filter { $0.effect == .positiveControlFails } == [.managementDown])
    }
}

@Suite("Lab lifecycle", .serialized, .requires(.networkNamespaces))
struct LabLifecycleTests {
    private func labNamespaces(_ name: String) -> [String] {
        ["host", "dpu", "oob", "peer", "tenant0", "tenant1"].map { "\(name)-\($0)" }
    }

    @Test("Up creates the namespaces and state; a second up is refused; down twice is fine")
    func upAndDown() throws {
        let spec = LabSupport.spec()
        let lab = try Lab.up(spec)
        defer { try? lab.down() }
        for namespace in labNamespaces(spec.name) { #expect(NetworkNamespace.exists(namespace), "\(namespace)") }
        #expect(FileManager.default.fileExists(atPath: "\(lab.stateDirectory)/\(spec.name).json"))
        let dpuLog = try String(contentsOfFile: "\(lab.stateDirectory)/\(spec.name).dpu.log", encoding: .utf8)
        #expect(dpuLog.contains(AgentServer.readyLinePrefix), "the ready line the lab waited for is in the log: \(dpuLog)")
        #expect(FileManager.default.fileExists(atPath: lab.topology.agentTokenFile))
        #expect {
            try Lab.up(spec)
        } throws: { error in
            guard case .alreadyExists(let name, let objects) = error as? LabError else { return false }
            return name == spec.name && objects.contains("netns \(spec.name)-dpu")
        }

        try lab.down()
        for namespace in labNamespaces(spec.name) { #expect(!NetworkNamespace.exists(namespace), "\(namespace)") }
        #expect(!FileManager.default.fileExists(atPath: "\(lab.stateDirectory)/\(spec.name).json"))
        #expect(!FileManager.default.fileExists(atPath: lab.topology.agentTokenFile))
        try lab.down()
        try Lab.down(name: spec.name)
    }

    @Test("An agent that never prints its ready line fails the lab's start within the bound, naming the line")
    func silentAgent() throws {
        var spec = LabSupport.spec()
        spec.agent = AgentLauncher(executable: LabSupport.fixture, arguments: ["silent"])
        let started = ContinuousClock.now
        #expect {
            _ = try Lab.up(spec)
        } throws: { error in
            guard case .agentNotReady(_, let detail)? = error as? LabError else { return false }
            return detail.contains(AgentServer.readyLinePrefix) && detail.contains("within")
        }
        #expect(started.duration(to: .now) < LabProcesses.readinessTimeout + .seconds(8))
        #expect(try Lab.objects(named: spec.name, in: Lab.defaultStateDirectory).isEmpty, "a failed start leaves nothing")
    }

    @Test("DPUCERT_RUN_DIR moves a lab's state directory")
    func runDirectoryFromEnvironment() throws {
        let name = LabSupport.uniqueName()
        let runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-run-\(name)").path
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        let log = runDirectory + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try CommandRunner.spawnDetached(["env", "\(DPUCertDirectories.runVariable)=\(runDirectory)", LabSupport.fixture,
                                                   "hold", name], logPath: log)
        defer {
            kill(pid, SIGKILL)
            _ = CommandRunner.waitForExit(pid, timeout: .seconds(5))
            try? Lab.down(name: name, stateDirectory: runDirectory + "/labs")
        }
        try awaitHolder(pid, name: name, log: log)
        #expect(FileManager.default.fileExists(atPath: "\(runDirectory)/labs/\(name).json"))
        #expect(!FileManager.default.fileExists(atPath: "\(Lab.defaultStateDirectory)/\(name).json"))
    }

    @Test("A run killed with SIGKILL leaves a leftover that is found and removed")
    func killedRun() throws {
        let name = LabSupport.uniqueName()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-hold-\(name).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try CommandRunner.spawnDetached([LabSupport.fixture, "hold", name], logPath: log)
        defer { try? Lab.down(name: name) }
        try awaitHolder(pid, name: name, log: log)
        #expect(try !Lab.leftovers().contains { $0.name == name }, "a running owner is not a leftover")

        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)

        let leftover = try #require(try Lab.leftovers().first { $0.name == name })
        #expect(leftover.ownerPID == pid)
        #expect(Set(leftover.namespaces) == Set(labNamespaces(name)))
        let agents = try CommandRunner.run(["ip", "netns", "pids", "\(name)-dpu"]).standardOutput
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(!agents.isEmpty, "the killed run's DPU agent still runs")

        #expect(try Lab.removeLeftovers().contains(name))
        for namespace in labNamespaces(name) { #expect(!NetworkNamespace.exists(namespace), "\(namespace)") }
        #expect(try !Lab.leftovers().contains { $0.name == name })
        for agent in agents {
            let stat = try? String(contentsOfFile: "/proc/\(agent)/stat", encoding: .utf8)
            #expect(stat == nil || stat?.contains(") Z ") == true, "agent \(agent) still runs: \(stat ?? "")")
        }
    }

    @Test("A standing lab is not a leftover, and attaching to it describes the same lab")
    func standing() throws {
        let spec = LabSupport.spec(tenants: 1)
        let lab = try Lab.up(spec, faults: [.dpuForwards], standing: true)
        defer { try? lab.down() }
        #expect(try !Lab.leftovers().contains { $0.name == spec.name })
        let attached = try Lab.attach(name: spec.name)
        #expect(attached.topology == lab.topology)
        #expect(attached.faults == [.dpuForwards])
        try attached.down()
        #expect(throws: LabError.self) { try Lab.attach(name: spec.name) }
    }

    @Test("No namespace has a route out of the machine, and every address is from the lab ranges")
    func noRouteOut() throws {
        try LabSupport.with { lab in
            let lanes = [InterfaceAddress("198.18.0.0/15")!, InterfaceAddress("2001:db8::/32")!]
            for node in lab.topology.nodes {
                guard case .namespace(let namespace) = node.site else { Issue.record("\(node) has no namespace"); continue }
                for (family, target) in [("-4", "1.1.1.1"), ("-6", "2606:4700:4700::1111")] {
                    let get = try CommandRunner.run(["ip", "-n", namespace, family, "route", "get", target], allowFailure: true)
                    #expect(!get.succeeded, "\(namespace) routes \(target): \(get.standardOutput)")
                    let defaults = try CommandRunner.run(["ip", "-n", namespace, family, "route", "show", "default"])
                    #expect(defaults.standardOutput.isEmpty, "\(namespace): \(defaults.standardOutput)")
                }
                let results = try probe([.tcp(SocketEndpoint(IPAddress("1.1.1.1")!, 80)),
                                         .tcp(SocketEndpoint(IPAddress("2606:4700:4700::1111")!, 80))], from: node.site)
                #expect(results.allSatisfy { $0.outcome == .notSent }, "\(results)")
                for interface in node.interfaces {
                    for address in interface.addresses.map(\.address) where !address.isLinkLocal {
                        #expect(lanes.contains { $0.contains(address) }, "\(node) \(interface.name) has \(address)")
                    }
                }
            }
        }
    }
}

/// Waits (at most 15 s) until the lab-holding fixture `pid` says its lab `name` is up.
private func awaitHolder(_ pid: pid_t, name: String, log: String) throws {
    let deadline = ContinuousClock.now + .seconds(15)
    var output = ""
    while !output.contains("ready") && ContinuousClock.now < deadline && CommandRunner.reap(pid) == nil {
        Thread.sleep(forTimeInterval: 0.05)
        output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }
    try #require(output.contains("ready \(name)"), "holder output: \(output)")
}
