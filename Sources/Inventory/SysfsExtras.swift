import Foundation

/// What the kernel adds in sysfs beyond config space. Every field is nil when the
/// file is absent (a dump has none of them; a real kernel shows only what applies).
public struct SysfsExtras: Sendable, Hashable, Codable {
    public var sriovTotalVFs: Int?
    public var sriovNumVFs: Int?
    public var sriovOffset: Int?
    public var sriovStride: Int?
    public var sriovVFDeviceID: String?
    /// `virtfnN` links in N order.
    public var virtualFunctions: [PCIAddress]?
    public var physicalFunction: PCIAddress?
    public var iommuGroup: Int?
    public var numaNode: Int?
    public var driver: String?
    public var currentLinkSpeedGTs: Double?
    public var currentLinkWidth: Int?
    public var maxLinkSpeedGTs: Double?
    public var maxLinkWidth: Int?
    /// `aer_dev_correctable` / `aer_dev_fatal` / `aer_dev_nonfatal` as name → count.
    public var aerCorrectable: [String: UInt64]?
    public var aerFatal: [String: UInt64]?
    public var aerNonfatal: [String: UInt64]?
    public var netdevs: [String] = []
    public var blockDevices: [String] = []

    public init() {}
}

/// Reads the sysfs extras of the functions under a sysfs root (`root/devices/ADDR`).
public struct SysfsExtrasReader: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func directory(of address: PCIAddress) -> String {
        root + "/devices/" + address.description
    }

    public func read(_ address: PCIAddress) -> SysfsExtras {
        let path = directory(of: address)
        var extras = SysfsExtras()
        guard let directory = SysfsDirectory(path: path) else { return extras }
        extras.sriovTotalVFs = directory.readInteger("sriov_totalvfs")
        extras.sriovNumVFs = directory.readInteger("sriov_numvfs")
        extras.sriovOffset = directory.readInteger("sriov_offset")
        extras.sriovStride = directory.readInteger("sriov_stride")
        extras.sriovVFDeviceID = directory.readLine("sriov_vf_device").flatMap { UInt16($0, radix: 16) }
            .map { hex($0, width: 4) }
        extras.virtualFunctions = virtualFunctionLinks(in: directory)
        extras.physicalFunction = directory.linkTarget("physfn").flatMap { PCIAddress($0) }
        extras.iommuGroup = directory.linkTarget("iommu_group").flatMap { Int($0) }
        extras.numaNode = directory.readInteger("numa_node").flatMap { $0 >= 0 ? $0 : nil }
        extras.driver = directory.linkTarget("driver")
        extras.currentLinkSpeedGTs = directory.readLine("current_link_speed").flatMap(Self.parseLinkSpeed)
        extras.currentLinkWidth = directory.readInteger("current_link_width")
        extras.maxLinkSpeedGTs = directory.readLine("max_link_speed").flatMap(Self.parseLinkSpeed)
        extras.maxLinkWidth = directory.readInteger("max_link_width")
        extras.aerCorrectable = directory.readFile("aer_dev_correctable").map(Self.parseCounters)
        extras.aerFatal = directory.readFile("aer_dev_fatal").map(Self.parseCounters)
        extras.aerNonfatal = directory.readFile("aer_dev_nonfatal").map(Self.parseCounters)
        (extras.netdevs, extras.blockDevices) = classDevices(under: directory, path: path)
        return extras
    }

    /// `16.0 GT/s PCIe` (kernels since 5.7) or `16 GT/s` (older); `Unknown` is nil.
    public static func parseLinkSpeed(_ text: String) -> Double? {
        // Byte-wise: this runs twice per function, and `Character` splitting plus
        // Foundation's search cost more than all the file reading around it.
        let bytes = Array(text.utf8)
        let unit = "GT/s".utf8
        guard bytes.indices.contains(where: { bytes[$0...].starts(with: unit) }),
              let number = bytes.split(separator: UInt8(ascii: " ")).first else { return nil }
        return Double(String(decoding: number, as: UTF8.self)).flatMap { $0.isFinite ? $0 : nil }
    }

    /// `<name> <count>` lines, as the AER sysfs files print them.
    public static func parseCounters(_ text: String) -> [String: UInt64] {
        var counters: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let count = UInt64(fields[1]) {
                counters[String(fields[0])] = count
            }
        }
        return counters
    }

    private func virtualFunctionLinks(in directory: borrowing SysfsDirectory) -> [PCIAddress]? {
        let links = directory.entries.compactMap { entry -> (index: Int, name: String, address: PCIAddress)? in
            guard entry.name.hasPrefix("virtfn"), let index = Int(entry.name.dropFirst(6)),
                  let target = directory.linkTarget(entry.name), let address = PCIAddress(target) else { return nil }
            return (index, entry.name, address)
        }
        return links.isEmpty ? nil : links.sorted { ($0.index, $0.name) < ($1.index, $1.name) }.map(\.address)
    }

    /// Network interfaces (`net/*`) and block devices (`block/*`, NVMe namespaces
    /// `nvme/nvmeX/nvmeXnY`) of the function, directly or below a child device
    /// (virtio, SCSI hosts). Child devices are real directories; links (driver,
    /// subsystem, physfn) are not followed, nor are child PCI functions (a bridge's
    /// directory holds the functions behind it, whose netdevs are theirs, not its).
    /// `path` names `directory` for the NVMe rule.
    private func classDevices(under directory: borrowing SysfsDirectory,
                              path: String) -> (netdevs: [String], blockDevices: [String]) {
        var netdevs: [String] = []
        var found: [String] = []
        // Depth-first, one open directory per level, so a deep walk holds few descriptors.
        func walk(_ directory: borrowing SysfsDirectory, path: String, depth: Int) {
            for entry in directory.entries where entry.isDirectory {
                let name = entry.name
                if name == "block" || name == "net" {
                    guard let child = SysfsDirectory(name, in: directory) else { continue }
                    let names = child.entries.map(\.name)
                    if name == "block" { found.append(contentsOf: names) } else { netdevs.append(contentsOf: names) }
                } else if name.hasPrefix("nvme"), path.hasSuffix("/nvme") || path.contains("/nvme/"),
                          name.range(of: #"^nvme\d+n\d+$"#, options: .regularExpression) != nil {
                    found.append(name)
                } else if depth < 5, !name.hasPrefix("virtfn"), name != "power", name != "msi_irqs",
                          PCIAddress(name) == nil, let child = SysfsDirectory(name, in: directory) {
                    walk(child, path: path + "/" + name, depth: depth + 1)
                }
            }
        }
        walk(directory, path: path, depth: 0)
        return (netdevs.sorted(), found.sorted())
    }
}

/// A sysfs directory held open and listed once: attribute files, links and child
/// directories are read relative to it, so each read resolves one name rather than the
/// whole path again (through the `devices/` link and every directory above the function),
/// and a name the listing lacks is known absent without asking the kernel.
struct SysfsDirectory: ~Copyable {
    struct Entry {
        var name: String
        /// A real directory; links to directories are not.
        var isDirectory: Bool
    }

    /// The entries except `.` and `..`, in the order the file system lists them.
    let entries: [Entry]
    private let stream: OpaquePointer

    /// Opens `path`, following links.
    init?(path: String) {
        guard let stream = opendir(path) else { return nil }
        self.init(stream: stream)
    }

    /// Opens the real directory `name` inside `parent`; a link is refused.
    init?(_ name: String, in parent: borrowing SysfsDirectory) {
        let descriptor = openat(dirfd(parent.stream), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard let stream = fdopendir(descriptor) else {
            close(descriptor)
            return nil
        }
        self.init(stream: stream)
    }

    private init(stream: OpaquePointer) {
        var entries: [Entry] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let type = Int(entry.pointee.d_type)
            let isDirectory = type == DT_UNKNOWN ? Self.isRealDirectory(name, in: dirfd(stream)) : type == DT_DIR
            entries.append(Entry(name: name, isDirectory: isDirectory))
        }
        self.entries = entries
        self.stream = stream
    }

    deinit {
        closedir(stream)
    }

    /// The whole file as text; nil when it is absent or cannot be opened.
    func readFile(_ name: String) -> String? {
        guard contains(name) else { return nil }
        let file = openat(dirfd(stream), name, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var bytes: [UInt8] = []
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            while true {
                let count = read(file, buffer.baseAddress, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                bytes.append(contentsOf: buffer[0..<count])
                // Regular files and sysfs attributes return everything left; a short
                // read is the end, which spares asking again for zero bytes.
                guard count == buffer.count else { break }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file without surrounding whitespace.
    func readLine(_ name: String) -> String? {
        readFile(name).map(trimmingWhitespace)
    }

    /// A decimal or `0x` hex integer file.
    func readInteger(_ name: String) -> Int? {
        readLine(name).flatMap { text in
            text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
        }
    }

    /// The last path component of a link's target.
    func linkTarget(_ name: String) -> String? {
        guard contains(name) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buffer -> String? in
            guard let base = buffer.baseAddress else { return nil }
            let count = readlinkat(dirfd(stream), name, base, buffer.count - 1)
            guard count > 0 else { return nil }
            let target = UnsafeRawBufferPointer(start: base, count: count)
            let slash = UInt8(ascii: "/")
            guard let end = target.lastIndex(where: { $0 != slash }) else { return nil }
            let start = target[...end].lastIndex(of: slash).map { $0 + 1 } ?? 0
            return String(decoding: target[start...end], as: UTF8.self)
        }
    }

    /// Whether the listing shows `name` (a handful of names per directory: a scan beats hashing them all).
    private func contains(_ name: String) -> Bool {
        let length = name.utf8.count
        return entries.contains { $0.name.utf8.count == length && $0.name == name }
    }

    private static func isRealDirectory(_ name: String, in descriptor: Int32) -> Bool {
        var status = stat()
        return fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }
}

/// `text` without leading and trailing whitespace or newlines. Attribute files are ASCII,
/// trimmed here directly; anything else takes Foundation's Unicode-aware path.
func trimmingWhitespace(_ text: String) -> String {
    let utf8 = text.utf8
    guard utf8.allSatisfy({ $0 < 0x80 }) else { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
    let isWhitespace = { (byte: UInt8) in byte == 0x20 || (0x09...0x0d).contains(byte) }
    guard let first = utf8.firstIndex(where: { !isWhitespace($0) }),
          let last = utf8.lastIndex(where: { !isWhitespace($0) }) else { return "" }
    return String(text[first...last])
}
