import Agent
import Foundation
import Glibc
import Systems

/// A booted guest of the VM testbed and everything it owns: the QEMU process, the
/// folder `<state directory>/NAME` (state file, console log, namespace images, the share
/// the guest mounts at /dpucert). `down` removes all of it; a guest whose owning run
/// was killed is removed by the next `up` or `run` (`removeLeftovers`).
public struct Guest: Sendable {
    public let name: String
    public let directory: String
    public let state: GuestState

    public static var defaultStateDirectory: String { DPUCertDirectories.run + "/vms" }
    public static let maximumNameLength = 12

    public var share: String { directory + "/share" }
    public var consoleLog: String { directory + "/console.log" }
    public var tokenFile: String { share + "/agent.token" }
    /// Where this machine reaches the guest's agent (QEMU forwards it from loopback).
    public var controlEndpoint: SocketEndpoint {
        SocketEndpoint(IPAddress.loopbackV4, state.controlPort)
    }

    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= maximumNameLength else { return false }
        return first.properties.isAlphabetic && first.isASCII
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil) }
    }

    // MARK: up

    /// Boots `machine` as guest `name` and waits until its boot script has run and its
    /// agent answers. Anything it made is removed again when it fails. A standing guest
    /// has no owner; otherwise this process owns it and a leftover sweep removes it once
    /// this process is gone.
    public static func up(_ machine: VMMachine, name: String, faults: [VMFault], image: GuestImage,
                          acceleration: Acceleration, standing: Bool,
                          stateDirectory: String = defaultStateDirectory,
                          bootTimeout: Duration = .seconds(180),
                          isCancelled: @escaping () -> Bool = { false }) throws(VMError) -> Guest {
        guard isValidName(name) else { throw .invalidName(name) }
        guard let qemu = InstalledProgram.path(named: QEMUCommand.executable) else {
            throw .qemuMissing("\(QEMUCommand.executable) is not in PATH")
        }
        let directory = stateDirectory + "/" + name
        try claim(directory, name: name)
        var state = GuestState(name: name, machine: machine, faults: faults, image: image, acceleration: acceleration,
                               owner: ProcessIdentity.current, qemu: nil, controlPort: 0, createdAt: Date())
        var guest = Guest(name: name, directory: directory, state: state)
        do throws(VMError) {
            try guest.writeState()
            try guest.prepareFiles()
            state.controlPort = try freeLoopbackPort()
            let command = QEMUCommand(name: name, machine: machine, image: image, acceleration: acceleration,
                                      share: guest.share, console: guest.consoleLog, disks: directory + "/disks",
                                      controlPort: state.controlPort)
            var arguments = command.arguments
            arguments[0] = qemu
            let pid: pid_t
            do {
                pid = try CommandRunner.spawnDetached(arguments, logPath: directory + "/qemu.log", newSession: true)
            } catch {
                throw .command(error)
            }
            state.qemu = ProcessIdentity.of(pid)
            guest = Guest(name: name, directory: directory, state: state)
            try guest.writeState()
            try guest.awaitBoot(pid: pid, timeout: bootTimeout, isCancelled: isCancelled)
            try guest.awaitAgent(timeout: bootTimeout, isCancelled: isCancelled)
            if standing {
                state.owner = nil
                guest = Guest(name: name, directory: directory, state: state)
                try guest.writeState()
            }
            return guest
        } catch {
            guest.remove()
            throw error
        }
    }

    /// The guest `name` that `up` left standing.
    public static func attach(name: String, stateDirectory: String = defaultStateDirectory) throws(VMError) -> Guest {
        guard isValidName(name) else { throw .invalidName(name) }
        let directory = stateDirectory + "/" + name
        let state = try GuestState.load(from: directory + "/state.json", name: name, stateDirectory: stateDirectory)
        guard state.qemu?.isRunning == true else {
            throw .bootFailed(name: name, reason: "its QEMU process is gone", console: tail(of: directory + "/console.log"))
        }
        return Guest(name: name, directory: directory, state: state)
    }

    // MARK: down

    /// Stops QEMU and removes the guest's folder. Safe to repeat.
    public func down() { remove() }

    /// Removes guest `name`, standing or not; a guest that is not there is not an error.
    public static func down(name: String, stateDirectory: String = defaultStateDirectory) throws(VMError) {
        guard isValidName(name) else { throw .invalidName(name) }
        let directory = stateDirectory + "/" + name
        let state = try? GuestState.load(from: directory + "/state.json", name: name, stateDirectory: stateDirectory)
        if let state {
            Guest(name: name, directory: directory, state: state).remove()
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Guests whose owning process is gone (killed runs, a killed `up`).
    public static func leftovers(stateDirectory: String = defaultStateDirectory) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: stateDirectory) else { return [] }
        return names.sorted().filter { name in
            guard let state = try? GuestState.load(from: "\(stateDirectory)/\(name)/state.json", name: name,
                                                   stateDirectory: stateDirectory) else {
                // A folder without a readable state file is an `up` killed before it wrote one.
                return isValidName(name) && !FileManager.default.fileExists(atPath: "\(stateDirectory)/\(name)/state.json")
            }
            guard let owner = state.owner else { return false }
            return !owner.isRunning
        }
    }

    /// Removes every leftover guest; returns their names.
    @discardableResult
    public static func removeLeftovers(stateDirectory: String = defaultStateDirectory) -> [String] {
        let found = leftovers(stateDirectory: stateDirectory)
        for name in found { try? down(name: name, stateDirectory: stateDirectory) }
        return found
    }

    private func remove() {
        if let qemu = state.qemu, qemu.isRunning {
            kill(qemu.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(5)
            while qemu.isRunning && ContinuousClock.now < deadline {
                _ = CommandRunner.reap(qemu.pid)
                usleep(20_000)
            }
            if qemu.isRunning { kill(qemu.pid, SIGKILL) }
            _ = CommandRunner.waitForExit(qemu.pid, timeout: .seconds(2))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: files

    /// Creates the guest's folder; an existing one means the name is taken.
    private static func claim(_ directory: String, name: String) throws(VMError) {
        let parent = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .files(path: parent, reason: "cannot create: \(error.localizedDescription)")
        }
        // mkdir is atomic: two runs racing for one name cannot both own it.
        guard mkdir(directory, 0o700) == 0 else {
            if errno == EEXIST { throw .alreadyExists(name: name, directory: directory) }
            throw .files(path: directory, reason: String(cString: strerror(errno)))
        }
    }

    private func writeState() throws(VMError) {
        let path = directory + "/state.json"
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            try encoder.encode(state).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .stateFile(path: path, reason: error.localizedDescription)
        }
    }

    /// The share (jobs folder, token, boot script, this executable) and the namespace images.
    private func prepareFiles() throws(VMError) {
        let disks = directory + "/disks"
        do {
            for folder in [share, share + "/jobs", disks] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let token = (0..<32).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
            try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
            chmod(tokenFile, 0o600)
        } catch {
            throw .files(path: share, reason: "cannot prepare: \(error.localizedDescription)")
        }
        for (index, controller) in state.machine.controllers.enumerated() {
            let path = "\(disks)/nvme\(index).img"
            // Sparse: the namespace costs only what the guest writes.
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0, ftruncate(fd, off_t(controller.namespaceMiB) << 20) == 0 else {
                if fd >= 0 { close(fd) }
                throw .files(path: path, reason: "cannot create the namespace image: \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
        let payload = try GuestPayload.stage(into: share + "/boot", guestFolder: GuestScripts.share + "/boot")
        let script = GuestScripts.boot(agent: payload.guestCommand, faults: state.faults)
        do {
            try Data(script.utf8).write(to: URL(fileURLWithPath: share + "/boot.sh"))
        } catch {
            throw .files(path: share + "/boot.sh", reason: error.localizedDescription)
        }
    }

    // MARK: waiting

    /// Waits for the init to say the boot script ran (`ready`), and for it to have succeeded.
    private func awaitBoot(pid: pid_t, timeout: Duration, isCancelled: () -> Bool) throws(VMError) {
        let deadline = ContinuousClock.now + timeout
        while !FileManager.default.fileExists(atPath: share + "/ready") {
            if CommandRunner.reap(pid) != nil {
                let log = (try? String(contentsOfFile: directory + "/qemu.log", encoding: .utf8)) ?? ""
                throw .bootFailed(name: name, reason: "QEMU exited" + (log.isEmpty ? "" : ": \(log.trimmingCharacters(in: .whitespacesAndNewlines))"),
                                  console: Self.tail(of: consoleLog))
            }
            if ContinuousClock.now >= deadline {
                throw .bootFailed(name: name, reason: "not ready within \(timeout)", console: Self.tail(of: consoleLog))
            }
            if isCancelled() { throw .bootFailed(name: name, reason: "interrupted", console: "") }
            usleep(50_000)
        }
        let status = (try? String(contentsOfFile: share + "/boot.rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == "0" else {
            throw .bootFailed(name: name, reason: "its boot script exited with status \(status ?? "unknown")",
                              console: Self.tail(of: share + "/boot.log"))
        }
    }

    /// Waits for the guest's agent to answer a PING through the forwarded port.
    private func awaitAgent(timeout: Duration, isCancelled: () -> Bool) throws(VMError) {
        let deadline = ContinuousClock.now + timeout
        var lastError = "no attempt"
        while ContinuousClock.now < deadline {
            if isCancelled() { throw .agentUnreachable(name: name, reason: "interrupted") }
            do {
                let client = try AgentClient.connect(to: controlEndpoint, tokenFile: tokenFile, timeout: .seconds(2))
                defer { client.close() }
                try client.ping()
                return
            } catch {
                lastError = "\(error)"
            }
            usleep(200_000)
        }
        throw .agentUnreachable(name: name, reason: "\(lastError); agent log:\n" + Self.tail(of: share + "/agent.log"))
    }

    /// The last lines of a log, for error messages.
    public static func tail(of path: String, lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private static func freeLoopbackPort() throws(VMError) -> UInt16 {
        do {
            let socket = try Socket(family: .ipv4, type: Int32(SOCK_STREAM.rawValue), label: "port probe")
            defer { socket.close() }
            try socket.bind(SocketEndpoint(IPAddress.loopbackV4, 0))
            guard let bound = try socket.localEndpoint() else { throw SystemCallError("getsockname", subject: "port probe", code: EINVAL) }
            return bound.port
        } catch {
            throw .files(path: "127.0.0.1", reason: "no free loopback port: \(error)")
        }
    }
}

/// What `state.json` records: enough to reach, describe and remove the guest.
public struct GuestState: Sendable, Hashable, Codable {
    public var name: String
    public var machine: VMMachine
    public var faults: [VMFault]
    public var image: GuestImage
    public var acceleration: Acceleration
    /// The run that owns the guest; nil for a standing guest.
    public var owner: ProcessIdentity?
    public var qemu: ProcessIdentity?
    public var controlPort: UInt16
    public var createdAt: Date

    static func load(from path: String, name: String, stateDirectory: String) throws(VMError) -> GuestState {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .notFound(name: name, directory: stateDirectory)
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(GuestState.self, from: data)
        } catch {
            throw .stateFile(path: path, reason: "\(error)")
        }
    }
}
