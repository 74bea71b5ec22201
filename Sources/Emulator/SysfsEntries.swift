// What the kernel shows in sysfs for each function, formatted as drivers/pci/pci-sysfs.c,
// drivers/pci/iov.c and drivers/pci/pcie/aer.c print it. Values come from the same layout
// as the configuration bytes, so the files and the bytes agree.

/// One function's sysfs directory, before it is written.
struct SysfsEntry {
    var address: EmulatedPCIAddress
    /// Path of the parent directory below the tree root (the function's place in the topology).
    var parent: [String]
    var files: [(name: String, contents: [UInt8])] = []
    /// Links inside the directory; targets are paths below the tree root.
    var links: [(name: String, target: [String])] = []
    var netdevs: [String] = []
    var blockDevices: [EmulatedBlockDevice] = []
    var driver: String?
    var iommuGroup: Int?

    var path: [String] { parent + [address.description] }

    mutating func add(_ name: String, _ text: String) {
        files.append((name, Array(text.utf8)))
    }
}

/// Kernel resource flags as `resource` shows them.
private enum ResourceFlags {
    /// IORESOURCE_MEM | PREFETCH | MEM_64 | SIZEALIGN, BAR type bits 0xc.
    static let memory64Prefetchable: UInt64 = 0x0014_220c
    /// Bridge window: IORESOURCE_MEM | PREFETCH | MEM_64, 64-bit window type 1.
    static let prefetchableWindow: UInt64 = 0x0010_2201
}

/// `resource`: one `start end flags` line per resource; unused ones are zero.
private func resourceText(_ resources: [(start: UInt64, size: UInt64, flags: UInt64)?]) -> String {
    var text = ""
    for resource in resources {
        let (start, end, flags) = resource.map { ($0.start, $0.start + $0.size - 1, $0.flags) } ?? (0, 0, 0)
        text += "0x\(hex(start, digits: 16)) 0x\(hex(end, digits: 16)) 0x\(hex(flags, digits: 16))\n"
    }
    return text
}

/// Non-bridges list 6 BARs, the ROM and 6 SR-IOV VF BARs; bridges add 4 windows.
private let endpointResourceCount = 13
private let bridgeResourceCount = 17

/// `aer_dev_correctable`, `aer_dev_fatal`, `aer_dev_nonfatal`: every named bit with its count,
/// then the total.
enum AERStatisticsText {
    static func correctable(_ aer: EmulatedAER) -> String {
        let lines = EmulatedAER.CorrectableError.allCases.map { "\($0.kernelName) \(aer.correctableCounts[$0] ?? 0)\n" }
        return lines.joined() + "TOTAL_ERR_COR \(aer.correctableCounts.values.reduce(0, +))\n"
    }

    static func uncorrectable(_ counts: [EmulatedAER.UncorrectableError: UInt64], total: String) -> String {
        let lines = EmulatedAER.UncorrectableError.allCases.map { "\($0.kernelName) \(counts[$0] ?? 0)\n" }
        return lines.joined() + "TOTAL_\(total) \(counts.values.reduce(0, +))\n"
    }
}

extension CardLayout {
    var topologyRoot: [String] {
        let port = card.rootPort.address
        return ["topology", "pci\(hex(port.domain, digits: 4)):\(hex(port.bus, digits: 2))"]
    }

    private var cardParent: [String] { topologyRoot + [card.rootPort.address.description] }

    func hostBridgeEntry() -> SysfsEntry {
        let bridge = card.rootPort.hostBridge
        var entry = SysfsEntry(address: card.rootPort.hostBridgeAddress, parent: topologyRoot)
        entry.addIdentity(
            vendorID: bridge.vendorID, deviceID: bridge.deviceID, subsystemVendorID: bridge.vendorID,
            subsystemDeviceID: 0, classCode: 0x06_00_00, revision: bridge.revision, irq: 0,
            numaNode: card.rootPort.numaNode)
        entry.add("resource", resourceText(Array(repeating: nil, count: endpointResourceCount)))
        entry.files.append(("config", hostBridgeConfig().bytes))
        return entry
    }

    func rootPortEntry() -> SysfsEntry {
        let port = card.rootPort
        var entry = SysfsEntry(address: port.address, parent: topologyRoot)
        entry.addIdentity(
            // Without a Subsystem ID capability the kernel reports 0 for a bridge's subsystem.
            vendorID: port.vendorID, deviceID: port.deviceID, subsystemVendorID: 0, subsystemDeviceID: 0,
            classCode: 0x06_04_00, revision: port.revision, irq: port.irq, numaNode: port.numaNode)
        var resources: [(start: UInt64, size: UInt64, flags: UInt64)?] = Array(repeating: nil, count: bridgeResourceCount)
        resources[endpointResourceCount + 2] = (windowBase, windowLimit - windowBase + 1, ResourceFlags.prefetchableWindow)
        entry.add("resource", resourceText(resources))
        let trained = card.functions[0].link
        entry.addLink(
            EmulatedLink(
                maxSpeed: port.maxLinkSpeed, maxWidth: port.maxLinkWidth, currentSpeed: trained.currentSpeed,
                currentWidth: trained.currentWidth))
        if let aer = port.aer {
            entry.addAER(aer)
            // Error messages the port received from below, plus its own.
            let reporters = card.functions.compactMap(\.aer) + [aer]
            let totals = (
                cor: reporters.flatMap(\.correctableCounts.values).reduce(0, +),
                fatal: reporters.flatMap(\.fatalCounts.values).reduce(0, +),
                nonFatal: reporters.flatMap(\.nonFatalCounts.values).reduce(0, +))
            entry.add("aer_rootport_total_err_cor", "\(totals.cor)\n")
            entry.add("aer_rootport_total_err_fatal", "\(totals.fatal)\n")
            entry.add("aer_rootport_total_err_nonfatal", "\(totals.nonFatal)\n")
        }
        entry.files.append(("config", rootPortConfig().bytes))
        entry.driver = port.driver
        entry.iommuGroup = port.iommuGroup
        return entry
    }

    func physicalFunctionEntry(_ index: Int, enabledVFs: Int? = nil) -> SysfsEntry {
        let function = card.functions[index]
        var entry = SysfsEntry(address: function.address, parent: cardParent)
        entry.addIdentity(
            vendorID: function.vendorID, deviceID: function.deviceID, subsystemVendorID: function.subsystemVendorID,
            subsystemDeviceID: function.subsystemDeviceID, classCode: function.classCode, revision: function.revision,
            irq: function.irq, numaNode: function.numaNode)
        var resources: [(start: UInt64, size: UInt64, flags: UInt64)?] = Array(repeating: nil, count: endpointResourceCount)
        resources[0] = (barBases[index], function.barSize, ResourceFlags.memory64Prefetchable)
        if let sriov = function.sriov, let vfBase = vfBARBases[index] {
            resources[7] = (vfBase, sriov.vfBARSize * UInt64(sriov.totalVFs), ResourceFlags.memory64Prefetchable)
        }
        entry.add("resource", resourceText(resources))
        entry.addLink(function.link)
        if let aer = function.aer {
            entry.addAER(aer)
        }
        if let sriov = function.sriov {
            let numVFs = enabledVFs ?? sriov.enabledVFs
            entry.add("sriov_totalvfs", "\(sriov.reportedTotalVFs)\n")
            entry.add("sriov_numvfs", "\(numVFs)\n")
            entry.add("sriov_offset", "\(sriov.firstVFOffset)\n")
            entry.add("sriov_stride", "\(sriov.vfStride)\n")
            entry.add("sriov_vf_device", "\(String(sriov.vfDeviceID, radix: 16))\n")
            entry.add("sriov_drivers_autoprobe", "1\n")
            for vf in function.virtualFunctions(enabled: numVFs) {
                entry.links.append(("virtfn\(vf.index)", cardParent + [vf.address.description]))
            }
        }
        if let vpd = function.vpd {
            entry.files.append(("vpd", vpd.bytes))
        }
        entry.files.append(("config", physicalFunctionConfig(index, enabledVFs: enabledVFs).bytes))
        entry.netdevs = function.netdevs
        entry.blockDevices = function.blockDevices
        entry.driver = function.driver
        entry.iommuGroup = function.iommuGroup
        return entry
    }

    /// A VF's directory: identity from the PF (vendor) and its VF Device ID, as the kernel
    /// fills it in, while the VF's own configuration space reads 0xffff there.
    func virtualFunctionEntry(_ vf: EmulatedVirtualFunction, physicalFunction index: Int) -> SysfsEntry {
        let pf = card.functions[index]
        var entry = SysfsEntry(address: vf.address, parent: cardParent)
        entry.addIdentity(
            vendorID: pf.vendorID, deviceID: pf.sriov?.vfDeviceID ?? 0xffff, subsystemVendorID: pf.subsystemVendorID,
            subsystemDeviceID: pf.subsystemDeviceID, classCode: pf.classCode, revision: pf.revision, irq: 0,
            numaNode: pf.numaNode)
        var resources: [(start: UInt64, size: UInt64, flags: UInt64)?] = Array(repeating: nil, count: endpointResourceCount)
        if let base = vfBARBase(of: vf, physicalFunction: index), let size = pf.sriov?.vfBARSize {
            resources[0] = (base, size, ResourceFlags.memory64Prefetchable)
        }
        entry.add("resource", resourceText(resources))
        entry.addLink(pf.link)
        entry.links.append(("physfn", cardParent + [pf.address.description]))
        entry.files.append(("config", virtualFunctionConfig(vf, physicalFunction: index).bytes))
        entry.netdevs = vf.netdevs
        entry.driver = vf.driver
        entry.iommuGroup = vf.iommuGroup
        return entry
    }
}

extension SysfsEntry {
    fileprivate mutating func addIdentity(
        vendorID: UInt16, deviceID: UInt16, subsystemVendorID: UInt16, subsystemDeviceID: UInt16,
        classCode: UInt32, revision: UInt8, irq: UInt32, numaNode: Int
    ) {
        add("vendor", "0x\(hex(vendorID, digits: 4))\n")
        add("device", "0x\(hex(deviceID, digits: 4))\n")
        add("subsystem_vendor", "0x\(hex(subsystemVendorID, digits: 4))\n")
        add("subsystem_device", "0x\(hex(subsystemDeviceID, digits: 4))\n")
        add("class", "0x\(hex(classCode, digits: 6))\n")
        add("revision", "0x\(hex(revision, digits: 2))\n")
        add("irq", "\(irq)\n")
        add("numa_node", "\(numaNode)\n")
    }

    /// `current_link_*` from LnkSta, `max_link_speed` from the LnkCap2 vector, `max_link_width` from LnkCap.
    fileprivate mutating func addLink(_ link: EmulatedLink) {
        add("current_link_speed", "\(link.currentSpeed.sysfsValue)\n")
        add("current_link_width", "\(link.currentWidth)\n")
        add("max_link_speed", "\(link.maxSpeed.sysfsValue)\n")
        add("max_link_width", "\(link.maxWidth)\n")
    }

    fileprivate mutating func addAER(_ aer: EmulatedAER) {
        add("aer_dev_correctable", AERStatisticsText.correctable(aer))
        add("aer_dev_fatal", AERStatisticsText.uncorrectable(aer.fatalCounts, total: "ERR_FATAL"))
        add("aer_dev_nonfatal", AERStatisticsText.uncorrectable(aer.nonFatalCounts, total: "ERR_NONFATAL"))
    }
}
