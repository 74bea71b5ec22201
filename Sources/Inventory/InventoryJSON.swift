import Foundation

// The `dpucert inventory --format json` contract: these keys exactly, hex IDs in
// lower case without `0x`, `null` (not absent) where a value is unknown.

extension PCIInventory: Encodable {
    enum CodingKeys: String, CodingKey { case source, functions }
    enum SourceKeys: String, CodingKey { case method, path }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var source = container.nestedContainer(keyedBy: SourceKeys.self, forKey: .source)
        switch self.source {
        case .live:
            try source.encode("linux-sysfs", forKey: .method)
            try source.encode(PCISource.liveSysfsRoot, forKey: .path)
        case .sysfs(let root):
            try source.encode("linux-sysfs", forKey: .method)
            try source.encode(root, forKey: .path)
        case .dump(let path):
            try source.encode("dump", forKey: .method)
            try source.encode(path, forKey: .path)
        }
        try container.encode(functions, forKey: .functions)
    }

    /// Pretty-printed JSON with stable key order.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension PCIFunction: Encodable {
    enum CodingKeys: String, CodingKey {
        case address, vendorID, deviceID, subsystemVendorID, subsystemDeviceID, classCode, revision, headerType
        case vendorName, deviceName, physicalFunction, capabilities, capabilityChain, link, pcie, sriov, acs, aer
        case msix, msi, deviceSerialNumber, iommuGroup, numaNode, driver, netdevs, blockDevices
        case configSpaceBytes, sysfs, findings
    }

    enum LinkKeys: String, CodingKey {
        case maxSpeedGTs, maxWidth, currentSpeedGTs, currentWidth, supportedSpeedsGTs
    }

    enum SRIOVKeys: String, CodingKey {
        case initialVFs, totalVFs, numVFs, vfEnabled, firstVFOffset, vfStride, vfDeviceID, vfAddresses
        case ariCapableHierarchy, functionDependencyLink
    }

    enum PCIeKeys: String, CodingKey { case version, portType, ariForwardingSupported, ariForwardingEnabled }
    enum ACSKeys: String, CodingKey { case capability, control }
    enum AERKeys: String, CodingKey {
        case uncorrectableStatus, uncorrectableMask, uncorrectableSeverity, correctableStatus, correctableMask
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(address, forKey: .address)
        try container.encode(hex(vendorID, width: 4), forKey: .vendorID)
        try container.encode(hex(deviceID, width: 4), forKey: .deviceID)
        try container.encodeOrNull(subsystemVendorID.map { hex($0, width: 4) }, forKey: .subsystemVendorID)
        try container.encodeOrNull(subsystemDeviceID.map { hex($0, width: 4) }, forKey: .subsystemDeviceID)
        try container.encode(hex(classCode, width: 6), forKey: .classCode)
        try container.encode(hex(revision, width: 2), forKey: .revision)
        try container.encodeOrNull(headerType, forKey: .headerType)
        try container.encodeOrNull(vendorName, forKey: .vendorName)
        try container.encodeOrNull(deviceName, forKey: .deviceName)
        try container.encode(physicalFunction, forKey: .physicalFunction)
        try container.encodeStrings(capabilityNames, forKey: .capabilities)
        try container.encode(config.capabilities, forKey: .capabilityChain)
        try container.encode(config.length, forKey: .configSpaceBytes)

        if let link {
            var nested = container.nestedContainer(keyedBy: LinkKeys.self, forKey: .link)
            try nested.encodeOrNull(link.maxSpeedGTs, forKey: .maxSpeedGTs)
            try nested.encode(link.maxWidth, forKey: .maxWidth)
            try nested.encodeOrNull(link.currentSpeedGTs, forKey: .currentSpeedGTs)
            try nested.encode(link.currentWidth, forKey: .currentWidth)
            try nested.encodeNumbers(link.supportedSpeedsGTs, forKey: .supportedSpeedsGTs)
        } else {
            try container.encodeNil(forKey: .link)
        }
        if let pcie = config.pcie {
            var nested = container.nestedContainer(keyedBy: PCIeKeys.self, forKey: .pcie)
            try nested.encode(pcie.version, forKey: .version)
            try nested.encode(pcie.portType.map { "\($0)" } ?? "reserved-\(pcie.portTypeCode)", forKey: .portType)
            try nested.encode(pcie.ariForwardingSupported, forKey: .ariForwardingSupported)
            try nested.encode(pcie.ariForwardingEnabled, forKey: .ariForwardingEnabled)
        } else {
            try container.encodeNil(forKey: .pcie)
        }
        if let sriov {
            var nested = container.nestedContainer(keyedBy: SRIOVKeys.self, forKey: .sriov)
            try nested.encode(sriov.initialVFs, forKey: .initialVFs)
            try nested.encode(sriov.totalVFs, forKey: .totalVFs)
            try nested.encode(sriov.numVFs, forKey: .numVFs)
            try nested.encode(sriov.vfEnabled, forKey: .vfEnabled)
            try nested.encode(sriov.firstVFOffset, forKey: .firstVFOffset)
            try nested.encode(sriov.vfStride, forKey: .vfStride)
            try nested.encode(hex(sriov.vfDeviceID, width: 4), forKey: .vfDeviceID)
            try nested.encode(vfAddresses, forKey: .vfAddresses)
            try nested.encode(sriov.ariCapableHierarchy, forKey: .ariCapableHierarchy)
            try nested.encode(sriov.functionDependencyLink, forKey: .functionDependencyLink)
        } else {
            try container.encodeNil(forKey: .sriov)
        }
        if let acs = config.acs {
            var nested = container.nestedContainer(keyedBy: ACSKeys.self, forKey: .acs)
            try nested.encodeStrings(acs.capability.names, forKey: .capability)
            try nested.encodeStrings(acs.control.names, forKey: .control)
        } else {
            try container.encodeNil(forKey: .acs)
        }
        if let aer = config.aer {
            var nested = container.nestedContainer(keyedBy: AERKeys.self, forKey: .aer)
            try nested.encode(hex(aer.uncorrectableStatus, width: 8), forKey: .uncorrectableStatus)
            try nested.encode(hex(aer.uncorrectableMask, width: 8), forKey: .uncorrectableMask)
            try nested.encode(hex(aer.uncorrectableSeverity, width: 8), forKey: .uncorrectableSeverity)
            try nested.encode(hex(aer.correctableStatus, width: 8), forKey: .correctableStatus)
            try nested.encode(hex(aer.correctableMask, width: 8), forKey: .correctableMask)
        } else {
            try container.encodeNil(forKey: .aer)
        }
        try container.encode(config.msix, forKey: .msix)
        try container.encode(config.msi, forKey: .msi)
        try container.encodeOrNull(config.deviceSerialNumber.map { hex($0, width: 16) }, forKey: .deviceSerialNumber)
        try container.encodeOrNull(iommuGroup, forKey: .iommuGroup)
        try container.encodeOrNull(numaNode, forKey: .numaNode)
        try container.encodeOrNull(driver, forKey: .driver)
        try container.encodeStrings(netdevs, forKey: .netdevs)
        try container.encodeStrings(blockDevices, forKey: .blockDevices)
        try container.encode(sysfs, forKey: .sysfs)
        try container.encode(findings, forKey: .findings)
    }
}

// Writes with concrete types: the generic `encode(_:forKey:)` of an optional or an array
// takes a detour through an encoder per value, which a fleet inventory pays hundreds of
// thousands of times. Unknown values are `null`, not absent, as the contract says.
extension KeyedEncodingContainer {
    mutating func encodeOrNull(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeOrNull(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeOrNull(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func encodeStrings(_ values: [String], forKey key: Key) throws {
        var nested = nestedUnkeyedContainer(forKey: key)
        for value in values { try nested.encode(value) }
    }

    mutating func encodeNumbers(_ values: [Double], forKey key: Key) throws {
        var nested = nestedUnkeyedContainer(forKey: key)
        for value in values { try nested.encode(value) }
    }
}
