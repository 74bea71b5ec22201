import Foundation

/// A block device a PCI function provides, as the kernel's block layer describes it in
/// `class/block/NAME`: what the storage suite discovers and then reads and writes at
/// `node` (`/dev/NAME`).
public struct BlockDevice: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    /// The device node the suite opens.
    public var node: String
    public var sizeBytes: UInt64
    public var logicalBlockSize: Int
    public var physicalBlockSize: Int
    /// `queue/nr_requests`: requests the block layer queues per hardware queue.
    public var requestQueueSize: Int?
    public var rotational: Bool
    /// `queue/write_cache`: "write back" or "write through".
    public var writeCache: String?
    public var readOnly: Bool
    public var model: String?
    public var serial: String?
    public var firmware: String?

    public init(name: String, node: String, sizeBytes: UInt64, logicalBlockSize: Int, physicalBlockSize: Int,
                requestQueueSize: Int?, rotational: Bool, writeCache: String?, readOnly: Bool, model: String?,
                serial: String?, firmware: String?) {
        self.name = name
        self.node = node
        self.sizeBytes = sizeBytes
        self.logicalBlockSize = logicalBlockSize
        self.physicalBlockSize = physicalBlockSize
        self.requestQueueSize = requestQueueSize
        self.rotational = rotational
        self.writeCache = writeCache
        self.readOnly = readOnly
        self.model = model
        self.serial = serial
        self.firmware = firmware
    }

    public var sizeMiB: Double { Double(sizeBytes) / 1_048_576 }

    public var description: String {
        var text = "\(name) (\(node)): \(sizeBytes) bytes, logical/physical block \(logicalBlockSize)/\(physicalBlockSize)"
        if let requestQueueSize { text += ", nr_requests \(requestQueueSize)" }
        text += rotational ? ", rotational" : ", non-rotational"
        if let writeCache { text += ", write cache \(writeCache)" }
        if readOnly { text += ", read-only" }
        let identity = [model.map { "model \($0)" }, serial.map { "serial \($0)" }, firmware.map { "firmware \($0)" }]
            .compactMap { $0 }
        return identity.isEmpty ? text : text + ", " + identity.joined(separator: ", ")
    }
}

/// Where a PCI source's block devices are described and where their nodes are: the
/// running kernel's `/sys/class/block` and `/dev`, or `class/block` and `dev` inside a
/// sysfs-shaped tree (the emulator writes both there). A bus dump has none.
public struct BlockDeviceReader: Sendable {
    public let classDirectory: String
    public let nodeDirectory: String

    public init(classDirectory: String, nodeDirectory: String) {
        self.classDirectory = classDirectory
        self.nodeDirectory = nodeDirectory
    }

    public init?(source: PCISource) {
        switch source {
        case .live: self.init(classDirectory: "/sys/class/block", nodeDirectory: "/dev")
        case .sysfs(let root): self.init(classDirectory: root + "/class/block", nodeDirectory: root + "/dev")
        case .dump: return nil
        }
    }

    /// The block device `name`, or nil when the block layer does not describe it.
    public func read(_ name: String) -> BlockDevice? {
        let directory = classDirectory + "/" + name
        guard let sectors = number(directory + "/size") else { return nil }
        // `size` counts 512-byte sectors whatever the logical block size.
        return BlockDevice(
            name: name, node: nodeDirectory + "/" + name, sizeBytes: UInt64(sectors) * 512,
            logicalBlockSize: number(directory + "/queue/logical_block_size") ?? 512,
            physicalBlockSize: number(directory + "/queue/physical_block_size") ?? 512,
            requestQueueSize: number(directory + "/queue/nr_requests"),
            rotational: number(directory + "/queue/rotational") == 1,
            writeCache: text(directory + "/queue/write_cache"),
            readOnly: number(directory + "/ro") == 1,
            // NVMe namespaces name their controller's identity under device/; virtio-blk has a serial of its own.
            model: text(directory + "/device/model"),
            serial: text(directory + "/device/serial") ?? text(directory + "/serial"),
            firmware: text(directory + "/device/firmware_rev"))
    }

    private func text(_ path: String) -> String? {
        guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let trimmed = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    private func number(_ path: String) -> Int? {
        text(path).flatMap { Int($0) }
    }
}
