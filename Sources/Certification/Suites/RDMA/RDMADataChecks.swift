import Agent
import Fabric
import Foundation
import Probes
import Profiles
import Reports
import Systems
/// `rdma.data-integrity`: every byte of many transfers checked, on each path the DPU
/// touches: RDMA WRITEs into the responder's memory (its CRC32C against the host's copy),
/// RDMA READs of a pattern the responder wrote (compared byte by byte), and SENDs
/// echoed back (compared byte by byte). Each transfer carries its own pattern.
struct RDMAIntegrity: CertificationTest {
    let id = "rdma.data-integrity"
    let title = "Every byte written, read and sent over RDMA arrives intact"
    let requirement = "rdma.integrity"
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(180) }

    static let regionBytes = 4 << 20
    /// Write sizes: whole region, odd sizes, one byte; placed at odd offsets too.
    static let writes: [(offset: Int, length: Int)] = [(0, 4 << 20), (4097, 65535), (1 << 20, 1), (3, 4093), (2 << 20, 1 << 20)]
    static let sendSizes = [1, 4096, 65536]
    static let sendsPerSize = 8

    func covers(_ profile: Profile) -> [String] { ["rdma.integrity"] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            var checks: [Check] = []
            var evidence: [String] = []
            var bytesChecked = 0
            var transfers = 0
            let connection = try session.connect(ResponderRequest(mode: .passive), depth: 16)
            evidence.append(session.describe(connection))
            let local = try MemoryRegion(connection.domain, bytes: Self.regionBytes, access: [.localWrite])

            // RDMA WRITE: the responder's region must hold exactly what the host's copy holds.
            let written = try session.client.registerRDMA(tenant: 0, bytes: Self.regionBytes, access: [.localWrite, .remoteWrite])
            let shadow = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.regionBytes, alignment: 8)
            defer { shadow.deallocate() }
            shadow.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, write) in Self.writes.enumerated() {
                let slice = UnsafeMutableRawBufferPointer(rebasing: local.buffer[write.offset..<write.offset + write.length])
                RDMAPattern.fill(slice, seed: UInt64(0x5752_0000 + index))
                UnsafeMutableRawBufferPointer(rebasing: shadow[write.offset..<write.offset + write.length]).copyMemory(from: UnsafeRawBufferPointer(slice))
                try connection.postWrite(local, offset: write.offset, length: write.length, to: written.buffer, remoteOffset: write.offset, id: UInt64(index))
                let completion = try connection.completions(1, by: .now + .seconds(30)).first
                guard completion?.succeeded == true else {
                    throw PositiveControlFailure("RDMA WRITE \(index) of \(byteSize(write.length)): \(completion.map { "\($0.status)" } ?? "no completion")")
                }
                let expected = CRC32C.checksum(UnsafeRawBufferPointer(shadow))
                let observed = try session.client.digestRDMA(written)
                checks.append(Check("responder region after WRITE \(index + 1) (\(byteSize(write.length)) at offset \(write.offset))",
                                    expected: "CRC32C \(hex(expected))", observed: "CRC32C \(hex(observed))", holds: expected == observed))
                bytesChecked += Self.regionBytes
                transfers += 1
            }

            // RDMA READ: a pattern the responder wrote, read back in chunks and compared byte by byte.
            let offered = try session.client.registerRDMA(tenant: 0, bytes: Self.regionBytes, access: [.localWrite, .remoteRead])
            for round in 0..<2 {
                let seed = UInt64(0x5244_0000 + round)
                try session.client.fillRDMA(offered, seed: seed)
                local.buffer.initializeMemory(as: UInt8.self, repeating: 0)
                let chunk = 1 << 20
                for offset in stride(from: 0, to: Self.regionBytes, by: chunk) {
                    try connection.postRead(local, offset: offset, length: chunk, from: offered.buffer, remoteOffset: offset, id: UInt64(offset))
                }
                let completions = try connection.completions(Self.regionBytes / chunk, by: .now + .seconds(60))
                guard completions.count == Self.regionBytes / chunk, completions.allSatisfy(\.succeeded) else {
                    throw PositiveControlFailure("RDMA READ round \(round + 1): "
                                                 + (completions.first { !$0.succeeded }.map { "\($0.status)" } ?? "\(completions.count) completions"))
                }
                let mismatch = RDMAPattern.firstMismatch(UnsafeRawBufferPointer(local.buffer), seed: seed)
                checks.append(Check("READ round \(round + 1) of \(byteSize(Self.regionBytes))", expected: "the responder's pattern",
                                    observed: mismatch.map { "first differing byte at offset \($0)" } ?? "identical", holds: mismatch == nil))
                bytesChecked += Self.regionBytes
                transfers += Self.regionBytes / chunk
            }

            // SEND: echoed back by the responder, each message its own pattern.
            for size in Self.sendSizes {
                let echo = try session.connect(ResponderRequest(mode: .echoSend, messageBytes: size, depth: 4), depth: 4)
                let buffer = try MemoryRegion(echo.domain, bytes: 2 * size, access: [.localWrite])
                var differing: [String] = []
                for message in 0..<Self.sendsPerSize {
                    let seed = UInt64(0x5345_0000 + size * 16 + message)
                    RDMAPattern.fill(UnsafeMutableRawBufferPointer(rebasing: buffer.buffer[0..<size]), seed: seed)
                    _ = try RDMAMeasurement.latency(echo, local: buffer, echo: nil,
                                                    RDMATransferParameters(operation: .send, messageBytes: size, iterations: 1,
                                                                           txDepth: 1, timeLimit: .seconds(10)))
                    if let offset = RDMAPattern.firstMismatch(UnsafeRawBufferPointer(rebasing: buffer.buffer[size..<2 * size]), seed: seed) {
                        differing.append("message \(message + 1) at byte \(offset)")
                    }
                    bytesChecked += size
                    transfers += 1
                }
                checks.append(Check("\(Self.sendsPerSize) SENDs of \(byteSize(size)) echoed", expected: "identical",
                                    observed: differing.isEmpty ? "identical" : "differing: " + differing.joined(separator: ", "),
                                    holds: differing.isEmpty))
            }
            evidence += checks.map(\.description)
            return .judged(checks, measurements: [MeasuredValue(name: "bytes_checked", value: Double(bytesChecked), unit: "bytes")],
                           evidence: evidence, examined: Examined(transfers, "RDMA transfers checked", as: "transfers_examined"),
                           passMessage: "\(transfers) transfers, \(number(Double(bytesChecked) / 1048576)) MiB checked byte for byte")
        }
    }

    private func hex(_ value: UInt32) -> String { String(format: "%08x", value) }
}
