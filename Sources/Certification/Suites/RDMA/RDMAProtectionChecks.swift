import Agent
import Fabric
import Foundation
import Probes
import Profiles
import Reports
import Systems
/// `rdma.access-enforcement`: the responder's memory keys grant only what they were
/// registered for. A WRITE to a region without REMOTE_WRITE, a READ past a region's
/// end, and a WRITE with the rkey of a region since deregistered must each complete
/// with IBV_WC_REM_ACCESS_ERR and move the QP to ERROR. Each case first shows that its
/// region is reachable (its positive control) on a fresh connection.
struct RDMAAccessEnforcement: CertificationTest {
    let id = "rdma.access-enforcement"
    let title = "Remote access beyond a memory region's flags, bounds or lifetime is refused"
    let requirement = "rdma.accessEnforcement"
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(120) }

    static let bytes = 4096

    func covers(_ profile: Profile) -> [String] { ["rdma.accessEnforcement"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            var checks: [Check] = []
            var evidence: [String] = []
            let size = Self.bytes

            // A region registered for remote READ only: a READ works, a WRITE must be refused.
            let readOnly = try session.client.registerRDMA(tenant: 0, bytes: size, access: [.remoteRead])
            checks.append(try refusal(session, "WRITE to a region registered without REMOTE_WRITE (access remote-read)", evidence: &evidence,
                                      control: { try $0.postRead($1, length: size, from: readOnly.buffer, id: 0) },
                                      violation: { try $0.postWrite($1, length: size, to: readOnly.buffer, id: 1) }))

            // A READ of the last byte works; a READ one byte past the end must be refused.
            checks.append(try refusal(session, "READ of \(byteSize(size)) starting 1 byte into a \(byteSize(size)) region", evidence: &evidence,
                                      control: { try $0.postRead($1, offset: 0, length: 1, from: readOnly.buffer, remoteOffset: size - 1, id: 0) },
                                      violation: { try $0.postRead($1, length: size, from: readOnly.buffer, remoteOffset: 1, id: 1) }))

            // An rkey that worked, used after its region was deregistered, must be refused.
            let retired = try session.client.registerRDMA(tenant: 0, bytes: size, access: [.localWrite, .remoteWrite])
            checks.append(try refusal(session, "WRITE with rkey \(retired.buffer.rkey) after its region was deregistered", evidence: &evidence,
                                      control: { try $0.postWrite($1, length: size, to: retired.buffer, id: 0) },
                                      between: { try session.client.deregisterRDMA(retired) },
                                      violation: { try $0.postWrite($1, length: size, to: retired.buffer, id: 1) }))
            return .judged(checks, evidence: evidence, examined: Examined(checks.count, "forbidden accesses attempted", as: "accesses_examined"),
                           passMessage: "all \(checks.count) forbidden accesses completed with IBV_WC_REM_ACCESS_ERR, QP in ERROR")
        }
    }
}

/// `rdma.pd-isolation`: a tenant's rkey works only through a QP of that tenant's
/// protection domain. The responder registers a region in tenant 0's PD; a WRITE with
/// its rkey succeeds through a tenant-0 connection (positive control) and must be
/// refused (IBV_WC_REM_ACCESS_ERR, QP in ERROR) through a tenant-1 connection.
struct RDMAPDIsolation: CertificationTest {
    let id = "rdma.pd-isolation"
    let title = "One tenant's memory key is refused through another tenant's protection domain"
    let requirement = "rdma.pdIsolation"
    var runsConcurrently: Bool { false }

    func covers(_ profile: Profile) -> [String] { ["rdma.pdIsolation"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            let size = RDMAAccessEnforcement.bytes
            var evidence: [String] = []
            let tenantRegion = try session.client.registerRDMA(tenant: 0, bytes: size, access: [.localWrite, .remoteWrite])
            let own = try session.connect(ResponderRequest(mode: .passive, tenant: 0), depth: 4)
            let ownBuffer = try MemoryRegion(own.domain, bytes: size, access: [.localWrite])
            let control = try RefusalObservation.observe(own) { connection throws(FabricError) in
                try connection.postWrite(ownBuffer, length: size, to: tenantRegion.buffer, id: 0)
            }
            evidence.append("tenant 0 (\(session.describe(own))) WRITE with tenant 0's rkey \(tenantRegion.buffer.rkey): \(control.description)")
            guard control.status == .success else {
                throw PositiveControlFailure("tenant 0's own WRITE to its region did not complete: \(control.description)", evidence: evidence)
            }
            let other = try session.connect(ResponderRequest(mode: .passive, tenant: 1), depth: 4)
            let otherBuffer = try MemoryRegion(other.domain, bytes: size, access: [.localWrite])
            let crossing = try RefusalObservation.observe(other) { connection throws(FabricError) in
                try connection.postWrite(otherBuffer, length: size, to: tenantRegion.buffer, id: 1)
            }
            evidence.append("tenant 1 (\(session.describe(other))) WRITE with tenant 0's rkey: \(crossing.description)")
            let check = Check("WRITE with tenant 0's rkey through tenant 1's QP", expected: "IBV_WC_REM_ACCESS_ERR, QP ERROR",
                              observed: crossing.description, holds: crossing.refused)
            return .judged([check], evidence: evidence, examined: Examined(1, "cross-tenant accesses attempted", as: "accesses_examined"),
                           passMessage: "tenant 0's rkey refused through tenant 1's QP (\(crossing.description))")
        }
    }
}

/// One forbidden access on a fresh passive connection: `control` (work request 0) must
/// succeed first, else the check has no evidence; then `between` runs, then
/// `violation` (work request 1) must be refused.
private func refusal(_ session: RDMASession, _ subject: String, evidence: inout [String],
                     control: (RDMAConnection, MemoryRegion) throws -> Void,
                     between: () throws -> Void = {},
                     violation: (RDMAConnection, MemoryRegion) throws -> Void) throws -> Check {
    let connection = try session.connect(ResponderRequest(mode: .passive), depth: 4)
    let local = try MemoryRegion(connection.domain, bytes: 2 * RDMAAccessEnforcement.bytes, access: [.localWrite])
    let allowed = try RefusalObservation.observe(connection) { try control($0, local) }
    guard allowed.status == .success else {
        throw PositiveControlFailure("the permitted access before \"\(subject)\" did not complete: \(allowed.description)", evidence: evidence)
    }
    try between()
    let forbidden = try RefusalObservation.observe(connection) { try violation($0, local) }
    evidence.append("\(session.describe(connection)): \(subject): \(forbidden.description)")
    return Check(subject, expected: "IBV_WC_REM_ACCESS_ERR, QP ERROR", observed: forbidden.description, holds: forbidden.refused)
}

/// `rdma.qp-recovery`: a QP moved to ERROR flushes its outstanding receives
/// (IBV_WC_WR_FLUSH_ERR, every one), can be reset and brought back to RTS with the
/// connection's attributes, and then carries a SEND and its echo again.
struct RDMAQPRecovery: CertificationTest {
    let id = "rdma.qp-recovery"
    let title = "A queue pair in ERROR flushes its work, and can be reset and reused"
    let requirement = "rdma.qpRecovery"
    var runsConcurrently: Bool { false }

    static let outstanding = 8

    func covers(_ profile: Profile) -> [String] { ["rdma.qpRecovery"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            let size = 64
            let connection = try session.connect(ResponderRequest(mode: .echoSend, messageBytes: size, depth: 4),
                                                 depth: Self.outstanding + 2)
            let buffer = try MemoryRegion(connection.domain, bytes: 2 * size, access: [.localWrite])
            var checks: [Check] = []
            for index in 0..<Self.outstanding {
                try connection.postReceive(buffer, offset: size, length: size, id: UInt64(100 + index))
            }
            try connection.move(to: .error)
            let flushed = try connection.completions(Self.outstanding, by: .now + .seconds(10))
            let flushCount = flushed.filter { $0.status == .flushed }.count
            checks.append(Check("\(Self.outstanding) receives outstanding when the QP entered ERROR",
                                expected: "\(Self.outstanding) × IBV_WC_WR_FLUSH_ERR",
                                observed: flushed.isEmpty ? "no completions" : "\(flushCount) × IBV_WC_WR_FLUSH_ERR of \(flushed.count)",
                                holds: flushCount == Self.outstanding))
            let errorState = try connection.state()
            checks.append(Check("QP state after the move", expected: "ERROR", observed: errorState.rawValue, holds: errorState == .error))
            try connection.move(to: .reset)
            try connection.reinitialize()
            let recovered = try connection.state()
            checks.append(Check("QP state after RESET, INIT, RTR, RTS", expected: "RTS", observed: recovered.rawValue,
                                holds: recovered == .readyToSend))
            var roundTrip = "none"
            do {
                let echo = try RDMAMeasurement.latency(connection, local: buffer, echo: nil,
                                                       RDMATransferParameters(operation: .send, messageBytes: size, iterations: 1,
                                                                              txDepth: 1, timeLimit: .seconds(10)))
                roundTrip = "\(echo.samples) round trip(s), \(number(rounded(echo.percentiles[50] ?? .nan))) µs"
            } catch {
                roundTrip = "\(error)"
            }
            checks.append(Check("a SEND and its echo on the recovered QP", expected: "1 round trip", observed: roundTrip,
                                holds: roundTrip.hasPrefix("1 round trip")))
            return .judged(checks, evidence: [session.describe(connection)] + checks.map(\.description),
                           examined: Examined(Self.outstanding + 1, "work requests through the error and recovery", as: "work_requests_examined"),
                           passMessage: "\(Self.outstanding) receives flushed, QP reset to RTS, SEND echoed")
        }
    }
}
