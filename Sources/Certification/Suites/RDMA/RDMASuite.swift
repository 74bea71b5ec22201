import Agent
import Fabric
import Foundation
import Inventory
import Probes
import Profiles
import Reports
import Systems

/// The RDMA suite: the device under test and its ports first, then connections through
/// the CM, bandwidth and latency against the profile, the data itself, and RDMA's
/// protection model (access flags, memory-key lifetime, protection domains, QP error
/// recovery). The host drives every check; the peer's agent runs the responder (its
/// regions, its echo), where a broken DPU's faults would be.
public enum RDMASuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        guard let rdma = profile.rdma, let function = profile.function(role: .network),
              function.isPresent(in: profile.managementMode) else { return [] }
        var tests: [any CertificationTest] = [RDMADevicePorts(), RDMAConnect()]
        if let minimum = rdma.minWriteBandwidthGbps {
            tests.append(RDMABandwidthCheck(operation: .write, minimumGbps: minimum, messageSizes: rdma.messageSizes))
        }
        if let minimum = rdma.minReadBandwidthGbps {
            tests.append(RDMABandwidthCheck(operation: .read, minimumGbps: minimum, messageSizes: rdma.messageSizes))
        }
        if let maximum = rdma.maxSendLatencyP99us {
            tests.append(RDMALatencyCheck(operation: .send, maximumP99: maximum, messageSizes: rdma.messageSizes))
        }
        if let maximum = rdma.maxWriteLatencyP99us {
            tests.append(RDMALatencyCheck(operation: .write, maximumP99: maximum, messageSizes: rdma.messageSizes))
        }
        return tests + [RDMAIntegrity(), RDMAAccessEnforcement(), RDMAPDIsolation(), RDMAQPRecovery()]
    }

    /// Why an RDMA check cannot run here: no RDMA device can exist (an emulated card),
    /// the kernel has no RDMA subsystem, or (for checks that need one) there is no peer.
    static func skipReason(_ context: TestContext, needsPeer: Bool) -> String? {
        if let reason = context.rdma.unavailableReason { return reason }
        do {
            _ = try RDMADevices.list()
        } catch {
            return error.kind == .noSubsystem ? "no RDMA subsystem (\(error))" : "the RDMA devices cannot be listed: \(error)"
        }
        return needsPeer && context.rdma.peer == nil ? "no RDMA peer: \(context.rdma.noPeerReason)" : nil
    }

    /// The devices under test: the one the testbed names, else those of the profile's
    /// network functions; with every device found, for messages.
    static func devicesUnderTest(_ context: TestContext) throws -> (devices: [RDMADeviceInfo], all: [RDMADeviceInfo], expected: String) {
        let all = try RDMADevices.list()
        if let name = context.rdma.device {
            return (all.filter { $0.name == name }, all, "device \(name) (the testbed's)")
        }
        let addresses = Set(context.profile.matched(in: context.pci.baseline).filter { $0.specification.role == .network }
            .flatMap(\.functions).map { $0.address.description })
        return (all.filter { $0.pciAddress.map(addresses.contains) ?? false }, all,
                "an RDMA device on the profile's network functions (\(addresses.sorted().joined(separator: ", ")))")
    }

    /// Runs `body` with a responder started on the peer's agent for this check (it ends
    /// with the session). A device under test without an active port fails fast: nothing
    /// can cross it, and waiting out each connection's timeouts would only delay saying so.
    static func withResponder<Result>(_ context: TestContext, _ body: (RDMASession) throws -> Result) throws -> Result {
        guard let peer = context.rdma.peer else { throw PositiveControlFailure("no RDMA peer: \(context.rdma.noPeerReason)") }
        let devices = try devicesUnderTest(context).devices
        let inactive = devices.flatMap { device in device.ports.filter { !$0.isActive }.map { "\(device.name) port \($0.number) is \($0.state)" } }
        if !devices.isEmpty && devices.allSatisfy({ !$0.ports.contains(where: \.isActive) }) {
            throw PositiveControlFailure("no active port on the device under test: \(inactive.joined(separator: ", "))")
        }
        let client = try AgentClient.connect(to: peer.control, tokenFile: peer.tokenFile)
        defer { client.close() }
        let endpoint = try client.startRDMAResponder(on: peer.address)
        return try body(RDMASession(peer: peer, client: client, responder: endpoint))
    }
}

/// A check's session with the peer's responder.
struct RDMASession {
    let peer: RDMAPeer
    let client: AgentClient
    let responder: RDMAResponderEndpoint

    /// The perftest-style depth of bandwidth runs.
    static let txDepth = 128

    /// A connection to the responder asking `request` of it.
    func connect(_ request: ResponderRequest, depth: Int = 16) throws(FabricError) -> RDMAConnection {
        try RDMAConnection.connect(to: SocketEndpoint(peer.address, responder.port), from: peer.source, depth: depth,
                                   privateData: request.encoded)
    }

    /// A connection whose request names memory the host registers on it first (`request`
    /// registers it in the connection's PD and returns the request).
    func connect(depth: Int, _ request: (RDMAConnection) throws(FabricError) -> ResponderRequest) throws(FabricError) -> RDMAConnection {
        try RDMAConnection.connect(to: SocketEndpoint(peer.address, responder.port), from: peer.source, depth: depth) {
            connection throws(FabricError) in try request(connection).encoded
        }
    }

    /// `host rxe0 → peer rxe1 at 198.19.250.2:40000`, for evidence.
    func describe(_ connection: RDMAConnection) -> String {
        "\(connection.domain.context.name) QP \(connection.queuePairNumber) → \(responder.device) at \(peer.address):\(responder.port)"
    }
}

/// `8 MiB`, `64 KiB`, `2 B`.
func byteSize(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
    return "\(bytes) B"
}

/// What an operation that must be refused did: its completion's status and the QP's state after.
struct RefusalObservation {
    var status: CompletionStatus?
    var state: QueuePairState?

    var refused: Bool { status == .remoteAccessError && state == .error }
    var description: String {
        (status.map { "\($0)" } ?? "no completion") + ", QP " + (state?.rawValue ?? "state unreadable")
    }

    /// Posts `operation` (work request id 1), waits for its completion, reads the QP state.
    static func observe(_ connection: RDMAConnection, _ operation: (RDMAConnection) throws -> Void) throws -> RefusalObservation {
        try operation(connection)
        let completion = try connection.completions(1, by: .now + .seconds(20)).first
        return RefusalObservation(status: completion?.status, state: try? connection.state())
    }
}
