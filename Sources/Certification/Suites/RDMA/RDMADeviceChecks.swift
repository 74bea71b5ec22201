import Agent
import Fabric
import Foundation
import Probes
import Profiles
import Reports
import Systems
/// `rdma.device-ports`: the device under test is there, and each of its ports is
/// ACTIVE with a known link layer, an active MTU, and GIDs (a RoCE v2 GID on Ethernet).
struct RDMADevicePorts: CertificationTest {
    let id = "rdma.device-ports"
    let title = "The RDMA device is present with its ports active, link layer, MTU and GIDs"
    let requirement = "rdma.devices"

    func covers(_ profile: Profile) -> [String] { ["rdma.devices"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: false) }

    func run(_ context: TestContext) throws -> TestOutcome {
        let (devices, all, expected) = try RDMASuite.devicesUnderTest(context)
        var checks: [Check] = []
        var evidence: [String] = ["RDMA devices found: " + (all.isEmpty ? "none" : all.map(\.name).joined(separator: ", "))]
        var measurements: [MeasuredValue] = []
        if devices.isEmpty {
            checks.append(Check("RDMA device", expected: expected, observed: all.isEmpty ? "no RDMA device" : "none of them",
                                holds: false))
        }
        for device in devices {
            evidence.append("\(device.name): firmware \(device.firmware), node GUID \(device.nodeGUID)"
                            + (device.pciAddress.map { ", PCI \($0)" } ?? ", no PCI function (software device)"))
            for port in device.ports {
                let subject = "\(device.name) port \(port.number)"
                evidence.append("\(subject): \(port.state), \(port.linkLayer), active MTU \(port.activeMTU) (max \(port.maxMTU)), "
                                + "GIDs " + port.gids.map { "[\($0.index)] \($0.value) \($0.type ?? "") \($0.netdev ?? "")" }
                                    .joined(separator: "; "))
                checks.append(Check("\(subject) state", expected: "ACTIVE", observed: port.state, holds: port.isActive))
                checks.append(Check("\(subject) link layer", expected: "Ethernet or InfiniBand", observed: port.linkLayer,
                                    holds: ["Ethernet", "InfiniBand"].contains(port.linkLayer)))
                checks.append(Check("\(subject) active MTU", expected: "256-4096 bytes", observed: "\(port.activeMTU) bytes",
                                    holds: (256...4096).contains(port.activeMTU)))
                let roce = port.gids.filter { $0.type == "RoCE v2" }
                if port.linkLayer == "Ethernet" {
                    checks.append(Check("\(subject) GIDs", expected: "a RoCE v2 GID", observed: "\(roce.count) RoCE v2 of \(port.gids.count)",
                                        holds: !roce.isEmpty))
                } else {
                    checks.append(Check("\(subject) GIDs", expected: "at least one", observed: "\(port.gids.count)", holds: !port.gids.isEmpty))
                }
                measurements.append(MeasuredValue(name: snakeCase("\(device.name)_port\(port.number)_active_mtu"), value: Double(port.activeMTU), unit: "bytes"))
            }
        }
        let ports = devices.flatMap(\.ports)
        return .judged(checks, measurements: measurements, evidence: evidence,
                       examined: Examined(devices.isEmpty ? 1 : ports.count, "ports of the RDMA device under test", as: "ports_examined"),
                       passMessage: devices.map { device in
                           "\(device.name): " + device.ports.map { "port \($0.number) \($0.state) \($0.linkLayer) MTU \($0.activeMTU)" }
                               .joined(separator: ", ")
                       }.joined(separator: "; "))
    }
}

/// `mlx5_0_port1_active_mtu` from any device name: lower case, other characters as `_`.
private func snakeCase(_ text: String) -> String {
    String(text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
}

/// `rdma.cm-connect`: an RC connection through the CM is established (the QP reaches
/// RTS), carries a SEND both ways, and disconnects (both sides see DISCONNECTED); a
/// connect to a port where nothing listens is REJECTED.
struct RDMAConnect: CertificationTest {
    let id = "rdma.cm-connect"
    let title = "RC connections through the RDMA CM connect, carry data, disconnect, and are rejected where nothing listens"
    let requirement = "rdma.connection"
    var runsConcurrently: Bool { false }

    func covers(_ profile: Profile) -> [String] { ["rdma.connection"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            var checks: [Check] = []
            var evidence: [String] = []
            let size = 64
            let connection = try session.connect(ResponderRequest(mode: .echoSend, messageBytes: size, depth: 4), depth: 4)
            evidence.append("connected: \(session.describe(connection))")
            let state = try connection.state()
            checks.append(Check("QP state once ESTABLISHED", expected: "RTS", observed: state.rawValue, holds: state == .readyToSend))
            let buffer = try MemoryRegion(connection.domain, bytes: 2 * size, access: [.localWrite])
            let echo = try RDMAMeasurement.latency(connection, local: buffer, echo: nil,
                                                   RDMATransferParameters(operation: .send, messageBytes: size, iterations: 1,
                                                                          txDepth: 1, timeLimit: .seconds(10)))
            checks.append(Check("a SEND and its echo", expected: "both complete", observed: "\(echo.samples) round trip(s)",
                                holds: echo.samples == 1))
            connection.disconnect()
            do {
                try connection.awaitDisconnected(timeout: .seconds(10))
                checks.append(Check("disconnect", expected: "RDMA_CM_EVENT_DISCONNECTED", observed: "RDMA_CM_EVENT_DISCONNECTED", holds: true))
            } catch {
                checks.append(Check("disconnect", expected: "RDMA_CM_EVENT_DISCONNECTED", observed: "\(error)", holds: false))
            }
            let refused = SocketEndpoint(session.peer.address, session.responder.closedPort)
            do throws(FabricError) {
                _ = try RDMAConnection.connect(to: refused, from: session.peer.source, depth: 1,
                                               privateData: ResponderRequest(mode: .passive).encoded)
                checks.append(Check("connect to \(refused) where nothing listens", expected: "RDMA_CM_EVENT_REJECTED",
                                    observed: "ESTABLISHED", holds: false))
            } catch {
                checks.append(Check("connect to \(refused) where nothing listens", expected: "RDMA_CM_EVENT_REJECTED",
                                    observed: error.kind == .rejected ? "RDMA_CM_EVENT_REJECTED (status \(error.code))" : "\(error)",
                                    holds: error.kind == .rejected))
            }
            evidence += checks.map(\.description)
            return .judged(checks, evidence: evidence, examined: Examined(2, "connections attempted", as: "connections_examined"),
                           passMessage: "connected, echoed a SEND, disconnected; refused at port \(session.responder.closedPort)")
        }
    }
}
