// Probes: what a block I/O run is asked to do (`BlockIOJob`), named so that the same job
// can be rerun with fio (`fioArguments`), and the errors a run refuses or fails with.
import Glibc
import Systems

/// Whether a job reads or writes.
public enum BlockIODirection: String, Sendable, Hashable, Codable, CaseIterable {
    case read
    case write
}

/// How a job walks its region: block after block, or uniformly random whole blocks
/// (with replacement, as fio's `--norandommap`).
public enum BlockIOPattern: String, Sendable, Hashable, Codable, CaseIterable {
    case sequential
    case random
}

/// The engine that ran a job.
public enum BlockIOEngine: String, Sendable, Hashable, Codable, CaseIterable {
    /// One io_uring per job keeping `queueDepth` operations in flight.
    case ioUring = "io_uring"
    /// `queueDepth` threads per job, each doing one pread/pwrite at a time.
    case threads

    /// fio's name for the same engine.
    public var fioName: String { self == .ioUring ? "io_uring" : "psync" }
}

/// Which engine a job asks for. `automatic` takes io_uring and falls back to threads
/// when the kernel refuses io_uring (no support, disabled by sysctl, blocked by seccomp),
/// saying why in the result; naming an engine gets that engine or an error.
public enum BlockIOEnginePreference: String, Sendable, Hashable, Codable, CaseIterable {
    case automatic
    case ioUring = "io_uring"
    case threads
}

/// One block I/O run: what to read or write, how, and the bounds it never passes.
///
/// The region is `offset` and `length` bytes of `path` (a file or block device; never
/// created). Sequential jobs each walk their own slice of it (job `j` the `j`-th of
/// `jobs` equal slices, wrapping at the slice's end); random jobs each pick whole blocks
/// anywhere in it. The run does `warmUp` first (not in the figures), then measures for
/// `duration`; `byteLimit` caps the bytes it moves in all, warm-up included, split evenly
/// between the jobs. It stops at whichever bound comes first.
public struct BlockIOJob: Sendable, Hashable, Codable {
    public var path: String
    public var direction: BlockIODirection
    public var pattern: BlockIOPattern
    /// Bytes per operation; with `direct`, a multiple of the alignment the file or device needs.
    public var blockSize: Int
    /// Operations in flight per job.
    public var queueDepth: Int
    /// Independent jobs (rings, or groups of threads), as fio's `numjobs`.
    public var jobs: Int
    /// The region: its first byte, and its length (nil: to the end of the file or device).
    public var offset: Int
    public var length: Int?
    /// How long the measured part runs, after `warmUp`.
    public var duration: Duration
    /// The most bytes the run moves, warm-up included.
    public var byteLimit: Int
    public var warmUp: Duration
    public var engine: BlockIOEnginePreference
    /// O_DIRECT: around the page cache, so the device is measured and not memory.
    public var direct: Bool
    /// Seeds the random offsets and the data written, so a run can be repeated.
    public var seed: UInt64

    /// The byte limit a job gets unless told otherwise: enough not to end a run of a few
    /// seconds on any current device before its duration, and a ceiling on what a
    /// mistaken write job can overwrite.
    public static let defaultByteLimit = 64 << 30

    public init(path: String, direction: BlockIODirection, pattern: BlockIOPattern, blockSize: Int, queueDepth: Int = 1,
                jobs: Int = 1, offset: Int = 0, length: Int? = nil, duration: Duration = .seconds(5),
                byteLimit: Int = BlockIOJob.defaultByteLimit, warmUp: Duration = .seconds(1),
                engine: BlockIOEnginePreference = .automatic, direct: Bool = true, seed: UInt64 = 1) {
        self.path = path
        self.direction = direction
        self.pattern = pattern
        self.blockSize = blockSize
        self.queueDepth = queueDepth
        self.jobs = jobs
        self.offset = offset
        self.length = length
        self.duration = duration
        self.byteLimit = byteLimit
        self.warmUp = warmUp
        self.engine = engine
        self.direct = direct
        self.seed = seed
    }

    /// Largest queue depth and job count accepted: io_uring rings are sized by the depth,
    /// and the thread engine starts depth × jobs threads.
    public static let maximumQueueDepth = 1024
    public static let maximumJobs = 64
    /// The most threads the thread engine starts (queue depth × jobs).
    public static let maximumThreads = 1024

    /// "seq read", "rand write": the job's shape in evidence lines.
    public var shape: String { "\(pattern == .sequential ? "seq" : "rand") \(direction.rawValue)" }

    /// fio's `--rw` for this job.
    public var fioReadWrite: String {
        switch (pattern, direction) {
        case (.sequential, .read): "read"
        case (.sequential, .write): "write"
        case (.random, .read): "randread"
        case (.random, .write): "randwrite"
        }
    }

    /// The fio invocation that does what this job does with `engine` (by default the
    /// preferred one, io_uring when automatic), as arguments.
    ///
    /// fio counts `--io_size` per job and stops at it or at `--runtime`, whichever comes
    /// first, as this job does with `byteLimit` and `duration`; `--time_based` would make
    /// fio ignore `--io_size`, so it is left out. Sequential slices become `--size` and
    /// `--offset_increment`. The thread engine runs depth × jobs synchronous fio jobs:
    /// for random jobs the same load; for sequential ones fio gives each thread its own
    /// slice where ours share their job's. `--length` nil leaves `--size` to fio (the
    /// file's size). fio's random generator differs from ours: the same distribution,
    /// not the same offsets.
    public func fioArguments(engine: BlockIOEngine? = nil) -> [String] {
        let engine = engine ?? (self.engine == .threads ? .threads : .ioUring)
        let fioJobs = engine == .ioUring ? jobs : jobs * queueDepth
        var arguments = ["fio", "--name=dpucert-\(fioReadWrite)", "--filename=\(path)", "--rw=\(fioReadWrite)",
                         "--bs=\(blockSize)", "--ioengine=\(engine.fioName)",
                         "--iodepth=\(engine == .ioUring ? queueDepth : 1)", "--numjobs=\(fioJobs)",
                         "--direct=\(direct ? 1 : 0)", "--offset=\(offset)"]
        if let length {
            if pattern == .sequential && fioJobs > 1 {
                let slice = length / blockSize / fioJobs * blockSize
                arguments += ["--size=\(slice)", "--offset_increment=\(slice)"]
            } else {
                arguments.append("--size=\(length)")
            }
        }
        arguments += ["--runtime=\(Self.fioSeconds(duration))", "--ramp_time=\(Self.fioSeconds(warmUp))",
                      "--io_size=\(max(blockSize, byteLimit / fioJobs / blockSize * blockSize))"]
        if pattern == .random { arguments += ["--norandommap", "--randseed=\(seed)"] }
        arguments.append("--group_reporting")
        return arguments
    }

    /// `fioArguments()` as one shell line, arguments quoted where the shell needs it.
    public var fioCommandLine: String { Self.shellLine(fioArguments()) }

    /// A duration as fio reads it: whole seconds plainly, otherwise milliseconds.
    static func fioSeconds(_ duration: Duration) -> String {
        let milliseconds = duration.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    static func shellLine(_ arguments: [String]) -> String {
        arguments.map { argument in
            let plain = argument.unicodeScalars.allSatisfy {
                ($0.properties.isAlphabetic && $0.isASCII) || "0123456789-_=./:,+@%".unicodeScalars.contains($0)
            }
            return plain && !argument.isEmpty ? argument : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
        }.joined(separator: " ")
    }

    /// What is wrong with the job before anything is opened, or nil. Alignment to the
    /// file's or device's needs is checked once it is open.
    func problem() -> String? {
        if path.isEmpty { return "no path" }
        if blockSize <= 0 { return "block size \(blockSize) is not positive" }
        if direct && blockSize % 512 != 0 {
            return "block size \(blockSize) is not a multiple of 512 bytes, the smallest sector direct I/O can use"
        }
        if !(1...Self.maximumQueueDepth).contains(queueDepth) {
            return "queue depth \(queueDepth) is outside 1...\(Self.maximumQueueDepth)"
        }
        if !(1...Self.maximumJobs).contains(jobs) { return "\(jobs) jobs is outside 1...\(Self.maximumJobs)" }
        if offset < 0 { return "region offset \(offset) is negative" }
        if let length, length < blockSize { return "region length \(length) is shorter than one \(blockSize)-byte block" }
        if duration <= .zero { return "duration \(duration.evidenceText) is not positive" }
        if warmUp < .zero { return "warm-up \(warmUp.evidenceText) is negative" }
        if byteLimit < blockSize * jobs {
            return "byte limit \(byteLimit) is less than one \(blockSize)-byte block for each of \(jobs) jobs"
        }
        return nil
    }
}

/// Why block I/O did not run, or could not finish. I/O errors of single operations
/// during a run are not thrown: the result counts them.
public enum BlockIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The job or region cannot run as given.
    case invalidJob(path: String, reason: String)
    /// A size or offset direct I/O cannot use on this file or device.
    case misaligned(path: String, what: String, value: Int, alignment: Int)
    /// A system call failed on the path (open, fstat, fsync...): which, and its errno.
    case system(SystemCallError)
    /// io_uring was asked for by name and the kernel refused to set a ring up.
    case ioUringUnavailable(SystemCallError)
    /// Workers were still waiting on operations `waited` after the run's end: the file
    /// or device stopped completing them. Those workers are left to finish on their own.
    case unfinished(path: String, workers: Int, waited: Duration)

    /// The errno behind the error, where there is one.
    public var code: Int32? {
        switch self {
        case .system(let error), .ioUringUnavailable(let error): error.code
        case .invalidJob, .misaligned, .unfinished: nil
        }
    }

    public var description: String {
        switch self {
        case .invalidJob(let path, let reason): "block I/O on \(path): \(reason)"
        case .misaligned(let path, let what, let value, let alignment):
            "block I/O on \(path): \(what) \(value) is not a multiple of \(alignment) bytes, the alignment direct I/O needs there"
        case .system(let error): "\(error)"
        case .ioUringUnavailable(let error): "io_uring was asked for and is unavailable: \(error)"
        case .unfinished(let path, let workers, let waited):
            "block I/O on \(path): \(workers) workers still waiting on operations \(waited.evidenceText) after the run's end"
        }
    }
}
