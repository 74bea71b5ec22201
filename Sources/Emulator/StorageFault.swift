// The storage fault table: what the emulated namespace's backing does wrong and the
// certification tests that must turn red. The FUSE server behind the namespace
// (`EmulatedNamespace`) injects them on the requests the storage suite's I/O becomes, so
// the suite sees them exactly as it would see a faulty device.

public enum StorageFault: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case corruption = "storage-corruption"
    case misdirectedWrite = "storage-misdirected-write"
    case slow = "storage-slow"
    case lostFlush = "storage-lost-flush"
    /// The controller shows no namespace: nothing for the block layer, nothing to serve.
    case namespaceMissing = "storage-namespace-missing"

    /// The block size faults are decided on.
    public static let blockSize = 4096

    /// Whether block `index` (offset / `blockSize`) is one that `corruption` and
    /// `misdirectedWrite` hit: every 61st block from block 7 (7, 68, 129, ...), so a
    /// region of 8 blocks from offset 0 already holds one.
    public static func hits(block index: UInt64) -> Bool { index % 61 == 7 }

    /// The byte of a hit block whose bit 0 `corruption` flips.
    public static let corruptedByte = 100

    public var name: String { rawValue }
    public var description: String { rawValue }

    /// What the fault breaks, in one line.
    public var summary: String {
        switch self {
        case .corruption:
            "the emulated backing flips bit 0 of byte 100 in every 61st block (from block 7) as it is written"
        case .misdirectedWrite:
            "writes to every 61st block (from block 7) land in the block before it; the block itself keeps its old data"
        case .slow:
            "the namespace serves one request at a time, each taking at least 4 ms, at most 8 MiB/s"
        case .lostFlush:
            "flush and fsync report success but nothing reaches the media: data written is gone once the namespace is closed"
        case .namespaceMissing:
            "the storage function's NVMe controller shows no namespace, so the host has no block device"
        }
    }

    /// The checks this fault must turn red.
    public var breaks: [String] {
        switch self {
        case .corruption, .misdirectedWrite: ["storage.integrity"]
        case .slow: ["storage.seq-read", "storage.seq-write", "storage.rand-read", "storage.rand-write"]
        case .lostFlush: ["storage.flush"]
        case .namespaceMissing: ["storage.discovery"]
        }
    }

    public init(name: String) throws(EmulatedNamespaceError) {
        guard let fault = StorageFault(rawValue: name) else {
            throw .unknownFault(name, known: Self.allCases.map(\.name))
        }
        self = fault
    }
}
