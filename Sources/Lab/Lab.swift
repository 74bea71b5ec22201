// Lab: the emulated DPU set-up on this machine. Network namespaces for the host, the
// DPU's Arm OS, the OOB network, the peer and the tenants, cabled with veth pairs and
// bridges, the DPU's nftables firewall, and `dpucert agent` processes standing in for
// the management services and the peer. It is one `Testbed` (`LabTestbed`); the lab
// faults (`LabFault`) build it with one isolation defect each. Emulated PCI cards are
// the Emulator module's.
import Foundation
import Glibc
import Probes
import Systems
import Testbed

/// An emulated DPU server on this machine: network namespaces NAME-host (x86 host
/// OS), NAME-dpu (DPU Arm OS), NAME-oob (lab OOB management network), NAME-peer
/// (far end of the wire) and NAME-tenantN (VMs owning VFs), cabled with veth pairs
/// the way a BlueField server is, the DPU's nftables firewall, and agents.
///
///     host ens1f0np0 ── pf0hpf ┐                       ┌ p0 ── eth0 peer
///                              └ br0 (DPU data plane) ─┘
///     tenantN eth0 ── pf0vfN ─── brtN ─── p0tN ── eth0tN peer
///     host tmfifo_net0 ── tmfifo_net0 DPU oob_net0 ── eth0 oob
///
/// Nothing is created outside the lab's namespaces except the state file (and token)
/// in its state directory, so `down` and `leftovers` find everything by name.
public final class Lab: Sendable {
    /// `$DPUCERT_RUN_DIR/labs` (/run/dpucert/labs); every entry point takes another.
    public static var defaultStateDirectory: String { DPUCertDirectories.run + "/labs" }

    public let spec: LabSpec
    /// The directory holding its state file, generated token and agent logs.
    public let stateDirectory: String
    public let faults: Set<LabFault>
    /// What the lab looks like, for the checks.
    public let topology: LabTopology
    private let agentPIDs: [pid_t]

    public var name: String { spec.name }

    private init(spec: LabSpec, stateDirectory: String, faults: Set<LabFault>, topology: LabTopology, agentPIDs: [pid_t]) {
        self.spec = spec
        self.stateDirectory = stateDirectory
        self.faults = faults
        self.topology = topology
        self.agentPIDs = agentPIDs
    }

    /// Builds the lab. Refuses a name whose objects exist. On failure everything
    /// created so far is removed again. `standing`: the lab outlives this process
    /// (`dpucert emulate up`) and is never reported as a leftover.
    public static func up(_ spec: LabSpec, faults: [LabFault] = [], standing: Bool = false,
                          stateDirectory: String = defaultStateDirectory) throws(LabError) -> Lab {
        try spec.validate()
        for fault in [LabFault.tenantLeak, .netVFUnfair] where faults.contains(fault) && spec.tenantCount < 2 {
            throw .invalidSpec(field: "tenantCount", expected: "at least 2 with \(fault)", found: "\(spec.tenantCount)")
        }
        for fault in [LabFault.netMTUClamp, .netHostMTU]
        where faults.contains(fault) && LabTraffic.reducedMTU(below: spec.dataPlaneMTU) >= spec.dataPlaneMTU {
            throw .invalidSpec(field: "dataPlaneMTU", expected: "above \(LabTraffic.reducedMTU(below: spec.dataPlaneMTU)) with \(fault)",
                               found: "\(spec.dataPlaneMTU)")
        }
        let plan = LabAddressPlan(spec: spec)
        let existing = try objects(named: spec.name, in: stateDirectory)
        if !existing.isEmpty { throw .alreadyExists(name: spec.name, objects: existing) }
        let faultSet = Set(faults)
        let owner = standing ? nil : ProcessIdentity.current
        let state = LabState(spec: spec, faults: faults, owner: owner, tokenFile: spec.tokenFile ?? tokenPath(spec.name, in: stateDirectory),
                             tokenGenerated: spec.tokenFile == nil, createdAt: Date())
        try state.create(at: statePath(spec.name, in: stateDirectory))
        var builder = LabBuilder(plan: plan, faults: faultSet, tokenFile: state.tokenFile, stateDirectory: stateDirectory)
        do {
            try builder.build()
            let topology = try LabReader(plan: plan, firewall: builder.firewall, tokenFile: state.tokenFile).read()
            return Lab(spec: spec, stateDirectory: stateDirectory, faults: faultSet, topology: topology,
                       agentPIDs: builder.agentPIDs)
        } catch {
            try? removeObjects(named: spec.name, in: stateDirectory, children: builder.agentPIDs)
            throw error
        }
    }

    /// A lab that stands already (made by `dpucert emulate up`), read back from its
    /// state file and namespaces. Taking it down from here removes it for good.
    public static func attach(name: String, stateDirectory: String = defaultStateDirectory) throws(LabError) -> Lab {
        let path = statePath(name, in: stateDirectory)
        let state: LabState
        do {
            state = try LabState.load(from: path)
        } catch {
            throw .stateFile(path: path, reason: "no lab \(name) to attach to (\(error.localizedDescription))")
        }
        let plan = LabAddressPlan(spec: state.spec)
        for namespace in plan.namespaces where !NetworkNamespace.exists(namespace) {
            throw .description(namespace: namespace, reason: "lab \(name) is incomplete: the namespace is missing")
        }
        let firewall = LabFirewall(plan: plan, faults: Set(state.faults))
        let topology = try LabReader(plan: plan, firewall: firewall, tokenFile: state.tokenFile).read()
        return Lab(spec: state.spec, stateDirectory: stateDirectory, faults: Set(state.faults), topology: topology,
                   agentPIDs: [])
    }

    /// Removes this lab (and reaps the agents this process started).
    public func down() throws(LabError) {
        try Self.removeObjects(named: name, in: stateDirectory, children: agentPIDs)
    }

    /// Removes every object of lab `name`: processes in its namespaces, the
    /// namespaces (with their veths, bridges and firewall), the state file and the
    /// generated token. Safe to repeat; a lab that is not there is not an error.
    public static func down(name: String, stateDirectory: String = defaultStateDirectory) throws(LabError) {
        guard LabSpec.isValidName(name) else {
            throw .invalidSpec(field: "name", expected: "1-\(LabSpec.maximumNameLength) letters and digits, starting with a letter", found: "\"\(name)\"")
        }
        try removeObjects(named: name, in: stateDirectory, children: [])
    }

    /// The DPU's nftables firewall and the drop counters the checks read.
    public var firewall: DPUFirewall { LabFirewall(plan: LabAddressPlan(spec: spec), faults: faults).description }

    /// Reads the drop counters of the DPU firewall.
    public func readDropCounters() throws -> [String: FirewallCounter] {
        try firewall.readCounters()
    }

    /// Labs whose owning process is gone (killed runs), with their namespaces.
    public static func leftovers(stateDirectory: String = defaultStateDirectory) throws(LabError) -> [LabLeftover] {
        let directory = URL(fileURLWithPath: stateDirectory)
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        let live = try namespaceNames()
        return files.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            let path = directory.appendingPathComponent(file).path
            guard let state = try? LabState.load(from: path), let owner = state.owner, !owner.isRunning else { return nil }
            return LabLeftover(name: state.spec.name, ownerPID: owner.pid, createdAt: state.createdAt,
                               namespaces: live.filter { LabState.belongs($0, to: state.spec.name) })
        }
    }

    /// Removes every leftover lab; returns their names.
    @discardableResult
    public static func removeLeftovers(stateDirectory: String = defaultStateDirectory) throws(LabError) -> [String] {
        let found = try leftovers(stateDirectory: stateDirectory)
        for leftover in found { try down(name: leftover.name, stateDirectory: stateDirectory) }
        return found.map(\.name)
    }

    // MARK: objects by name

    static func statePath(_ name: String, in directory: String) -> String { "\(directory)/\(name).json" }
    static func tokenPath(_ name: String, in directory: String) -> String { "\(directory)/\(name).token" }
    static func logPath(_ name: String, role: String, in directory: String) -> String { "\(directory)/\(name).\(role).log" }

    /// Every object of lab `name` that exists now, described for messages.
    static func objects(named name: String, in directory: String) throws(LabError) -> [String] {
        let namespaces = try namespaceNames().filter { LabState.belongs($0, to: name) }.map { "netns \($0)" }
        let files = [statePath(name, in: directory)].filter { FileManager.default.fileExists(atPath: $0) }
        return namespaces + files
    }

    static func namespaceNames() throws(LabError) -> [String] {
        do {
            let output = try CommandRunner.run(["ip", "netns", "list"]).standardOutput
            return output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        } catch {
            throw .command(error)
        }
    }

    private static func removeObjects(named name: String, in directory: String, children: [pid_t]) throws(LabError) {
        let namespaces = try namespaceNames().filter { LabState.belongs($0, to: name) }
        LabProcesses.stopAll(in: namespaces, children: children)
        for namespace in namespaces {
            do {
                try CommandRunner.run(["ip", "netns", "delete", namespace])
            } catch {
                // Deleted concurrently by another `down` is fine; anything else is reported.
                if NetworkNamespace.exists(namespace) { throw .command(error) }
            }
        }
        let state = try? LabState.load(from: statePath(name, in: directory))
        var files = [statePath(name, in: directory)] + LabProcesses.roles.map { logPath(name, role: $0, in: directory) }
        if let state, state.tokenGenerated { files.append(state.tokenFile) }
        for file in files where FileManager.default.fileExists(atPath: file) {
            do {
                try FileManager.default.removeItem(atPath: file)
            } catch {
                throw .stateFile(path: file, reason: "cannot be removed: \(error.localizedDescription)")
            }
        }
    }
}

/// A lab left behind by a process that no longer runs.
public struct LabLeftover: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var ownerPID: Int32
    public var createdAt: Date
    public var namespaces: [String]

    public var description: String {
        "lab \(name) (owner pid \(ownerPID) gone; namespaces: \(namespaces.isEmpty ? "none" : namespaces.joined(separator: ", ")))"
    }
}

/// The state file `NAME.json` in the lab's state directory, written before anything else is
/// created so a killed `up` still leaves a record; `attach` rebuilds the lab's
/// description from it.
struct LabState: Codable {
    var spec: LabSpec
    var faults: [LabFault]
    /// The owning process; nil for a standing lab.
    var owner: ProcessIdentity?
    var tokenFile: String
    /// Whether the lab wrote the token file (and removes it).
    var tokenGenerated: Bool
    var createdAt: Date

    func create(at path: String) throws(LabError) {
        do {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(self)
            // O_EXCL: two runs racing for one name cannot both own it.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == EEXIST { throw LabError.alreadyExists(name: spec.name, objects: [path]) }
                throw LabError.stateFile(path: path, reason: String(cString: strerror(errno)))
            }
            defer { close(fd) }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == data.count else { throw LabError.stateFile(path: path, reason: "short write") }
        } catch let error as LabError {
            throw error
        } catch {
            throw .stateFile(path: path, reason: error.localizedDescription)
        }
    }

    static func load(from path: String) throws -> LabState {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(LabState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Whether namespace `namespace` is one of lab `name`'s.
    static func belongs(_ namespace: String, to name: String) -> Bool {
        guard namespace.hasPrefix(name + "-") else { return false }
        let role = namespace.dropFirst(name.count + 1)
        if ["host", "dpu", "oob", "peer"].contains(role) { return true }
        return role.hasPrefix("tenant") && !role.dropFirst(6).isEmpty && role.dropFirst(6).allSatisfy(\.isNumber)
    }
}
