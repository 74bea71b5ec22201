// Probes: what a block I/O run measured (`BlockIOResult`), what it tells a console while
// it runs (`BlockIOProgress`), and the operations that failed (`BlockIOFailure`).
import Glibc
import Systems

/// The bound that ended a run.
public enum BlockIOLimit: String, Sendable, Hashable, Codable {
    /// The measured duration ran out.
    case duration
    /// Every job moved its share of the byte limit before the duration ran out.
    case byteLimit = "byte-limit"
}

/// One operation that failed: where, and how.
public struct BlockIOFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    public var direction: BlockIODirection
    public var offset: Int
    /// The errno it returned, or 0 when it moved fewer bytes than asked (`transferred`).
    public var code: Int32
    public var transferred: Int

    public init(direction: BlockIODirection, offset: Int, code: Int32, transferred: Int) {
        self.direction = direction
        self.offset = offset
        self.code = code
        self.transferred = transferred
    }

    public var description: String {
        let what = "\(direction.rawValue) at offset \(offset)"
        return code != 0 ? "\(what): \(String(cString: strerror(code))) (\(Errno.symbol(code)))" : "\(what): short transfer of \(transferred) bytes"
    }
}

/// Once a second while a job runs: how it is going, for a console.
public struct BlockIOProgress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Since the run started, warm-up included.
    public var elapsed: Duration
    public var warmingUp: Bool
    /// Over the last second.
    public var mibPerSecond: Double
    public var iops: Double
    /// Moved so far, warm-up included.
    public var bytes: Int
    public var operations: Int

    public init(elapsed: Duration, warmingUp: Bool, mibPerSecond: Double, iops: Double, bytes: Int, operations: Int) {
        self.elapsed = elapsed
        self.warmingUp = warmingUp
        self.mibPerSecond = mibPerSecond
        self.iops = iops
        self.bytes = bytes
        self.operations = operations
    }

    public var description: String {
        "\(elapsed.evidenceText)\(warmingUp ? " (warm-up)" : ""): \(ThroughputResult.format(mibPerSecond)) MiB/s, "
            + "\(Int(iops.rounded())) IOPS"
    }
}

/// What a block I/O run measured, over the measured window (after warm-up, to the last
/// completion), with the job that produced it so it can be rerun with fio.
public struct BlockIOResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var job: BlockIOJob
    /// The region's length as run (the job's, or the file's or device's size from its offset).
    public var regionLength: Int
    /// The engine that ran, and why it is not the one asked for (automatic fell back).
    public var engine: BlockIOEngine
    public var fallbackReason: String?
    /// The offset and size alignment direct I/O needed, and where it came from.
    public var alignment: Int
    public var alignmentSource: String
    /// Bytes and operations completed in the measured window, and how long it lasted.
    public var bytes: Int
    public var operations: Int
    public var measured: Duration
    /// Bytes moved over the whole run, warm-up included (what `byteLimit` caps).
    public var totalBytes: Int
    public var limitedBy: BlockIOLimit
    /// p50, p90, p99, p99.9 and max (100) of the time from queueing an operation to
    /// seeing it complete, in microseconds. Empty (and the mean 0) when no operation
    /// completed in the measured window.
    public var latency: [LatencyPercentile]
    /// The whole latency distribution, for a percentile plot.
    public var latencyDistribution: [LatencyPercentile]
    public var meanLatencyMicroseconds: Double
    /// MiB/s of each whole second of the measured window, in order.
    public var intervals: [Double]
    /// Operations that failed (in the whole run), and the first of them.
    public var errors: Int
    public var firstError: BlockIOFailure?

    public init(job: BlockIOJob, regionLength: Int, engine: BlockIOEngine, fallbackReason: String?, alignment: Int,
                alignmentSource: String, bytes: Int, operations: Int, measured: Duration, totalBytes: Int,
                limitedBy: BlockIOLimit, latency: [LatencyPercentile], latencyDistribution: [LatencyPercentile],
                meanLatencyMicroseconds: Double, intervals: [Double], errors: Int, firstError: BlockIOFailure?) {
        self.job = job
        self.regionLength = regionLength
        self.engine = engine
        self.fallbackReason = fallbackReason
        self.alignment = alignment
        self.alignmentSource = alignmentSource
        self.bytes = bytes
        self.operations = operations
        self.measured = measured
        self.totalBytes = totalBytes
        self.limitedBy = limitedBy
        self.latency = latency
        self.latencyDistribution = latencyDistribution
        self.meanLatencyMicroseconds = meanLatencyMicroseconds
        self.intervals = intervals
        self.errors = errors
        self.firstError = firstError
    }

    /// MiB (2^20 bytes) per second over the measured window.
    public var mibPerSecond: Double { measured > .zero ? Double(bytes) / 1_048_576 / measured.seconds : 0 }

    /// Operations per second over the measured window.
    public var iops: Double { measured > .zero ? Double(operations) / measured.seconds : 0 }

    /// The latency at `percentile` (one of `LatencyResult.summaryPercentiles`), in microseconds.
    public func latencyMicroseconds(at percentile: Double) -> Double {
        latency.first { $0.percentile == percentile }?.microseconds ?? .nan
    }

    /// The fio invocation for the same job on the same engine and region.
    public var fioArguments: [String] {
        var job = job
        job.length = regionLength
        return job.fioArguments(engine: engine)
    }

    public var fioCommandLine: String { BlockIOJob.shellLine(fioArguments) }

    public var description: String {
        let region = "\(job.path) [\(job.offset), +\(regionLength))"
        let engineText = engine.rawValue + (fallbackReason.map { " (fell back: \($0))" } ?? "")
        let latencyText = latency.isEmpty ? "none measured" : latency.map { point in
            let name = point.percentile == 100 ? "max" : point.percentile == point.percentile.rounded()
                ? "p\(Int(point.percentile))" : "p\(ThroughputResult.format(point.percentile))"
            return "\(name) \(ThroughputResult.format(point.microseconds)) us"
        }.joined(separator: ", ")
        return "\(job.shape) \(region): \(job.blockSize)-byte blocks, QD \(job.queueDepth), \(job.jobs) "
            + "job\(job.jobs == 1 ? "" : "s"), \(job.direct ? "direct" : "buffered"), \(engineText); "
            + "\(measured.evidenceText) measured after \(job.warmUp.evidenceText) warm-up (ended by \(limitedBy.rawValue)) → "
            + "\(ThroughputResult.format(mibPerSecond)) MiB/s, \(Int(iops.rounded())) IOPS "
            + "(\(operations) operations, \(bytes) bytes); latency \(latencyText), mean "
            + "\(ThroughputResult.format(meanLatencyMicroseconds)) us; intervals (MiB/s): "
            + intervals.map(ThroughputResult.format).joined(separator: ", ") + "; errors: \(errors)"
            + (firstError.map { ", first: \($0)" } ?? "")
    }
}
