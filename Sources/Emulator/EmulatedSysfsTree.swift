// The sysfs-shaped tree libpci's linux-sysfs backend reads (`lspci -A linux-sysfs
// -O sysfs.path=ROOT`). ROOT is the counterpart of /sys/bus/pci:
//
//   ROOT/devices/DDDD:BB:DD.F            -> ../topology/pciDDDD:BB/<root port>/<function>
//   ROOT/topology/pciDDDD:BB/...         the functions' real directories, nested as in
//                                        /sys/devices, so realpath(<dev>/..) is the parent
//   ROOT/drivers/<name>/<function>       -> the bound functions
//   ROOT/kernel/iommu_groups/N/devices/<function>
//
// Every link is relative, so the tree can be moved or copied.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tree written from `cards`; the value also carries the SR-IOV state the tree is in.
public struct EmulatedSysfsTree: Sendable {
    public let root: String
    /// The cards as written (faults already applied), with each PF's `enabledVFs` as the
    /// tree currently has it.
    public private(set) var cards: [EmulatedCard]

    /// An existing tree written from `cards` (for example by an earlier process).
    public init(root: String, cards: [EmulatedCard]) {
        self.root = root
        self.cards = cards
    }

    /// Writes the tree for `cards` under `root`, which must not hold a tree yet.
    public static func write(_ cards: [EmulatedCard], to root: String) throws(EmulatorError) -> EmulatedSysfsTree {
        let layouts = try validateTogether(cards)
        if FileSystem.exists(root + "/devices") {
            throw .destinationNotEmpty(path: root)
        }
        try FileSystem.makeDirectories(root)
        var writer = TreeWriter(root: root)
        for directory in [["devices"], ["topology"], ["drivers"], ["kernel"], ["kernel", "iommu_groups"]] {
            try writer.ensureDirectory(directory)
        }
        var writtenHostBridges: Set<EmulatedPCIAddress> = []
        for layout in layouts {
            if writtenHostBridges.insert(layout.card.rootPort.hostBridgeAddress).inserted {
                try writer.write(layout.hostBridgeEntry())
            }
            try writer.write(layout.rootPortEntry())
            for (index, function) in layout.card.functions.enumerated() {
                try writer.write(layout.physicalFunctionEntry(index))
                for vf in function.enabledVirtualFunctions {
                    try writer.write(layout.virtualFunctionEntry(vf, physicalFunction: index))
                }
            }
        }
        return EmulatedSysfsTree(root: root, cards: cards)
    }

    /// `ROOT/devices/DDDD:BB:DD.F`.
    public func devicePath(_ address: EmulatedPCIAddress) -> String {
        "\(root)/devices/\(address)"
    }

    /// Checks each card and that no two cards claim the same address or bus range.
    private static func validateTogether(_ cards: [EmulatedCard]) throws(EmulatorError) -> [CardLayout] {
        var layouts: [CardLayout] = []
        var owners: [EmulatedPCIAddress: (card: String, field: String)] = [:]
        var hostBridges: [EmulatedPCIAddress: EmulatedHostBridge] = [:]
        for card in cards {
            let layout = try CardLayout(card)
            for (address, field) in layout.claimedAddresses.sorted(by: { $0.key < $1.key })
            where address != card.rootPort.hostBridgeAddress {
                if let owner = owners[address] {
                    throw .invalidDescription(
                        card: card.id, field: field, expected: "an address no other card uses",
                        found: "\(address) (also card \(owner.card) \(owner.field))")
                }
                owners[address] = (card.id, field)
            }
            let bridgeAddress = card.rootPort.hostBridgeAddress
            if let bridge = hostBridges[bridgeAddress], bridge != card.rootPort.hostBridge {
                throw .invalidDescription(
                    card: card.id, field: "rootPort.hostBridge",
                    expected: "the same host bridge as the other cards at \(bridgeAddress)",
                    found: "a different vendor/device/revision")
            }
            hostBridges[bridgeAddress] = card.rootPort.hostBridge
            for other in layouts where other.card.rootPort.address.domain == card.rootPort.address.domain {
                let overlaps =
                    layout.secondaryBus <= other.subordinateBus && other.secondaryBus <= layout.subordinateBus
                let portInside =
                    (layout.secondaryBus...layout.subordinateBus).contains(other.card.rootPort.address.bus)
                    || (other.secondaryBus...other.subordinateBus).contains(card.rootPort.address.bus)
                if overlaps || portInside {
                    throw .invalidDescription(
                        card: card.id, field: "functions",
                        expected: "buses no other card's root port covers or sits on",
                        found: "buses \(hex(layout.secondaryBus, digits: 2))-\(hex(layout.subordinateBus, digits: 2)) "
                            + "(card \(other.card.id): root port on bus \(hex(other.card.rootPort.address.bus, digits: 2)), "
                            + "buses \(hex(other.secondaryBus, digits: 2))-\(hex(other.subordinateBus, digits: 2)))")
                }
            }
            layouts.append(layout)
        }
        return layouts
    }
}

/// Why the kernel refuses a write to `sriov_numvfs`, with the errno the write returns.
public struct SRIOVNumVFsRejection: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Not a number the kernel parses as u16 (EINVAL).
        case invalidValue
        /// More than `sriov_totalvfs` (ERANGE).
        case exceedsTotalVFs(totalVFs: Int)
        /// No driver bound to the PF, so no `sriov_configure` (ENOENT).
        case noDriverBound
        /// VFs are enabled; the kernel wants 0 written first (EBUSY).
        case alreadyEnabled(enabledVFs: Int)
        /// The function has no `sriov_numvfs` (not an SR-IOV PF of this tree) (ENOENT).
        case notSRIOVPhysicalFunction
    }

    public var physicalFunction: EmulatedPCIAddress
    public var requested: Int
    public var reason: Reason

    public var errno: Int32 {
        switch reason {
        case .invalidValue: EINVAL
        case .exceedsTotalVFs: ERANGE
        case .noDriverBound, .notSRIOVPhysicalFunction: ENOENT
        case .alreadyEnabled: EBUSY
        }
    }

    public var description: String {
        let detail =
            switch reason {
            case .invalidValue: "not a VF count"
            case let .exceedsTotalVFs(total): "more than sriov_totalvfs (\(total))"
            case .noDriverBound: "no driver bound to the PF"
            case let .alreadyEnabled(enabled): "\(enabled) VFs already enabled; write 0 first"
            case .notSRIOVPhysicalFunction: "not an SR-IOV physical function of this tree"
            }
        return "write \(requested) to \(physicalFunction)/sriov_numvfs: errno \(errno): \(detail)"
    }
}

extension EmulatedSysfsTree {
    /// Emulates `echo N > sriov_numvfs` on a PF as the kernel handles it (`sriov_numvfs_store`):
    /// N > sriov_totalvfs → ERANGE; N equal to the current count → nothing; no driver → ENOENT;
    /// 0 → VFs disabled and removed; N > 0 while VFs are enabled → EBUSY; otherwise NumVFs,
    /// VF Enable and VF MSE are set in the PF's configuration space and the VFs appear with
    /// their `virtfnN`/`physfn` links.
    public mutating func writeSRIOVNumVFs(_ requested: Int, physicalFunction address: EmulatedPCIAddress)
        throws(EmulatorError)
    {
        func reject(_ reason: SRIOVNumVFsRejection.Reason) -> EmulatorError {
            .sriovNumVFsRejected(SRIOVNumVFsRejection(physicalFunction: address, requested: requested, reason: reason))
        }
        guard let cardIndex = cards.firstIndex(where: { $0.functions.contains { $0.address == address } }),
            let pfIndex = cards[cardIndex].functions.firstIndex(where: { $0.address == address }),
            var sriov = cards[cardIndex].functions[pfIndex].sriov
        else { throw reject(.notSRIOVPhysicalFunction) }
        guard requested >= 0 else { throw reject(.invalidValue) }
        guard requested <= sriov.reportedTotalVFs else {
            throw reject(.exceedsTotalVFs(totalVFs: sriov.reportedTotalVFs))
        }
        let numVFsPath = devicePath(address) + "/sriov_numvfs"
        let numVFsText = try FileSystem.readText(numVFsPath)
        guard let current = Int(numVFsText.trimmingSuffix("\n")), current >= 0 else {
            throw .corruptTree(path: numVFsPath, expected: "a VF count", found: "\"\(numVFsText)\"")
        }
        if requested == current { return }
        let pf = cards[cardIndex].functions[pfIndex]
        guard pf.driver != nil else { throw reject(.noDriverBound) }
        if requested > 0 && current > 0 { throw reject(.alreadyEnabled(enabledVFs: current)) }

        let layout = try CardLayout(cards[cardIndex])
        var writer = TreeWriter(root: root)
        let pfEntry = layout.physicalFunctionEntry(pfIndex, enabledVFs: requested)
        if requested == 0 {
            for vf in pf.virtualFunctions(enabled: current) {
                try FileSystem.removeFile(devicePath(address) + "/virtfn\(vf.index)")
                try writer.remove(layout.virtualFunctionEntry(vf, physicalFunction: pfIndex))
            }
            try writer.rewriteFile(pfEntry, "config")
        } else {
            try writer.rewriteFile(pfEntry, "config")
            for vf in pf.virtualFunctions(enabled: requested) {
                try writer.write(layout.virtualFunctionEntry(vf, physicalFunction: pfIndex))
                try writer.addLink(pfEntry, named: "virtfn\(vf.index)")
            }
        }
        try writer.rewriteFile(pfEntry, "sriov_numvfs")
        sriov.enabledVFs = requested
        cards[cardIndex].functions[pfIndex].sriov = sriov
    }
}

/// Writes and removes entries; remembers directories it made so each is created once.
private struct TreeWriter {
    let root: String
    private var existingDirectories: Set<[String]> = []

    init(root: String) {
        self.root = root
    }

    private func absolute(_ components: [String]) -> String {
        ([root] + components).joined(separator: "/")
    }

    /// The link text that reaches `target` from inside `directory` (both below the root).
    private func relativeLink(from directory: [String], to target: [String]) -> String {
        var common = 0
        while common < directory.count, common < target.count, directory[common] == target[common] {
            common += 1
        }
        let ups = Array(repeating: "..", count: directory.count - common)
        return (ups + target[common...]).joined(separator: "/")
    }

    mutating func ensureDirectory(_ components: [String]) throws(EmulatorError) {
        if existingDirectories.contains(components) { return }
        if components.count > 1 {
            try ensureDirectory(Array(components.dropLast()))
        }
        let path = absolute(components)
        if !FileSystem.exists(path) {
            try FileSystem.makeDirectory(path)
        }
        existingDirectories.insert(components)
    }

    /// The namespace below its controller in the function's directory, its block-layer
    /// attributes in `class/block/NAME` (as drivers/nvme/host and block/ print them) and its
    /// node in `dev/`.
    private mutating func writeBlockDevice(_ device: EmulatedBlockDevice, function: [String]) throws(EmulatorError) {
        let controller = function + ["nvme", device.controller]
        try ensureDirectory(controller + [device.name])
        for (name, value) in [("model", device.model), ("serial", device.serial), ("firmware_rev", device.firmware)] {
            try FileSystem.writeFile(absolute(controller + [name]), Array((value + "\n").utf8))
        }
        let block = ["class", "block", device.name]
        try ensureDirectory(block + ["queue"])
        let attributes = [
            (["size"], "\(device.sizeBytes / 512)"), (["ro"], "0"),
            (["queue", "logical_block_size"], "\(device.logicalBlockSize)"),
            (["queue", "physical_block_size"], "\(device.logicalBlockSize)"),
            (["queue", "nr_requests"], "1023"), (["queue", "rotational"], "0"), (["queue", "write_cache"], "write back"),
        ]
        for (name, value) in attributes {
            try FileSystem.writeFile(absolute(block + name), Array((value + "\n").utf8))
        }
        try FileSystem.symlink(target: relativeLink(from: block, to: controller), at: absolute(block + ["device"]))
        if let node = device.node {
            try ensureDirectory(["dev"])
            try FileSystem.symlink(target: node, at: absolute(["dev", device.name]))
        }
    }

    private static func groupDirectory(_ group: Int) -> [String] {
        ["kernel", "iommu_groups", "\(group)"]
    }

    mutating func write(_ entry: SysfsEntry) throws(EmulatorError) {
        let path = entry.path
        try ensureDirectory(entry.parent)
        try FileSystem.makeDirectory(absolute(path))
        existingDirectories.insert(path)
        let directory = absolute(path)
        for file in entry.files {
            try FileSystem.writeFile(directory + "/" + file.name, file.contents)
        }
        for link in entry.links {
            try FileSystem.symlink(target: relativeLink(from: path, to: link.target), at: directory + "/" + link.name)
        }
        if !entry.netdevs.isEmpty {
            try FileSystem.makeDirectory(directory + "/net")
            for netdev in entry.netdevs {
                try FileSystem.makeDirectory(directory + "/net/" + netdev)
            }
        }
        for device in entry.blockDevices {
            try writeBlockDevice(device, function: path)
        }
        let name = entry.address.description
        try FileSystem.symlink(target: relativeLink(from: ["devices"], to: path), at: absolute(["devices", name]))
        if let driver = entry.driver {
            let driverDirectory = ["drivers", driver]
            try ensureDirectory(driverDirectory)
            try FileSystem.symlink(target: relativeLink(from: driverDirectory, to: path), at: absolute(driverDirectory + [name]))
            try FileSystem.symlink(target: relativeLink(from: path, to: driverDirectory), at: directory + "/driver")
        }
        if let group = entry.iommuGroup {
            let members = Self.groupDirectory(group) + ["devices"]
            try ensureDirectory(members)
            try FileSystem.symlink(target: relativeLink(from: members, to: path), at: absolute(members + [name]))
            try FileSystem.symlink(
                target: relativeLink(from: path, to: Self.groupDirectory(group)), at: directory + "/iommu_group")
        }
    }

    /// Removes an entry written by `write` and every link to it the tree holds.
    mutating func remove(_ entry: SysfsEntry) throws(EmulatorError) {
        let name = entry.address.description
        try FileSystem.removeFile(absolute(["devices", name]))
        if let driver = entry.driver {
            try FileSystem.removeFile(absolute(["drivers", driver, name]))
        }
        if let group = entry.iommuGroup {
            // A group disappears with its last member, as the kernel's do.
            let members = Self.groupDirectory(group) + ["devices"]
            try FileSystem.removeFile(absolute(members + [name]))
            try FileSystem.removeDirectoryIfEmpty(absolute(members))
            try FileSystem.removeDirectoryIfEmpty(absolute(Self.groupDirectory(group)))
            if !FileSystem.exists(absolute(Self.groupDirectory(group))) {
                existingDirectories.remove(members)
                existingDirectories.remove(Self.groupDirectory(group))
            }
        }
        try FileSystem.removeTree(absolute(entry.path))
        existingDirectories.remove(entry.path)
    }

    /// Replaces one file of an entry already in the tree with the entry's current contents.
    func rewriteFile(_ entry: SysfsEntry, _ name: String) throws(EmulatorError) {
        guard let file = entry.files.first(where: { $0.name == name }) else {
            throw .corruptTree(path: absolute(entry.path + [name]), expected: "a file the entry defines", found: "none")
        }
        try FileSystem.writeFile(absolute(entry.path + [name]), file.contents)
    }

    /// Creates one link of an entry already in the tree.
    func addLink(_ entry: SysfsEntry, named name: String) throws(EmulatorError) {
        guard let link = entry.links.first(where: { $0.name == name }) else {
            throw .corruptTree(path: absolute(entry.path + [name]), expected: "a link the entry defines", found: "none")
        }
        try FileSystem.symlink(target: relativeLink(from: entry.path, to: link.target), at: absolute(entry.path + [name]))
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : self[...]
    }
}
