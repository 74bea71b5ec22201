// Probes: the integrity pattern over a region of a file or block device: write one
// generation of it (direct I/O, then a sync), verify what reads back, and the flush
// check (write, sync, close, reopen, verify) that `storage.flush` rests on.
import Glibc
import Systems

/// How a write of the pattern is made durable before it counts as written.
public enum IntegritySync: String, Sendable, Hashable, Codable {
    /// fsync: data and metadata (a scratch file may have grown).
    case fsync
    /// fdatasync: data, and only the metadata needed to read it back.
    case fdatasync
}

/// A region laid out as integrity blocks: `length` bytes (whole blocks) of `path` from
/// `offset`, each block `blockSize` bytes (a multiple of 512 and of the alignment direct
/// I/O needs there), stamped with `runID` so blocks of another run read as stale.
public struct IntegrityRegion: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: String
    public var offset: Int
    public var length: Int
    public var blockSize: Int
    public var runID: UInt64
    public var direct: Bool

    public init(path: String, offset: Int = 0, length: Int, blockSize: Int = 4096, runID: UInt64, direct: Bool = true) {
        self.path = path
        self.offset = offset
        self.length = length
        self.blockSize = blockSize
        self.runID = runID
        self.direct = direct
    }

    public var blocks: Int { blockSize > 0 ? length / blockSize : 0 }

    /// Bytes moved per read or write call: whole blocks, about a MiB.
    static let chunkBytes = 1 << 20

    public var description: String {
        "\(path) [\(offset), +\(blocks * blockSize)) in \(blockSize)-byte blocks, run \(IntegrityBlock.hex(runID))"
    }

    /// Writes `generation` (1 or more) of the pattern over the region, then syncs and
    /// closes. A failed or short write throws, with its offset.
    public func write(generation: UInt64, sync: IntegritySync = .fsync) throws(BlockIOError) -> IntegrityWrite {
        try check(generation: generation)
        let target = try BlockTarget.open(path, writing: true, direct: direct)
        try checkFits(target, writing: true)
        return try write(generation: generation, sync: sync, to: target)
    }

    /// Writes `generation`, syncs, and reads it back through the same open file: what the
    /// device returns for data it acknowledged, before any close could lose a cache.
    public func writeThenVerify(generation: UInt64, sync: IntegritySync = .fsync,
                                findingsKept: Int = 16) throws(BlockIOError) -> (IntegrityWrite, IntegrityVerification) {
        try check(generation: generation)
        let target = try BlockTarget.open(path, writing: true, direct: direct)
        try checkFits(target, writing: true)
        let written = try write(generation: generation, sync: sync, to: target)
        return (written, try verify(expecting: generation, findingsKept: findingsKept, from: target))
    }

    private func write(generation: UInt64, sync: IntegritySync, to target: BlockTarget) throws(BlockIOError) -> IntegrityWrite {
        let buffer = try chunkBuffer(target)
        let started = monotonicNanoseconds()
        var block = 0
        while block < blocks {
            let count = min(blocks - block, buffer.count / blockSize)
            let start = offset + block * blockSize
            for index in 0..<count {
                let slice = UnsafeMutableRawBufferPointer(start: buffer.bytes + index * blockSize, count: blockSize)
                IntegrityBlock.fill(slice, offset: start + index * blockSize, generation: generation, runID: runID)
            }
            try transfer(target, buffer, count * blockSize, at: start, writing: true)
            block += count
        }
        let written = monotonicNanoseconds()
        try target.sync(metadata: sync == .fsync)
        let synced = monotonicNanoseconds()
        return IntegrityWrite(region: self, generation: generation, sync: sync, writeTime: .nanoseconds(Int64(written - started)),
                              syncTime: .nanoseconds(Int64(synced - written)))
    }

    /// Reads the region back and classifies every block against `generation` of this
    /// run, keeping the first `findingsKept` blocks that are not as expected.
    public func verify(expecting generation: UInt64, findingsKept: Int = 16) throws(BlockIOError) -> IntegrityVerification {
        try check(generation: generation)
        let target = try BlockTarget.open(path, writing: false, direct: direct)
        try checkFits(target, writing: false)
        return try verify(expecting: generation, findingsKept: findingsKept, from: target)
    }

    private func verify(expecting generation: UInt64, findingsKept: Int,
                        from target: BlockTarget) throws(BlockIOError) -> IntegrityVerification {
        let buffer = try chunkBuffer(target)
        let started = monotonicNanoseconds()
        var counts = IntegrityCounts()
        var findings: [IntegrityFinding] = []
        var block = 0
        while block < blocks {
            let count = min(blocks - block, buffer.count / blockSize)
            let start = offset + block * blockSize
            try transfer(target, buffer, count * blockSize, at: start, writing: false)
            for index in 0..<count {
                let slice = UnsafeRawBufferPointer(start: buffer.bytes + index * blockSize, count: blockSize)
                if let finding = IntegrityBlock.classify(slice, offset: start + index * blockSize, generation: generation,
                                                         runID: runID) {
                    counts[finding.kind] += 1
                    if findings.count < findingsKept { findings.append(finding) }
                } else {
                    counts.ok += 1
                }
            }
            block += count
        }
        return IntegrityVerification(region: self, expectedGeneration: generation, counts: counts, findings: findings,
                                     readTime: .nanoseconds(Int64(monotonicNanoseconds() - started)))
    }

    /// The flush check: writes `generation`, syncs, reads it back through the writing
    /// descriptor, closes, opens the path again and verifies. A block that was intact
    /// before the close must still be after it.
    public func checkFlush(generation: UInt64, sync: IntegritySync = .fsync) throws(BlockIOError) -> FlushCheck {
        let (write, beforeClose) = try writeThenVerify(generation: generation, sync: sync)
        return FlushCheck(write: write, beforeClose: beforeClose, verification: try verify(expecting: generation))
    }

    private func check(generation: UInt64) throws(BlockIOError) {
        if generation == 0 { throw .invalidJob(path: path, reason: "integrity generations start at 1") }
        if blockSize < IntegrityBlock.sectorSize || blockSize % IntegrityBlock.sectorSize != 0 {
            throw .invalidJob(path: path, reason: "integrity block size \(blockSize) is not a whole number of 512-byte sectors")
        }
        if offset < 0 { throw .invalidJob(path: path, reason: "region offset \(offset) is negative") }
        if blocks == 0 { throw .invalidJob(path: path, reason: "region length \(length) holds no \(blockSize)-byte block") }
    }

    /// Alignment where direct I/O needs it; a region inside the device, or inside the
    /// file for reading (writing may grow a file).
    private func checkFits(_ target: BlockTarget, writing: Bool) throws(BlockIOError) {
        if direct {
            try target.checkAlignment("integrity block size", blockSize)
            try target.checkAlignment("region offset", offset)
        }
        let end = offset + blocks * blockSize
        if (!writing || target.isBlockDevice) && end > target.size {
            throw .invalidJob(path: path, reason: "the region [\(offset), +\(blocks * blockSize)) passes the end of the "
                + "\(target.isBlockDevice ? "device" : "file") at \(target.size) bytes")
        }
    }

    private func chunkBuffer(_ target: BlockTarget) throws(BlockIOError) -> AlignedBuffer {
        let blocksPerChunk = max(1, min(blocks, Self.chunkBytes / blockSize))
        do {
            return try AlignedBuffer(count: blocksPerChunk * blockSize, alignment: target.bufferAlignment)
        } catch {
            throw .system(error)
        }
    }

    private func transfer(_ target: BlockTarget, _ buffer: AlignedBuffer, _ count: Int, at position: Int,
                          writing: Bool) throws(BlockIOError) {
        var done = 0
        while done < count {
            let moved: Int
            do {
                moved = try SystemCall.check(writing ? "pwrite" : "pread", "\(path) at offset \(position + done)") {
                    writing ? pwrite(target.descriptor, buffer.bytes + done, count - done, off_t(position + done))
                        : pread(target.descriptor, buffer.bytes + done, count - done, off_t(position + done))
                }
            } catch {
                throw .system(error)
            }
            if moved == 0 {
                // The end of the file before the region's end: nothing more to read.
                throw .system(SystemCallError(writing ? "pwrite" : "pread",
                                              subject: "\(path) at offset \(position + done): no bytes moved", code: EIO))
            }
            done += moved
        }
    }
}

/// How many blocks fell in each class.
public struct IntegrityCounts: Sendable, Hashable, Codable {
    public var ok = 0
    public var corrupted = 0
    public var misdirected = 0
    public var stale = 0
    public var torn = 0
    public var unwritten = 0

    public init() {}

    public subscript(kind: IntegrityClass) -> Int {
        get {
            switch kind {
            case .ok: ok
            case .corrupted: corrupted
            case .misdirected: misdirected
            case .stale: stale
            case .torn: torn
            case .unwritten: unwritten
            }
        }
        set {
            switch kind {
            case .ok: ok = newValue
            case .corrupted: corrupted = newValue
            case .misdirected: misdirected = newValue
            case .stale: stale = newValue
            case .torn: torn = newValue
            case .unwritten: unwritten = newValue
            }
        }
    }

    public var total: Int { IntegrityClass.allCases.reduce(0) { $0 + self[$1] } }
}

/// One generation of the pattern written over a region, and how long writing and the
/// sync took.
public struct IntegrityWrite: Sendable, Hashable, Codable, CustomStringConvertible {
    public var region: IntegrityRegion
    public var generation: UInt64
    public var sync: IntegritySync
    public var writeTime: Duration
    public var syncTime: Duration

    public init(region: IntegrityRegion, generation: UInt64, sync: IntegritySync, writeTime: Duration, syncTime: Duration) {
        self.region = region
        self.generation = generation
        self.sync = sync
        self.writeTime = writeTime
        self.syncTime = syncTime
    }

    public var description: String {
        "wrote generation \(generation) over \(region) in \(writeTime.evidenceText), \(sync.rawValue) took \(syncTime.evidenceText)"
    }
}

/// A region read back against one generation: the count of each class and the first
/// blocks found not as expected, in offset order.
public struct IntegrityVerification: Sendable, Hashable, Codable, CustomStringConvertible {
    public var region: IntegrityRegion
    public var expectedGeneration: UInt64
    public var counts: IntegrityCounts
    public var findings: [IntegrityFinding]
    public var readTime: Duration

    public init(region: IntegrityRegion, expectedGeneration: UInt64, counts: IntegrityCounts, findings: [IntegrityFinding],
                readTime: Duration) {
        self.region = region
        self.expectedGeneration = expectedGeneration
        self.counts = counts
        self.findings = findings
        self.readTime = readTime
    }

    /// Every block read back as written.
    public var intact: Bool { counts.ok == region.blocks }

    public var description: String {
        let classes = IntegrityClass.allCases.filter { counts[$0] > 0 }.map { "\(counts[$0]) \($0.rawValue)" }
        return "verified \(region) against generation \(expectedGeneration) in \(readTime.evidenceText): "
            + classes.joined(separator: ", ")
            + (findings.isEmpty ? "" : "; " + findings.map(\.description).joined(separator: "; "))
    }
}

/// What the flush check found: the write and its sync, then what a fresh open read back.
public struct FlushCheck: Sendable, Hashable, Codable, CustomStringConvertible {
    public var write: IntegrityWrite
    /// What read back through the writing descriptor after the sync.
    public var beforeClose: IntegrityVerification
    /// What read back after closing and opening again.
    public var verification: IntegrityVerification

    public init(write: IntegrityWrite, beforeClose: IntegrityVerification, verification: IntegrityVerification) {
        self.write = write
        self.beforeClose = beforeClose
        self.verification = verification
    }

    /// Blocks intact before the close and not after it: what the close and reopen lost,
    /// whatever they read back as (older data, nothing, garbage). Blocks already damaged
    /// through the writing descriptor are the integrity check's finding, not a flush's.
    public var lostBlocks: Int { max(0, beforeClose.counts.ok - verification.counts.ok) }

    public var survived: Bool { lostBlocks == 0 }

    public var description: String {
        "\(write); before close: \(beforeClose); after close and reopen: \(verification)"
    }
}
