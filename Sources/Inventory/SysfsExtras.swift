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
        let directory = directory(of: address)
        var extras = SysfsExtras()
        extras.sriovTotalVFs = readInteger(directory + "/sriov_totalvfs")
        extras.sriovNumVFs = readInteger(directory + "/sriov_numvfs")
        extras.sriovOffset = readInteger(directory + "/sriov_offset")
        extras.sriovStride = readInteger(directory + "/sriov_stride")
        extras.sriovVFDeviceID = readLine(directory + "/sriov_vf_device").flatMap { UInt16($0, radix: 16) }
            .map { hex($0, width: 4) }
        extras.virtualFunctions = virtualFunctionLinks(in: directory)
        extras.physicalFunction = linkTarget(directory + "/physfn").flatMap { PCIAddress($0) }
        extras.iommuGroup = linkTarget(directory + "/iommu_group").flatMap { Int($0) }
        extras.numaNode = readInteger(directory + "/numa_node").flatMap { $0 >= 0 ? $0 : nil }
        extras.driver = linkTarget(directory + "/driver")
        extras.currentLinkSpeedGTs = readLine(directory + "/current_link_speed").flatMap(Self.parseLinkSpeed)
        extras.currentLinkWidth = readInteger(directory + "/current_link_width")
        extras.maxLinkSpeedGTs = readLine(directory + "/max_link_speed").flatMap(Self.parseLinkSpeed)
        extras.maxLinkWidth = readInteger(directory + "/max_link_width")
        extras.aerCorrectable = readFile(directory + "/aer_dev_correctable").map(Self.parseCounters)
        extras.aerFatal = readFile(directory + "/aer_dev_fatal").map(Self.parseCounters)
        extras.aerNonfatal = readFile(directory + "/aer_dev_nonfatal").map(Self.parseCounters)
        (extras.netdevs, extras.blockDevices) = classDevices(under: directory)
        return extras
    }

    /// `16.0 GT/s PCIe` (kernels since 5.7) or `16 GT/s` (older); `Unknown` is nil.
    public static func parseLinkSpeed(_ text: String) -> Double? {
        guard let number = text.split(separator: " ").first, text.contains("GT/s") else { return nil }
        return Double(number)
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

    private func virtualFunctionLinks(in directory: String) -> [PCIAddress]? {
        let links = listDirectory(directory).compactMap { name -> (Int, PCIAddress)? in
            guard name.hasPrefix("virtfn"), let index = Int(name.dropFirst(6)),
                  let target = linkTarget(directory + "/" + name), let address = PCIAddress(target) else { return nil }
            return (index, address)
        }
        return links.isEmpty ? nil : links.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Network interfaces (`net/*`) and block devices (`block/*`, NVMe namespaces
    /// `nvme/nvmeX/nvmeXnY`) of the function, directly or below a child device
    /// (virtio, SCSI hosts). Child devices are real directories; links (driver,
    /// subsystem, physfn) are not followed.
    private func classDevices(under directory: String) -> (netdevs: [String], blockDevices: [String]) {
        var netdevs: [String] = []
        var found: [String] = []
        var pending: [(String, Int)] = [(directory, 0)]
        while let (path, depth) = pending.popLast() {
            for name in listDirectory(path) {
                let child = path + "/" + name
                guard isRealDirectory(child) else { continue }
                if name == "block" {
                    found.append(contentsOf: listDirectory(child))
                } else if name == "net" {
                    netdevs.append(contentsOf: listDirectory(child))
                } else if path.hasSuffix("/nvme") || path.contains("/nvme/"),
                          name.range(of: #"^nvme\d+n\d+$"#, options: .regularExpression) != nil {
                    found.append(name)
                } else if depth < 5, !name.hasPrefix("virtfn"), name != "power", name != "msi_irqs" {
                    pending.append((child, depth + 1))
                }
            }
        }
        return (netdevs.sorted(), found.sorted())
    }
}

// Small-file helpers: sysfs attributes are short text files and symlinks.

func readFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func readLine(_ path: String) -> String? {
    readFile(path).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
}

func readInteger(_ path: String) -> Int? {
    readLine(path).flatMap { text in
        text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
    }
}

/// The last path component of a symlink's target.
func linkTarget(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return target.split(separator: "/").last.map(String.init)
}

func listDirectory(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

func isRealDirectory(_ path: String) -> Bool {
    var status = stat()
    return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
}
