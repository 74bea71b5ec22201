import Foundation

/// What already lives on a block device, so nothing writes over it: mounted file systems
/// (on the device or its partitions), swap, holders (device-mapper, md), or an on-disk
/// signature of a file system, partition table, swap or LUKS header that nothing has
/// mounted. Read from /proc/self/mountinfo, /proc/swaps, the device's `holders` and its
/// first sectors.
public struct BlockDeviceUsage: Sendable, Hashable {
    /// A mount of the device or of one of its partitions: where, and the file system type.
    public struct Mount: Sendable, Hashable {
        public var mountPoint: String
        public var fileSystem: String
        public var source: String
    }

    public var mounts: [Mount]
    public var swap: Bool
    public var holders: [String]
    /// The first signature found in the device's first sectors (`ext4`, `xfs`, `gpt`, ...).
    public var signature: String?

    /// Whether the device holds data dpucert must not overwrite.
    public var holdsData: Bool { !mounts.isEmpty || swap || !holders.isEmpty || signature != nil }

    public var description: String {
        var parts = mounts.map { "\($0.fileSystem) from \($0.source) mounted at \($0.mountPoint)" }
        if swap { parts.append("swap in use") }
        if !holders.isEmpty { parts.append("held by \(holders.joined(separator: ", "))") }
        if let signature, mounts.isEmpty { parts.append("a \(signature) signature") }
        return parts.isEmpty ? "nothing on it" : parts.joined(separator: "; ")
    }

    /// The usage of `device`, whose block-layer directory is in `reader.classDirectory`.
    public static func of(_ device: BlockDevice, reader: BlockDeviceReader) -> BlockDeviceUsage {
        let directory = reader.classDirectory + "/" + device.name
        let partitions = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix(device.name) && FileManager.default.fileExists(atPath: "\(directory)/\($0)/partition") }
        let numbers = ([directory] + partitions.map { "\(directory)/\($0)" }).compactMap { text($0 + "/dev") }
        let names = [device.name] + partitions
        let mounts = mountTable().filter { numbers.contains($0.numbers) }.map(\.mount)
        let swaps = (text("/proc/swaps") ?? "").split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        let swap = swaps.contains { swapped in names.contains { swapped == "/dev/" + $0 } || swapped == device.node }
        let holders = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/holders"))?.sorted() ?? []
        return BlockDeviceUsage(mounts: mounts, swap: swap, holders: holders, signature: signature(of: device.node))
    }

    /// /proc/self/mountinfo: `ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE ...`.
    static func mountTable() -> [(numbers: String, mount: Mount)] {
        (text("/proc/self/mountinfo") ?? "").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count > 5, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
            return (fields[2], Mount(mountPoint: unescape(fields[4]), fileSystem: fields[dash + 1], source: fields[dash + 2]))
        }
    }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
    }

    /// Signatures by byte offset, as blkid knows them (the ones a DPU's host is likely to carry).
    static let signatures: [(name: String, offset: Int, bytes: [UInt8])] = [
        ("ext4", 1080, [0x53, 0xef]), ("xfs", 0, Array("XFSB".utf8)), ("btrfs", 65600, Array("_BHRfS_M".utf8)),
        ("LUKS", 0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]), ("LVM2", 536, Array("LVM2 001".utf8)),
        ("gpt", 512, Array("EFI PART".utf8)), ("swap", 4086, Array("SWAPSPACE2".utf8)), ("swap", 4086, Array("SWAP-SPACE".utf8)),
        ("vfat", 82, Array("FAT32".utf8)), ("vfat", 54, Array("FAT".utf8)), ("dos", 510, [0x55, 0xaa]),
    ]

    static func signature(of node: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: node) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 65608), !head.isEmpty else { return nil }
        let bytes = [UInt8](head)
        return signatures.first { entry in
            entry.offset + entry.bytes.count <= bytes.count
                && Array(bytes[entry.offset..<(entry.offset + entry.bytes.count)]) == entry.bytes
        }?.name
    }

    private static func text(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
