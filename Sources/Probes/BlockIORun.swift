// Probes: the block I/O engine. A run opens the file or device, chooses io_uring or the
// thread pool, starts one worker per ring (or per thread), and waits for them while
// telling `progress` once a second; each worker keeps its own tally (bytes, operations,
// a latency histogram, bytes per second) and the tallies are merged at the end.
import CIOURing
import Dispatch
import Foundation
import Glibc
import Histogram
import Synchronization
import Systems

extension BlockIOJob {
    /// Runs the job and measures it. `progress` hears, once a second, how it is going.
    /// Throws when it cannot start (a job refused, the path not opened, io_uring asked for
    /// and unavailable) or when the device stops completing operations; failed operations
    /// are counted in the result, not thrown.
    public func run(progress: (@Sendable (BlockIOProgress) -> Void)? = nil) throws(BlockIOError) -> BlockIOResult {
        try BlockIORun.run(self, progress: progress)
    }

    /// How long a run waits, after its end, for operations still in flight before it
    /// gives up on the device (a healthy one completes them in milliseconds; the kernel's
    /// own NVMe timeout is 30 s).
    public static let completionGrace: Duration = .seconds(10)
}

/// The instants of a run, in CLOCK_MONOTONIC nanoseconds.
struct BlockIOTimeline: Sendable {
    let start: UInt64
    let warmEnd: UInt64
    let end: UInt64

    init(start: UInt64, warmUp: Duration, duration: Duration) {
        self.start = start
        warmEnd = start + UInt64(max(0, warmUp.nanoseconds))
        end = warmEnd + UInt64(max(0, duration.nanoseconds))
    }
}

/// What one job (a ring, or a group of threads) may do: its blocks and its share of the
/// byte limit, handed out as tickets so that a job's threads share one sequence.
final class BlockIOJobShare: Sendable {
    let index: Int
    /// The job's blocks, its slice (sequential) or the whole region (random): the byte
    /// offset of the first in the file or device, and how many.
    let firstOffset: Int
    let blocks: Int
    let blockSize: Int
    let sequential: Bool
    let operationBudget: Int
    private let tickets = Atomic<Int>(0)
    private let exhaustedFlag = Atomic<Bool>(false)

    init(index: Int, firstOffset: Int, blocks: Int, blockSize: Int, sequential: Bool, operationBudget: Int) {
        self.index = index
        self.firstOffset = firstOffset
        self.blocks = blocks
        self.blockSize = blockSize
        self.sequential = sequential
        self.operationBudget = operationBudget
    }

    /// The next operation's number, or nil when the job's byte share is used up.
    @inline(__always)
    func takeTicket() -> Int? {
        let ticket = tickets.wrappingAdd(1, ordering: .relaxed).oldValue
        guard ticket < operationBudget else {
            exhaustedFlag.store(true, ordering: .relaxed)
            return nil
        }
        return ticket
    }

    /// Marks the share used up (a ring counts its own tickets).
    func markExhausted() { exhaustedFlag.store(true, ordering: .relaxed) }

    var exhausted: Bool { exhaustedFlag.load(ordering: .relaxed) }

    /// Where operation `ticket` goes: the next block of the slice, or a random block.
    @inline(__always)
    func offset(for ticket: Int, random: inout SplitMix64) -> Int {
        let block = sequential ? ticket % blocks : random.next(below: blocks)
        return firstOffset + block * blockSize
    }
}

/// What a worker has done so far, read by the progress ticker while it runs.
final class BlockIOWorkerCounter: Sendable {
    private let bytesMoved = Atomic<Int>(0)
    private let operationsDone = Atomic<Int>(0)

    @inline(__always)
    func publish(bytes: Int, operations: Int) {
        bytesMoved.store(bytes, ordering: .relaxed)
        operationsDone.store(operations, ordering: .relaxed)
    }

    var bytes: Int { bytesMoved.load(ordering: .relaxed) }
    var operations: Int { operationsDone.load(ordering: .relaxed) }
}

/// Where workers leave their tallies, and the flag that stops them early.
final class BlockIOBoard: Sendable {
    private let outcomes: Mutex<[Result<BlockIOTally, BlockIOError>?]>
    private let stopFlag = Atomic<Bool>(false)

    init(workers: Int) { outcomes = Mutex(Array(repeating: nil, count: workers)) }

    func finish(_ worker: Int, _ outcome: Result<BlockIOTally, BlockIOError>) {
        if case .failure = outcome { stop() }
        outcomes.withLock { $0[worker] = outcome }
    }

    func stop() { stopFlag.store(true, ordering: .relaxed) }

    @inline(__always)
    var stopped: Bool { stopFlag.load(ordering: .relaxed) }

    var finished: [Result<BlockIOTally, BlockIOError>?] { outcomes.withLock { $0 } }

    var unfinishedWorkers: Int {
        outcomes.withLock { outcomes in
            outcomes.reduce(0) { count, outcome in
                if case .none = outcome { count + 1 } else { count }
            }
        }
    }
}

/// One worker's figures. Operations completing before the warm-up ends count only in
/// the totals; those completing after it count in the measured window.
struct BlockIOTally: Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: BlockIOTally.highestLatency, numberOfSignificantValueDigits: .three)
    var bytes = 0
    var operations = 0
    var totalBytes = 0
    var totalOperations = 0
    /// Bytes completed in each whole second after the warm-up's end.
    var bytesPerSecond: [Int]
    /// When the last measured operation completed (0: none did).
    var lastCompletion: UInt64 = 0
    var errors = 0
    var firstError: BlockIOFailure?

    /// Latencies above a minute are recorded as a minute.
    static let highestLatency: UInt64 = 60_000_000_000

    init(seconds: Int) { bytesPerSecond = Array(repeating: 0, count: max(1, seconds + 2)) }

    /// Counts one completed operation: `result` is bytes transferred or a negative errno.
    @inline(__always)
    mutating func complete(result: Int, requested: Int, offset: Int, direction: BlockIODirection, queuedAt: UInt64,
                           now: UInt64, warmEnd: UInt64) {
        guard result == requested else {
            errors += 1
            if firstError == nil {
                firstError = BlockIOFailure(direction: direction, offset: offset, code: result < 0 ? Int32(-result) : 0,
                                            transferred: max(0, result))
            }
            return
        }
        totalBytes += requested
        totalOperations += 1
        guard now >= warmEnd else { return }
        bytes += requested
        operations += 1
        histogram.record(min(now &- queuedAt, Self.highestLatency))
        let second = Int((now - warmEnd) / 1_000_000_000)
        while second >= bytesPerSecond.count { bytesPerSecond.append(0) }
        bytesPerSecond[second] += requested
        lastCompletion = now
    }

    mutating func merge(_ other: BlockIOTally) {
        histogram.add(other.histogram)
        bytes += other.bytes
        operations += other.operations
        totalBytes += other.totalBytes
        totalOperations += other.totalOperations
        while bytesPerSecond.count < other.bytesPerSecond.count { bytesPerSecond.append(0) }
        for (second, value) in other.bytesPerSecond.enumerated() { bytesPerSecond[second] += value }
        lastCompletion = max(lastCompletion, other.lastCompletion)
        errors += other.errors
        if firstError == nil { firstError = other.firstError }
    }
}

/// Everything a worker needs, all of it safe to hand to its thread.
struct BlockIOWorkerContext: Sendable {
    let job: BlockIOJob
    let target: BlockTarget
    let share: BlockIOJobShare
    let board: BlockIOBoard
    let counter: BlockIOWorkerCounter
    let timeline: BlockIOTimeline
    /// The worker's number within its job (a thread of the pool), for its seed.
    let lane: Int

    var seed: UInt64 { SplitMix64.mix(job.seed ^ UInt64(share.index) << 32 ^ UInt64(lane)) }

    /// Fills a write buffer with data derived from the seed: deterministic, and with no
    /// zero byte, so written blocks never read back as unwritten ones.
    func fillWritePattern(_ buffer: AlignedBuffer) {
        var random = SplitMix64(seed: seed)
        let words = buffer.bytes.bindMemory(to: UInt64.self, capacity: buffer.count / 8)
        for index in 0..<(buffer.count / 8) { words[index] = random.next() | 0x0101_0101_0101_0101 }
    }
}

enum BlockIORun {
    static func run(_ job: BlockIOJob, progress: (@Sendable (BlockIOProgress) -> Void)?) throws(BlockIOError) -> BlockIOResult {
        if let problem = job.problem() { throw .invalidJob(path: job.path, reason: problem) }
        let target = try BlockTarget.open(job.path, writing: job.direction == .write, direct: job.direct)
        if job.direct {
            try target.checkAlignment("block size", job.blockSize)
            try target.checkAlignment("region offset", job.offset)
        }
        let regionLength = try region(of: job, in: target)
        let blocks = regionLength / job.blockSize
        if job.pattern == .sequential && blocks < job.jobs {
            throw .invalidJob(path: job.path, reason: "a region of \(blocks) blocks cannot give each of \(job.jobs) jobs a slice")
        }
        let (engine, fallbackReason) = try chooseEngine(job.engine, queueDepth: job.queueDepth) { entries throws(SystemCallError) in
            _ = try IORing(entries: entries)
        }
        if engine == .threads && job.queueDepth * job.jobs > BlockIOJob.maximumThreads {
            throw .invalidJob(path: job.path, reason: "the thread engine\(fallbackReason.map { " (io_uring: \($0))" } ?? "") "
                + "would start \(job.queueDepth * job.jobs) threads, more than \(BlockIOJob.maximumThreads)")
        }

        let operationBudget = job.byteLimit / job.jobs / job.blockSize
        let shares = (0..<job.jobs).map { index in
            let first = job.pattern == .sequential ? blocks * index / job.jobs : 0
            let last = job.pattern == .sequential ? blocks * (index + 1) / job.jobs : blocks
            return BlockIOJobShare(index: index, firstOffset: job.offset + first * job.blockSize, blocks: last - first,
                                   blockSize: job.blockSize, sequential: job.pattern == .sequential,
                                   operationBudget: operationBudget)
        }
        let lanes = engine == .ioUring ? 1 : job.queueDepth
        let board = BlockIOBoard(workers: shares.count * lanes)
        let timeline = BlockIOTimeline(start: monotonicNanoseconds(), warmUp: job.warmUp, duration: job.duration)
        let contexts = shares.flatMap { share in
            (0..<lanes).map { lane in
                BlockIOWorkerContext(job: job, target: target, share: share, board: board, counter: BlockIOWorkerCounter(),
                                     timeline: timeline, lane: lane)
            }
        }

        let group = DispatchGroup()
        for (index, context) in contexts.enumerated() {
            group.enter()
            let thread = Thread {
                let outcome = Result { () throws(BlockIOError) in
                    try engine == .ioUring ? RingWorker.run(context) : ThreadWorker.run(context)
                }
                board.finish(index, outcome)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        try watch(group, contexts: contexts, timeline: timeline, board: board, path: job.path, progress: progress)

        var tally = BlockIOTally(seconds: 0)
        for outcome in board.finished {
            switch outcome {
            case .success(let worker): tally.merge(worker)
            case .failure(let error): throw error
            case nil: throw .invalidJob(path: job.path, reason: "a worker ended without a tally")
            }
        }
        return result(of: job, tally: tally, regionLength: regionLength, engine: engine, fallbackReason: fallbackReason,
                      target: target, timeline: timeline, byteLimited: shares.allSatisfy(\.exhausted))
    }

    /// The region's length as it will run: the job's, or the rest of the file or device.
    /// Reads, and anything on a block device, must stay inside it; writes may grow a file.
    private static func region(of job: BlockIOJob, in target: BlockTarget) throws(BlockIOError) -> Int {
        let kind = target.isBlockDevice ? "device" : "file"
        guard let length = job.length else {
            guard target.size - job.offset >= job.blockSize else {
                throw .invalidJob(path: job.path, reason: "the \(kind) has \(target.size) bytes: no whole "
                    + "\(job.blockSize)-byte block from offset \(job.offset) (give the region a length)")
            }
            return target.size - job.offset
        }
        if (job.direction == .read || target.isBlockDevice) && job.offset + length > target.size {
            throw .invalidJob(path: job.path, reason: "the region [\(job.offset), +\(length)) passes the end of the "
                + "\(kind) at \(target.size) bytes")
        }
        return length
    }

    /// The engine a preference gets. `setUpRing` tries a ring of `queueDepth` entries (and
    /// lets it go): where the kernel refuses it, automatic falls back to threads and says
    /// why; io_uring by name is an error.
    static func chooseEngine(_ preference: BlockIOEnginePreference, queueDepth: Int,
                             setUpRing: (Int) throws(SystemCallError) -> Void) throws(BlockIOError) -> (BlockIOEngine, String?) {
        if preference == .threads { return (.threads, nil) }
        do {
            try setUpRing(queueDepth)
            return (.ioUring, nil)
        } catch {
            if preference == .ioUring { throw .ioUringUnavailable(error) }
            return (.threads, "\(error)")
        }
    }

    /// Waits for the workers, telling `progress` once a second; gives up `completionGrace`
    /// after the run's end.
    private static func watch(_ group: DispatchGroup, contexts: [BlockIOWorkerContext], timeline: BlockIOTimeline,
                              board: BlockIOBoard, path: String,
                              progress: (@Sendable (BlockIOProgress) -> Void)?) throws(BlockIOError) {
        let second: UInt64 = 1_000_000_000
        let giveUp = timeline.end + UInt64(BlockIOJob.completionGrace.nanoseconds)
        var nextTick = timeline.start + second
        var last = (at: timeline.start, bytes: 0, operations: 0)
        while true {
            let now = monotonicNanoseconds()
            let wake = progress == nil ? giveUp : min(nextTick, giveUp)
            if group.wait(timeout: .now() + .nanoseconds(Int(wake > now ? wake - now : 0))) == .success { return }
            let woke = monotonicNanoseconds()
            if woke >= giveUp {
                board.stop()
                throw .unfinished(path: path, workers: board.unfinishedWorkers, waited: BlockIOJob.completionGrace)
            }
            guard let progress, woke >= nextTick else { continue }
            let bytes = contexts.reduce(0) { $0 + $1.counter.bytes }
            let operations = contexts.reduce(0) { $0 + $1.counter.operations }
            let elapsed = Double(woke - last.at) / 1e9
            progress(BlockIOProgress(elapsed: .nanoseconds(Int64(woke - timeline.start)), warmingUp: woke < timeline.warmEnd,
                                     mibPerSecond: Double(bytes - last.bytes) / 1_048_576 / elapsed,
                                     iops: Double(operations - last.operations) / elapsed, bytes: bytes, operations: operations))
            last = (woke, bytes, operations)
            while nextTick <= woke { nextTick += second }
        }
    }

    private static func result(of job: BlockIOJob, tally: BlockIOTally, regionLength: Int, engine: BlockIOEngine,
                               fallbackReason: String?, target: BlockTarget, timeline: BlockIOTimeline,
                               byteLimited: Bool) -> BlockIOResult {
        let measuredNanoseconds = tally.lastCompletion > timeline.warmEnd ? tally.lastCompletion - timeline.warmEnd : 0
        // Whole seconds, and a last part-second only when it is at least half of one.
        var intervals: [Double] = []
        for (second, bytes) in tally.bytesPerSecond.enumerated() {
            let start = UInt64(second) * 1_000_000_000
            guard start < measuredNanoseconds else { break }
            let length = min(measuredNanoseconds - start, 1_000_000_000)
            guard length >= 500_000_000 else { break }
            intervals.append(Double(bytes) / 1_048_576 / (Double(length) / 1e9))
        }
        let histogram = tally.histogram
        let measured = tally.operations > 0
        let latency = measured ? LatencyResult.summaryPercentiles.map { percentile in
            LatencyPercentile(percentile: percentile,
                              microseconds: Double(percentile == 100 ? histogram.max : histogram.valueAtPercentile(percentile)) / 1000)
        } : []
        let distribution = measured ? histogram.percentiles(ticksPerHalfDistance: 5).map {
            LatencyPercentile(percentile: $0.percentile, microseconds: Double($0.value) / 1000)
        } : []
        return BlockIOResult(job: job, regionLength: regionLength, engine: engine, fallbackReason: fallbackReason,
                             alignment: target.alignment, alignmentSource: target.alignmentSource, bytes: tally.bytes,
                             operations: tally.operations, measured: .nanoseconds(Int64(measuredNanoseconds)),
                             totalBytes: tally.totalBytes, limitedBy: byteLimited ? .byteLimit : .duration, latency: latency,
                             latencyDistribution: distribution, meanLatencyMicroseconds: measured ? histogram.mean / 1000 : 0,
                             intervals: intervals, errors: tally.errors, firstError: tally.firstError)
    }
}

/// One io_uring per job: keeps `queueDepth` operations in flight, submitting each as it
/// is queued (the same system call makes completions that arrived visible), reaping every
/// completion ready and sleeping only when none is. One clock read per round stamps the
/// completions reaped and the operations queued next.
private enum RingWorker {
    static func run(_ context: BlockIOWorkerContext) throws(BlockIOError) -> BlockIOTally {
        let job = context.job, share = context.share, timeline = context.timeline
        let depth = job.queueDepth, blockSize = job.blockSize, writing = job.direction == .write
        let descriptor = context.target.descriptor
        let ring: IORing, buffers: AlignedBuffer
        do {
            ring = try IORing(entries: depth)
            buffers = try AlignedBuffer(count: depth * blockSize, alignment: context.target.bufferAlignment)
        } catch {
            throw .system(error)
        }
        if writing { context.fillWritePattern(buffers) }
        let queuedAt = UnsafeMutablePointer<UInt64>.allocate(capacity: depth)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: depth)
        let freeSlots = UnsafeMutablePointer<Int>.allocate(capacity: depth)
        let completions = UnsafeMutablePointer<dpucert_uring_completion>.allocate(capacity: depth)
        defer {
            queuedAt.deallocate()
            offsets.deallocate()
            freeSlots.deallocate()
            completions.deallocate()
        }
        for slot in 0..<depth { freeSlots[slot] = slot }
        var freeCount = depth
        var tally = BlockIOTally(seconds: Int(job.duration.seconds))
        var random = SplitMix64(seed: context.seed)
        var issued = 0, inFlight = 0
        var now = monotonicNanoseconds()
        let subject = "\(job.path) (job \(share.index))"
        do {
            while true {
                if now < timeline.end && !context.board.stopped {
                    while inFlight < depth {
                        guard issued < share.operationBudget else {
                            share.markExhausted()
                            break
                        }
                        let slot = freeSlots[freeCount - 1]
                        let offset = share.offset(for: issued, random: &random)
                        guard ring.queue(write: writing, descriptor: descriptor, buffer: buffers.bytes + slot * blockSize,
                                         length: blockSize, offset: offset, tag: UInt64(slot)) else { break }
                        // Each operation goes to the kernel as soon as it is queued, as fio submits:
                        // operations submitted together wait in the block layer's plug for the last
                        // of them and reach the device in one notification, which costs a virtual
                        // (virtio) device a tenth of its random IOPS.
                        try ring.submitAndWait(0, subject: subject)
                        freeCount -= 1
                        queuedAt[slot] = now
                        offsets[slot] = offset
                        issued += 1
                        inFlight += 1
                    }
                }
                if inFlight == 0 { break }
                var count = ring.reap(into: completions, capacity: depth)
                if count == 0 {
                    try ring.submitAndWait(1, subject: subject)
                    count = ring.reap(into: completions, capacity: depth)
                }
                now = monotonicNanoseconds()
                for index in 0..<count {
                    let slot = Int(completions[index].user_data)
                    tally.complete(result: Int(completions[index].result), requested: blockSize, offset: offsets[slot],
                                   direction: job.direction, queuedAt: queuedAt[slot], now: now, warmEnd: timeline.warmEnd)
                    freeSlots[freeCount] = slot
                    freeCount += 1
                }
                inFlight -= count
                context.counter.publish(bytes: tally.totalBytes, operations: tally.totalOperations)
            }
        } catch {
            throw .system(error)
        }
        return tally
    }
}

/// One thread of a job's pool: one pread or pwrite at a time, its job's tickets shared
/// with the job's other threads.
private enum ThreadWorker {
    static func run(_ context: BlockIOWorkerContext) throws(BlockIOError) -> BlockIOTally {
        let job = context.job, share = context.share, timeline = context.timeline
        let blockSize = job.blockSize, writing = job.direction == .write
        let descriptor = context.target.descriptor
        let buffer: AlignedBuffer
        do {
            buffer = try AlignedBuffer(count: blockSize, alignment: context.target.bufferAlignment)
        } catch {
            throw .system(error)
        }
        if writing { context.fillWritePattern(buffer) }
        var tally = BlockIOTally(seconds: Int(job.duration.seconds))
        var random = SplitMix64(seed: context.seed)
        while true {
            let start = monotonicNanoseconds()
            guard start < timeline.end, !context.board.stopped, let ticket = share.takeTicket() else { break }
            let offset = share.offset(for: ticket, random: &random)
            var result: Int
            repeat {
                result = writing ? pwrite(descriptor, buffer.bytes, blockSize, off_t(offset))
                    : pread(descriptor, buffer.bytes, blockSize, off_t(offset))
            } while result < 0 && errno == EINTR
            if result < 0 { result = -Int(errno) }
            tally.complete(result: result, requested: blockSize, offset: offset, direction: job.direction, queuedAt: start,
                           now: monotonicNanoseconds(), warmEnd: timeline.warmEnd)
            context.counter.publish(bytes: tally.totalBytes, operations: tally.totalOperations)
        }
        return tally
    }
}
