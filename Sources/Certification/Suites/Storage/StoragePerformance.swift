import Foundation
import Inventory
import Probes
import Profiles
import Reports

/// `storage.seq-read` and `storage.seq-write`: MiB/s of 1 MiB O_DIRECT transfers at the
/// profile's queue depth on each storage device, against the profile's minimum.
struct StorageSequential: CertificationTest {
    let direction: BlockIODirection
    let minimumMiBps: Double
    let queueDepth: Int
    static let blockSize = 1 << 20

    var id: String { "storage.seq-\(direction.rawValue)" }
    var title: String { "Sequential \(direction.rawValue)s of 1 MiB reach the minimum MiB/s on every storage device" }
    var requirement: String { key }
    var runsConcurrently: Bool { false }
    private var key: String { direction == .read ? "storage.minSeqReadMiBps" : "storage.minSeqWriteMiBps" }

    func covers(_ profile: Profile) -> [String] { [key] }

    func run(_ context: TestContext) throws -> TestOutcome {
        StorageMeasurement(check: id, direction: direction, pattern: .sequential, blockSize: Self.blockSize,
                           queueDepth: queueDepth).run(context) { target, result, first in
            let name = target.measurement("seq_\(direction.rawValue)_throughput", first: first)
            let figure = MeasuredValue(name: name, value: rounded(result.mibPerSecond), unit: "MiB/s",
                                       threshold: Threshold(.greaterThanOrEqual, minimumMiBps))
            let series = DataSeries(name: "\(target.device.name) seq \(direction.rawValue)", chart: .line,
                                    x: intervalAxis, y: ChartAxis(label: "throughput", unit: "MiB/s"),
                                    points: result.intervals.enumerated().map { DataPoint(x: Double($0.offset + 1), y: rounded($0.element)) })
            return ([figure], [series], "\(target.device.name) \(number(rounded(result.mibPerSecond))) MiB/s")
        }
    }
}

/// `storage.rand-read` and `storage.rand-write`: IOPS of 4 KiB O_DIRECT transfers at
/// random offsets, queue depth 32, and the p99 latency of each transfer, against the
/// profile; the whole latency distribution on record.
struct StorageRandom: CertificationTest {
    let direction: BlockIODirection
    let minimumIOPS: Int?
    let maximumP99: Double?
    static let blockSize = 4096
    static let queueDepth = 32

    var id: String { "storage.rand-\(direction.rawValue)" }
    var title: String { "Random 4 KiB \(direction.rawValue)s at queue depth 32 reach the IOPS and p99 latency required on every storage device" }
    var requirement: String { keys.joined(separator: ", ") }
    var runsConcurrently: Bool { false }
    private var keys: [String] {
        let read = direction == .read
        return (minimumIOPS != nil ? [read ? "storage.minRandReadIOPS" : "storage.minRandWriteIOPS"] : [])
            + (maximumP99 != nil ? [read ? "storage.maxReadLatencyP99us" : "storage.maxWriteLatencyP99us"] : [])
    }

    func covers(_ profile: Profile) -> [String] { keys }

    func run(_ context: TestContext) throws -> TestOutcome {
        StorageMeasurement(check: id, direction: direction, pattern: .random, blockSize: Self.blockSize,
                           queueDepth: Self.queueDepth).run(context) { target, result, first in
            let base = "rand_\(direction.rawValue)"
            var figures = [MeasuredValue(name: target.measurement("\(base)_iops", first: first), value: rounded(result.iops),
                                         unit: "IOPS", threshold: minimumIOPS.map { Threshold(.greaterThanOrEqual, Double($0)) })]
            for point in result.latency {
                let label = point.percentile == 100 ? "max" : "p" + number(point.percentile).replacingOccurrences(of: ".", with: "")
                figures.append(MeasuredValue(name: target.measurement("\(base)_latency_\(label)", first: first),
                                             value: rounded(point.microseconds), unit: "us",
                                             threshold: point.percentile == 99 ? maximumP99.map { Threshold(.lessThanOrEqual, $0) } : nil))
            }
            let series = DataSeries(name: "\(target.device.name) rand \(direction.rawValue)", chart: .line,
                                    x: TCPLatency.percentileAxis,
                                    y: ChartAxis(label: "latency", unit: "us", scale: .log),
                                    points: result.latencyDistribution.filter { $0.percentile < 100 }.map {
                                        DataPoint(x: rounded(1 / (1 - $0.percentile / 100)), y: rounded($0.microseconds))
                                    })
            return (figures, [series], "\(target.device.name) \(number(rounded(result.iops))) IOPS, "
                        + "p99 \(number(rounded(result.latencyMicroseconds(at: 99)))) us")
        }
    }
}

/// One block-I/O job per storage device, shaped by a check: reads on the device, writes
/// where `StorageWritePlace` allows; progress once a second; the job's parameters and
/// its fio equivalent on record beside each figure.
struct StorageMeasurement {
    let check: String
    let direction: BlockIODirection
    let pattern: BlockIOPattern
    let blockSize: Int
    let queueDepth: Int
    static let warmUp = Duration.milliseconds(500)
    static let duration = Duration.seconds(2)

    typealias Judge = (StorageTarget, BlockIOResult, Bool) -> (figures: [MeasuredValue], series: [DataSeries], summary: String)

    func run(_ context: TestContext, judge: Judge) -> TestOutcome {
        let targets: [StorageTarget]
        switch StorageDevices.measurable(context) {
        case .success(let found): targets = found
        case .failure(let unavailable): return unavailable.outcome
        }
        var measurements: [MeasuredValue] = []
        var series: [DataSeries] = []
        var evidence: [String] = []
        var checks: [Check] = []
        var summaries: [String] = []
        for (index, target) in targets.enumerated() {
            if context.isCancelled { break }
            let place: StorageWriteTarget?
            do {
                place = direction == .write ? try StorageWriteTarget(StorageDevices.writePlace(target, context), device: target.device) : nil
            } catch {
                return TestOutcome(status: .error, message: "\(target.device.name): \(error)", evidence: evidence)
            }
            defer { place?.remove() }
            let job = BlockIOJob(path: place?.path ?? target.device.node, direction: direction, pattern: pattern, blockSize: blockSize,
                                 queueDepth: queueDepth, length: place?.length, duration: Self.duration, warmUp: Self.warmUp,
                                 seed: UInt64(index + 1))
            let result: BlockIOResult
            do {
                let name = target.device.name
                result = try job.run { context.progress("\(check) \(name): \($0)") }
            } catch {
                return TestOutcome(status: .error, message: "\(target.device.name): the \(job.shape) job could not run: \(error)",
                                   evidence: evidence)
            }
            let judged = judge(target, result, index == 0)
            measurements += judged.figures
            series += judged.series
            summaries.append(judged.summary)
            measurements += [
                MeasuredValue(name: target.measurement("block_size", first: index == 0), value: Double(blockSize), unit: "bytes"),
                MeasuredValue(name: target.measurement("queue_depth", first: index == 0), value: Double(queueDepth), unit: "count"),
                MeasuredValue(name: target.measurement("jobs", first: index == 0), value: Double(job.jobs), unit: "count"),
                MeasuredValue(name: target.measurement("duration", first: index == 0), value: rounded(result.measured.seconds), unit: "s"),
            ]
            checks.append(Check("\(target.device.name) I/O errors", expected: "none", observed: result.firstError.map {
                "\(result.errors), first: \($0)" } ?? "none", holds: result.errors == 0))
            evidence.append("\(target.function) \(target.device.name): \(result)")
            if let place { evidence.append(place.note) }
            evidence.append("the same job with fio: " + result.fioArguments.joined(separator: " "))
        }
        return .judged(checks, measurements: measurements, evidence: evidence, series: series,
                       examined: Examined(summaries.count, "block devices of the storage functions", as: "devices_examined"),
                       passMessage: summaries.joined(separator: "; "))
    }
}
