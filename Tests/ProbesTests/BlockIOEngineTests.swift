import Foundation
@testable import Probes
import Synchronization
import Systems
import Testing

/// Runs one at a time: the bounds asserted are wall-clock ones, on a machine of two cores.
@Suite("Block I/O engine on a real file", .serialized)
struct BlockIOEngineTests {
    /// Whether this kernel sets up an io_uring for this process.
    static let ioUringAvailable = (try? IORing(entries: 8)) != nil

    /// Latency percentiles, in the order `LatencyResult.summaryPercentiles` gives them, never decrease.
    static func percentilesAreOrdered(_ result: BlockIOResult) -> Bool {
        let values = result.latency.map(\.microseconds)
        return result.latency.map(\.percentile) == LatencyResult.summaryPercentiles
            && values.allSatisfy { $0.isFinite && $0 > 0 } && zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }
    }

    @Test("A sequential read job moves bytes for its duration, tells progress each second and orders its percentiles")
    func sequentialRead() throws {
        try BlockIOScratch.withFile(size: 16 << 20) { path in
            let heard = Mutex<[BlockIOProgress]>([])
            let job = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 64 << 10, queueDepth: 4, jobs: 2,
                                 duration: .milliseconds(1300), warmUp: .milliseconds(250))
            let started = ContinuousClock.now
            let result = try job.run { progress in heard.withLock { $0.append(progress) } }
            let elapsed = started.duration(to: .now)

            #expect(result.engine == (Self.ioUringAvailable ? .ioUring : .threads))
            #expect(result.bytes > 0 && result.bytes == result.operations * job.blockSize)
            #expect(result.totalBytes >= result.bytes)
            #expect(result.limitedBy == .duration)
            #expect(result.measured >= .milliseconds(1250) && result.measured <= .milliseconds(1800))
            #expect(elapsed <= .seconds(4))
            #expect(result.errors == 0 && result.firstError == nil)
            #expect(Self.percentilesAreOrdered(result))
            #expect(result.meanLatencyMicroseconds > 0 && result.meanLatencyMicroseconds <= result.latencyMicroseconds(at: 100))
            #expect(!result.latencyDistribution.isEmpty)
            #expect(result.intervals.count == 1 && result.intervals.allSatisfy { $0 > 0 })
            #expect(abs(result.mibPerSecond - Double(result.bytes) / 1_048_576 / result.measured.seconds) < 1e-9)
            #expect(result.regionLength == 16 << 20)
            let progress = heard.withLock { $0 }
            #expect(!progress.isEmpty && progress.count <= 2)
            #expect(progress.allSatisfy { $0.mibPerSecond > 0 && $0.iops > 0 })
            #expect(progress.first?.warmingUp == false)
            #expect(result.description.hasPrefix("seq read \(path) [0, +16777216): 65536-byte blocks, QD 4, 2 jobs, direct, "))
        }
    }

    @Test("A write job stops at its byte limit, warm-up included, and writes non-zero data")
    func writeByteLimit() throws {
        try BlockIOScratch.withFile(size: 8 << 20, fill: 0) { path in
            let job = BlockIOJob(path: path, direction: .write, pattern: .sequential, blockSize: 64 << 10, queueDepth: 8,
                                 duration: .seconds(20), byteLimit: 4 << 20, warmUp: .zero)
            let started = ContinuousClock.now
            let result = try job.run()
            #expect(started.duration(to: .now) < .seconds(10))
            #expect(result.limitedBy == .byteLimit)
            #expect(result.totalBytes == 4 << 20)
            #expect(result.bytes == 4 << 20 && result.operations == 64)
            #expect(result.errors == 0)
            // Sequential from the region's start: the first 4 MiB hold the pattern, no sector of it zero.
            let written = try BlockIOScratch.read(path, at: 0, count: 4 << 20)
            let sectors = stride(from: 0, to: written.count, by: 512).map { written[$0..<($0 + 512)] }
            #expect(sectors.allSatisfy { sector in sector.contains { $0 != 0 } })
            #expect(try BlockIOScratch.read(path, at: 4 << 20, count: 4096).allSatisfy { $0 == 0 })
        }
    }

    @Test("A run whose byte limit ends inside the warm-up measures nothing, says so, and still encodes")
    func limitInsideWarmUp() throws {
        try BlockIOScratch.withFile(size: 4 << 20) { path in
            let job = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 64 << 10, queueDepth: 4,
                                 duration: .seconds(5), byteLimit: 1 << 20, warmUp: .seconds(5))
            let started = ContinuousClock.now
            let result = try job.run()
            #expect(started.duration(to: .now) < .seconds(3))
            #expect(result.limitedBy == .byteLimit && result.totalBytes == 1 << 20)
            #expect(result.operations == 0 && result.bytes == 0 && result.measured == .zero)
            #expect(result.latency.isEmpty && result.latencyDistribution.isEmpty && result.intervals.isEmpty)
            #expect(result.mibPerSecond == 0 && result.iops == 0 && result.latencyMicroseconds(at: 99).isNaN)
            #expect(result.description.contains("ended by byte-limit) → 0.0 MiB/s, 0 IOPS (0 operations, 0 bytes); latency none measured"))
            let decoded = try JSONDecoder().decode(BlockIOResult.self, from: JSONEncoder().encode(result))
            #expect(decoded == result)
        }
    }

    @Test("The byte limit is split between jobs and a random job stays inside its region")
    func randomWriteRegion() throws {
        try BlockIOScratch.withFile(size: 4 << 20, fill: 0) { path in
            let job = BlockIOJob(path: path, direction: .write, pattern: .random, blockSize: 4096, queueDepth: 4, jobs: 2,
                                 offset: 1 << 20, length: 1 << 20, duration: .seconds(20), byteLimit: 1 << 20, warmUp: .zero)
            let result = try job.run()
            #expect(result.limitedBy == .byteLimit)
            #expect(result.totalBytes == 1 << 20 && result.operations == 256)
            #expect(try BlockIOScratch.read(path, at: 0, count: 1 << 20).allSatisfy { $0 == 0 })
            #expect(try BlockIOScratch.read(path, at: 2 << 20, count: 2 << 20).allSatisfy { $0 == 0 })
            #expect(try BlockIOScratch.read(path, at: 1 << 20, count: 1 << 20).contains { $0 != 0 })
        }
    }

    @Test("Random reads run on each engine asked for by name", arguments: [BlockIOEnginePreference.ioUring, .threads])
    func randomReadEngines(_ preference: BlockIOEnginePreference) throws {
        try BlockIOScratch.withFile(size: 16 << 20) { path in
            let job = BlockIOJob(path: path, direction: .read, pattern: .random, blockSize: 4096, queueDepth: 8,
                                 duration: .milliseconds(700), warmUp: .milliseconds(200), engine: preference, seed: 7)
            if preference == .ioUring && !Self.ioUringAvailable {
                #expect { try job.run() } throws: { error in
                    guard case .ioUringUnavailable = error as? BlockIOError else { return false }
                    return true
                }
                return
            }
            let result = try job.run()
            #expect(result.engine.rawValue == preference.rawValue)
            #expect(result.fallbackReason == nil)
            #expect(result.operations > 0 && result.bytes == result.operations * 4096)
            #expect(result.iops > 0 && result.limitedBy == .duration && result.errors == 0)
            #expect(result.measured >= .milliseconds(650) && result.measured <= .milliseconds(1200))
            #expect(Self.percentilesAreOrdered(result))
            #expect(result.fioArguments.contains("--ioengine=\(preference == .ioUring ? "io_uring" : "psync")"))
        }
    }

    @Test("Automatic takes io_uring where the kernel allows it, else falls back to threads and says why")
    func engineChoice() throws {
        let refused: (Int) throws(SystemCallError) -> Void = { entries throws(SystemCallError) in
            throw SystemCallError("io_uring_setup", subject: "\(entries) entries", code: EPERM)
        }
        let allowed: (Int) throws(SystemCallError) -> Void = { _ in }
        let fallback = try BlockIORun.chooseEngine(.automatic, queueDepth: 32, setUpRing: refused)
        #expect(fallback.0 == .threads)
        #expect(fallback.1 == "io_uring_setup 32 entries: Operation not permitted (EPERM)")
        #expect(try BlockIORun.chooseEngine(.automatic, queueDepth: 32, setUpRing: allowed) == (.ioUring, nil))
        #expect(try BlockIORun.chooseEngine(.threads, queueDepth: 32, setUpRing: refused) == (.threads, nil))
        #expect { try BlockIORun.chooseEngine(.ioUring, queueDepth: 32, setUpRing: refused) } throws: { error in
            (error as? BlockIOError)?.code == EPERM && "\(error)".hasPrefix("io_uring was asked for and is unavailable")
        }
    }

    @Test("A job on a path that does not exist fails with the path and ENOENT")
    func missingPath() {
        let path = BlockIOScratch.directory + "/dpucert-no-such-file-\(getpid())"
        let job = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 4096)
        #expect { try job.run() } throws: { error in
            guard let error = error as? BlockIOError, case .system(let call) = error else { return false }
            return call.code == ENOENT && call.subject == path && call.operation == "open with O_DIRECT"
                && error.description == "open with O_DIRECT \(path): No such file or directory (ENOENT)"
        }
    }

    @Test("Block sizes and offsets direct I/O cannot use are refused before any I/O")
    func misaligned() throws {
        try BlockIOScratch.withFile(size: 1 << 20) { path in
            let odd = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 1000)
            #expect { try odd.run() } throws: { error in
                guard case .invalidJob(path, let reason) = error as? BlockIOError else { return false }
                return reason == "block size 1000 is not a multiple of 512 bytes, the smallest sector direct I/O can use"
            }
            let offset = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 4096, offset: 100)
            #expect { try offset.run() } throws: { error in
                guard case .misaligned(path, "region offset", 100, let alignment) = error as? BlockIOError else { return false }
                return alignment >= 512 && "\(error)".contains("is not a multiple of \(alignment) bytes")
            }
            let beyond = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 4096, length: 2 << 20)
            #expect { try beyond.run() } throws: { error in
                guard case .invalidJob(path, let reason) = error as? BlockIOError else { return false }
                return reason == "the region [0, +2097152) passes the end of the file at 1048576 bytes"
            }
            let depth = BlockIOJob(path: path, direction: .read, pattern: .sequential, blockSize: 4096, queueDepth: 0)
            #expect(throws: BlockIOError.invalidJob(path: path, reason: "queue depth 0 is outside 1...1024")) { try depth.run() }
        }
    }

    @Test("The fio command line reruns the same job: engine, region, slices, bounds")
    func fioCommandLine() {
        let sequential = BlockIOJob(path: "/dev/vdb", direction: .read, pattern: .sequential, blockSize: 1 << 20, queueDepth: 8,
                                    jobs: 2, offset: 4096, length: 1 << 30, duration: .seconds(5), byteLimit: 8 << 30,
                                    warmUp: .milliseconds(1500))
        #expect(sequential.fioCommandLine == "fio --name=dpucert-read --filename=/dev/vdb --rw=read --bs=1048576 "
            + "--ioengine=io_uring --iodepth=8 --numjobs=2 --direct=1 --offset=4096 --size=536870912 "
            + "--offset_increment=536870912 --runtime=5s --ramp_time=1500ms --io_size=4294967296 --group_reporting")
        let random = BlockIOJob(path: "/var/tmp/scratch file", direction: .write, pattern: .random, blockSize: 4096,
                                queueDepth: 32, jobs: 1, length: 1 << 30, byteLimit: 1 << 30, engine: .threads, seed: 9)
        #expect(random.fioArguments() == ["fio", "--name=dpucert-randwrite", "--filename=/var/tmp/scratch file",
                                          "--rw=randwrite", "--bs=4096", "--ioengine=psync", "--iodepth=1", "--numjobs=32",
                                          "--direct=1", "--offset=0", "--size=1073741824", "--runtime=5s", "--ramp_time=1s",
                                          "--io_size=33554432", "--norandommap", "--randseed=9", "--group_reporting"])
        #expect(random.fioCommandLine.contains("'--filename=/var/tmp/scratch file'"))
        #expect(!sequential.fioArguments().contains("--time_based"))
    }

    @Test("A job survives encoding, durations and all")
    func jobCoding() throws {
        let job = BlockIOJob(path: "/dev/nvme0n1", direction: .write, pattern: .random, blockSize: 4096, queueDepth: 32,
                             jobs: 4, length: 1 << 30, duration: .milliseconds(2500), engine: .ioUring, direct: false, seed: 3)
        let decoded = try JSONDecoder().decode(BlockIOJob.self, from: JSONEncoder().encode(job))
        #expect(decoded == job)
    }
}
