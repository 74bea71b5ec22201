import CLibPCI
import CPCIShims

/// A read inventory: the source and every function on it, in address order.
public struct PCIInventory: Sendable, Hashable {
    public var source: PCISource
    public var functions: [PCIFunction]

    public init(source: PCISource, functions: [PCIFunction]) {
        self.source = source
        self.functions = functions
    }

    public func function(at address: PCIAddress) -> PCIFunction? {
        functions.first { $0.address == address }
    }

    /// Physical functions and functions without SR-IOV parents, each with its VFs.
    public var hierarchy: [(function: PCIFunction, virtualFunctions: [PCIFunction])] {
        let byParent = Dictionary(grouping: functions.filter(\.isVirtualFunction)) { $0.physicalFunction! }
        let orphans = functions.filter { $0.isVirtualFunction && function(at: $0.physicalFunction!) == nil }
        return functions.filter { !$0.isVirtualFunction || orphans.contains($0) }.map {
            ($0, orphans.contains($0) ? [] : byParent[$0.address] ?? [])
        }
    }
}

/// Reads a bus and decodes every function.
public struct InventoryReader: Sendable {
    public let bus: any PCIBus

    public init(bus: any PCIBus) {
        self.bus = bus
    }

    public init(source: PCISource) {
        self.init(bus: LibPCIBus(source: source))
    }

    public func read() throws(PCIError) -> PCIInventory {
        let raw = try bus.scan()
        let extrasReader = bus.source.sysfsRoot.map(SysfsExtrasReader.init(root:))
        var functions = raw.map { decode($0, extras: extrasReader?.read($0.address)) }
        linkVirtualFunctionsWithoutSysfs(&functions)
        return PCIInventory(source: bus.source, functions: functions)
    }

    func decode(_ raw: RawPCIFunction, extras: SysfsExtras?) -> PCIFunction {
        let config = ConfigDecoder.decode(ConfigSpace(raw.config))
        var findings: [Finding] = raw.warnings.map {
            Finding(kind: .accessWarning, property: "config", message: $0)
        }
        if raw.config.isEmpty {
            findings.append(Finding(kind: .configSpaceUnreadable, property: "config",
                                    message: "configuration space is not readable; identity comes from the access method only"))
        }
        findings += config.chainProblems.map {
            Finding(kind: .brokenCapabilityChain, property: "capabilities", message: $0)
        }
        // A VF's own config reads 0xffff for vendor/device: the access method's
        // identity (the kernel's, from the PF) is the one to report.
        let configIdentityUsable = config.vendorID.map { $0 != 0xffff } ?? false
        var vfAddresses: [PCIAddress] = []
        if let sriov = config.sriov, sriov.vfEnabled {
            vfAddresses = sriov.vfAddresses(physicalFunction: raw.address, count: sriov.numVFs)
        }
        var function = PCIFunction(
            address: raw.address,
            vendorID: configIdentityUsable ? config.vendorID ?? raw.vendorID : raw.vendorID,
            deviceID: configIdentityUsable ? config.deviceID ?? raw.deviceID : raw.deviceID,
            subsystemVendorID: config.subsystemVendorID ?? raw.subsystemVendorID,
            subsystemDeviceID: config.subsystemDeviceID ?? raw.subsystemDeviceID,
            classCode: config.classCode ?? raw.classCode,
            revision: config.revision ?? raw.revision,
            headerType: config.headerType,
            vendorName: raw.vendorName,
            deviceName: raw.deviceName,
            physicalFunction: extras?.physicalFunction,
            config: config,
            vfAddresses: vfAddresses,
            sysfs: extras,
            findings: findings)
        if let extras {
            function.findings += SysfsConsistency.findings(config: config, sysfs: extras, vfAddresses: vfAddresses)
        }
        return function
    }

    /// Dumps have no `physfn` links: a function at a PF's computed VF routing ID is
    /// that PF's VF.
    private func linkVirtualFunctionsWithoutSysfs(_ functions: inout [PCIFunction]) {
        var parentOf: [PCIAddress: PCIAddress] = [:]
        for function in functions {
            for vf in function.vfAddresses where vf != function.address { parentOf[vf] = function.address }
        }
        for index in functions.indices where functions[index].physicalFunction == nil {
            functions[index].physicalFunction = parentOf[functions[index].address]
        }
    }
}

/// Where the kernel's sysfs files and the function's config bytes must agree.
enum SysfsConsistency {
    static func findings(config: DecodedConfig, sysfs: SysfsExtras, vfAddresses: [PCIAddress]) -> [Finding] {
        var findings: [Finding] = []
        func compare<T: Equatable>(_ property: String, config configValue: T?, sysfs sysfsValue: T?,
                                   describe: (T) -> String = { "\($0)" }) {
            guard let configValue, let sysfsValue, configValue != sysfsValue else { return }
            findings.append(Finding(
                kind: .sysfsMismatch, property: property,
                message: "\(property): config space says \(describe(configValue)), sysfs says \(describe(sysfsValue))",
                configSpace: describe(configValue), sysfs: describe(sysfsValue)))
        }
        if let sriov = config.sriov {
            compare("sriov.totalVFs", config: sriov.totalVFs, sysfs: sysfs.sriovTotalVFs)
            compare("sriov.numVFs", config: sriov.vfEnabled ? sriov.numVFs : 0, sysfs: sysfs.sriovNumVFs)
            compare("sriov.firstVFOffset", config: sriov.firstVFOffset, sysfs: sysfs.sriovOffset)
            compare("sriov.vfStride", config: sriov.vfStride, sysfs: sysfs.sriovStride)
            compare("sriov.vfDeviceID", config: hex(sriov.vfDeviceID, width: 4), sysfs: sysfs.sriovVFDeviceID)
            compare("sriov.vfAddresses", config: vfAddresses, sysfs: sysfs.virtualFunctions ?? (sysfs.sriovNumVFs != nil ? [] : nil),
                    describe: { $0.isEmpty ? "none" : $0.map(\.description).joined(separator: ",") })
        }
        if let link = config.pcie?.link {
            let speed: (Double) -> String = { "\($0) GT/s" }
            compare("link.maxSpeedGTs", config: link.maxSpeedGTs, sysfs: sysfs.maxLinkSpeedGTs, describe: speed)
            compare("link.maxWidth", config: link.maxWidth, sysfs: sysfs.maxLinkWidth)
            compare("link.currentSpeedGTs", config: link.currentSpeedGTs, sysfs: sysfs.currentLinkSpeedGTs, describe: speed)
            compare("link.currentWidth", config: link.currentWidth, sysfs: sysfs.currentLinkWidth)
        }
        return findings
    }
}
