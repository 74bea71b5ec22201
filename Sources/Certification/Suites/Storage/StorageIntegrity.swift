import Foundation
import Inventory
import Probes
import Profiles
import Reports

/// `storage.integrity`: a verifiable pattern (each 4 KiB block carries its offset, a
/// generation, the run's id and a CRC32C) written over a region of each storage device,
/// read back through the same open file, then overwritten by a second generation and
/// read back again: every block must come back as written, neither corrupted, written
/// at another offset, torn, nor left at the older generation.
struct StorageIntegrity: CertificationTest {
    let id = "storage.integrity"
    let title = "Data written to every storage device reads back intact: no corrupted, misdirected, torn or stale block"
    let requirement = "storage.integrity"
    var runsConcurrently: Bool { false }
    static let regionBytes = 16 << 20

    func covers(_ profile: Profile) -> [String] { ["storage.integrity"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        StorageData.run(context, check: id) { target, place, checks, measurements, evidence, first in
            let region = IntegrityRegion(path: place.path, length: min(Self.regionBytes, place.length), blockSize: 4096,
                                         runID: UInt64.random(in: 1...UInt64.max))
            for generation in [UInt64(1), 2] {
                let (write, verification) = try region.writeThenVerify(generation: generation)
                evidence.append("\(target.device.name) generation \(generation): \(write); read back: \(verification)")
                evidence += verification.findings.map { "\(target.device.name): \($0)" }
                checks.append(Check("\(target.device.name) generation \(generation)", expected: "\(region.blocks) blocks intact",
                                    observed: verification.intact ? "all intact" : Self.damage(verification.counts),
                                    holds: verification.intact))
                if generation == 2 {
                    for kind in IntegrityClass.allCases where kind != .ok {
                        measurements.append(MeasuredValue(name: target.measurement("integrity_\(kind.rawValue)_blocks", first: first),
                                                          value: Double(verification.counts[kind]), unit: "count"))
                    }
                }
            }
            return "\(target.device.name): \(region.blocks) blocks × 2 generations intact"
        }
    }

    static func damage(_ counts: IntegrityCounts) -> String {
        IntegrityClass.allCases.filter { $0 != .ok && counts[$0] > 0 }.map { "\(counts[$0]) \($0.rawValue)" }
            .joined(separator: ", ")
    }
}

/// `storage.flush`: a generation of the pattern written, synced (fsync), read back
/// through the writing descriptor, the file closed and opened again: every block intact
/// before the close must still be after it. Blocks already damaged before the close are
/// `storage.integrity`'s finding, recorded here but not judged.
struct StorageFlush: CertificationTest {
    let id = "storage.flush"
    let title = "Writes acknowledged by fsync on every storage device survive a close and reopen"
    let requirement = "storage.flush"
    var runsConcurrently: Bool { false }
    static let regionBytes = 8 << 20

    func covers(_ profile: Profile) -> [String] { ["storage.flush"] }

    func run(_ context: TestContext) throws -> TestOutcome {
        StorageData.run(context, check: id) { target, place, checks, measurements, evidence, first in
            // Past the integrity check's region, so this run's blocks are new to the device.
            let offset = min(StorageIntegrity.regionBytes, max(0, place.length - Self.regionBytes))
            let region = IntegrityRegion(path: place.path, offset: offset, length: min(Self.regionBytes, place.length - offset),
                                         blockSize: 4096, runID: UInt64.random(in: 1...UInt64.max))
            let flush = try region.checkFlush(generation: 1)
            let lost = flush.lostBlocks
            evidence.append("\(target.device.name): \(flush)")
            evidence += flush.verification.findings.map { "\(target.device.name): \($0)" }
            checks.append(Check("\(target.device.name) blocks lost across fsync, close and reopen", expected: "0 of \(region.blocks)",
                                observed: "\(lost) of \(region.blocks)", holds: lost == 0))
            measurements += [
                MeasuredValue(name: target.measurement("flush_lost_blocks", first: first), value: Double(lost), unit: "count"),
                MeasuredValue(name: target.measurement("fsync_time", first: first),
                              value: rounded(flush.write.syncTime.seconds * 1e6), unit: "us"),
            ]
            return "\(target.device.name): \(region.blocks) blocks survived"
        }
    }
}

/// The shape both data checks share: each device's write place, refused places as
/// errors, and a judged outcome over everything the body found.
enum StorageData {
    typealias Body = (StorageTarget, StorageWriteTarget, inout [Check], inout [MeasuredValue], inout [String], Bool) throws -> String

    static func run(_ context: TestContext, check: String, body: Body) -> TestOutcome {
        let targets: [StorageTarget]
        switch StorageDevices.measurable(context) {
        case .success(let found): targets = found
        case .failure(let unavailable): return unavailable.outcome
        }
        var checks: [Check] = []
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        var summaries: [String] = []
        for (index, target) in targets.enumerated() {
            if context.isCancelled { break }
            let place: StorageWriteTarget
            do {
                place = try StorageWriteTarget(StorageDevices.writePlace(target, context), device: target.device)
            } catch {
                return TestOutcome(status: .error, message: "\(target.device.name): \(error)", evidence: evidence)
            }
            defer { place.remove() }
            evidence.append(place.note)
            do {
                summaries.append(try body(target, place, &checks, &measurements, &evidence, index == 0))
            } catch {
                return TestOutcome(status: .error, message: "\(target.device.name): \(check) could not write or read: \(error)",
                                   evidence: evidence)
            }
        }
        return .judged(checks, measurements: measurements, evidence: evidence,
                       examined: Examined(summaries.count, "block devices of the storage functions", as: "devices_examined"),
                       passMessage: summaries.joined(separator: "; "))
    }
}
