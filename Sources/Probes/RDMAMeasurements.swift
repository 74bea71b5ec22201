// Probes: the RDMA measurement engines, over one connected QP as perftest measures:
// bandwidth with up to TX-depth work requests in flight (ib_write_bw, ib_read_bw), and
// latency as ping-pong, half the round trip (ib_send_lat, ib_write_lat). Every loop is
// bounded in iterations and in time.
import Fabric
import Histogram
import Systems

/// The parameters of one RDMA measurement, as perftest users name them.
public struct RDMATransferParameters: Sendable, Hashable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case write, read, send
    }

    public var operation: Operation
    /// `-s`: bytes per message.
    public var messageBytes: Int
    /// `-n`: the most messages (or round trips).
    public var iterations: Int
    /// `-t`: work requests in flight (1 for latency).
    public var txDepth: Int
    /// The most time the run may take; it ends at whichever bound comes first.
    public var timeLimit: Duration

    public init(operation: Operation, messageBytes: Int, iterations: Int, txDepth: Int, timeLimit: Duration) {
        self.operation = operation
        self.messageBytes = messageBytes
        self.iterations = iterations
        self.txDepth = txDepth
        self.timeLimit = timeLimit
    }

    /// `RC, 1 QP, size 65536 B, iterations ≤ 5000, TX depth 128, ≤ 2 s` (perftest's -c -q -s -n -t -D).
    public var description: String {
        "RC, 1 QP, rdma_cm, \(operation.rawValue) size \(messageBytes) B, iterations ≤ \(iterations), TX depth \(txDepth) "
            + "(≤ \(RDMAMeasurement.maximumBytesInFlight >> 20) MiB in flight), "
            + "≤ \(timeLimit)"
    }
}

/// A work request that did not complete successfully.
public struct RDMATransferFailure: Error, Sendable, CustomStringConvertible {
    public var completion: WorkCompletion
    public var after: Int
    public var description: String { "a work completion with \(completion.status) after \(after) successful ones" }
}

public struct RDMABandwidthResult: Sendable, Hashable {
    public var parameters: RDMATransferParameters
    public var messages: Int
    public var seconds: Double

    public var bytes: Int { messages * parameters.messageBytes }
    public var gigabitsPerSecond: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0 }
    public var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
}

public struct RDMALatencyResult: Sendable, Hashable {
    public var parameters: RDMATransferParameters
    public var samples: Int
    /// Half the round trip, in microseconds: 50, 90, 99, 99.9 and 100 (max) percentiles, and the minimum.
    public var percentiles: [Double: Double]
    public var minimum: Double
}

public enum RDMAMeasurement {
    /// The most bytes a bandwidth run keeps in flight: at large sizes the TX depth is
    /// lowered to it, so that a run stops within its time bound (128 × 8 MiB would not);
    /// 4 MiB is many times a 400 Gbit/s link's bandwidth-delay product within a rack.
    public static let maximumBytesInFlight = 4 << 20

    /// RDMA WRITEs or READs of `parameters.messageBytes` between `local` and `remote`
    /// (both at offset 0), TX depth in flight (at most `maximumBytesInFlight`), every one signaled.
    public static func bandwidth(_ connection: RDMAConnection, local: MemoryRegion, remote: RemoteBuffer,
                                 _ parameters: RDMATransferParameters) throws -> RDMABandwidthResult {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + parameters.timeLimit
        // A transfer that stops completing is a broken path, not a slow one.
        let stall = deadline + .seconds(30)
        var posted = 0
        var completed = 0
        var lastCompletion = start
        let depth = min(parameters.txDepth, max(1, maximumBytesInFlight / max(1, parameters.messageBytes)))
        while completed < posted || (posted < parameters.iterations && clock.now < deadline) {
            while posted - completed < depth && posted < parameters.iterations && clock.now < deadline {
                if parameters.operation == .read {
                    try connection.postRead(local, length: parameters.messageBytes, from: remote, id: UInt64(posted))
                } else {
                    try connection.postWrite(local, length: parameters.messageBytes, to: remote, id: UInt64(posted))
                }
                posted += 1
            }
            let batch = try connection.completions.poll()
            if let failed = batch.first(where: { !$0.succeeded }) {
                throw RDMATransferFailure(completion: failed, after: completed)
            }
            if !batch.isEmpty {
                completed += batch.count
                lastCompletion = clock.now
            } else if clock.now > stall {
                throw FabricError(.timedOut, "RDMA \(parameters.operation.rawValue)", subject: "QP \(connection.queuePairNumber)",
                                  detail: "\(posted - completed) work requests did not complete")
            }
        }
        return RDMABandwidthResult(parameters: parameters, messages: completed, seconds: (lastCompletion - start).seconds)
    }

    /// Ping-pong through an echoing responder: a SEND answered by a SEND (`echo` nil), or
    /// an RDMA WRITE with immediate into `echo` answered by one into `local`'s reply half.
    /// `local` holds two messages: the outgoing one at 0, the incoming one after it.
    public static func latency(_ connection: RDMAConnection, local: MemoryRegion, echo: RemoteBuffer?,
                               _ parameters: RDMATransferParameters) throws -> RDMALatencyResult {
        let clock = ContinuousClock()
        let size = parameters.messageBytes
        let deadline = clock.now + parameters.timeLimit
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var samples = 0
        var outstandingSends = 0
        // As perftest: not every send is signaled (a completion costs the HCA and this loop
        // work on the path measured); one in `interval` is, so the send queue drains, and the last.
        let interval = max(1, min(8, connection.depth / 2))
        while samples < parameters.iterations && clock.now < deadline {
            let signaled = samples % interval == interval - 1 || samples == parameters.iterations - 1
            if let echo {
                try connection.postReceive(nil, id: 1)
                let started = clock.now
                try connection.postWrite(local, length: size, to: echo, id: 2, signaled: signaled,
                                         immediate: UInt32(truncatingIfNeeded: samples))
                if signaled { outstandingSends += 1 }
                try awaitArrival(connection, outstandingSends: &outstandingSends, by: deadline + .seconds(30))
                histogram.record(UInt64((clock.now - started).nanoseconds / 2))
            } else {
                try connection.postReceive(local, offset: size, length: size, id: 1)
                let started = clock.now
                try connection.postSend(local, length: size, id: 2, signaled: signaled)
                if signaled { outstandingSends += 1 }
                try awaitArrival(connection, outstandingSends: &outstandingSends, by: deadline + .seconds(30))
                histogram.record(UInt64((clock.now - started).nanoseconds / 2))
            }
            samples += 1
        }
        // Send completions still owed are reaped so the QP is left quiet.
        _ = try connection.completions(outstandingSends, by: clock.now + .seconds(5))
        var percentiles: [Double: Double] = [:]
        for percentile in [50.0, 90, 99, 99.9, 100] {
            let value = percentile == 100 ? histogram.max : histogram.valueAtPercentile(percentile)
            percentiles[percentile] = Double(value) / 1000
        }
        return RDMALatencyResult(parameters: parameters, samples: samples, percentiles: percentiles,
                                 minimum: Double(histogram.min) / 1000)
    }

    /// Spins until the receive (id 1) completes, reaping send completions on the way. The
    /// clock is read only every few thousand empty polls: under emulation reading it costs
    /// more than a poll, and the spin would measure it.
    private static func awaitArrival(_ connection: RDMAConnection, outstandingSends: inout Int,
                                     by deadline: ContinuousClock.Instant) throws {
        var emptyPolls = 0
        while true {
            let batch = try connection.completions.poll()
            if let failed = batch.first(where: { !$0.succeeded }) {
                throw RDMATransferFailure(completion: failed, after: 0)
            }
            outstandingSends -= batch.filter { $0.workRequestID == 2 }.count
            if batch.contains(where: { $0.workRequestID == 1 }) { return }
            if batch.isEmpty {
                emptyPolls += 1
                if emptyPolls % 4096 == 0 && ContinuousClock.now > deadline {
                    throw FabricError(.timedOut, "RDMA ping-pong", subject: "QP \(connection.queuePairNumber)",
                                      detail: "no answer from the responder")
                }
            }
        }
    }
}
