// The profile schema: which keys exist, what each value may be, and the rules that tie
// sections together. docs/profiles.md documents every rule enforced here.

/// What later sections are checked against, known once `pci` has been read.
struct PCIFacts {
    let roles: Set<Profile.FunctionRole>
    /// The SR-IOV function with the fewest required VFs, if any function has SR-IOV.
    let smallestSRIOV: (name: String, minTotalVFs: Int)?
    /// The functions whose presence the management mode decides (`presentIn`), by name.
    let modeDependent: [String]
}

struct ProfileSchema {
    let yaml: YAMLReader

    static let topLevelKeys = [
        "schemaVersion", "id", "vendor", "model", "formFactor", "ports", "firmware", "managementMode", "pci",
        "network", "storage", "rdma", "isolation", "emulation",
    ]

    func profile(from root: YAMLValue) -> Profile? {
        guard let fields = yaml.fields(of: root, allowed: Self.topLevelKeys) else { return nil }
        let schemaVersion = fields.required("schemaVersion").flatMap(schemaVersion)
        let id = fields.required("id").flatMap { yaml.dashedName($0) }
        let vendor = fields.required("vendor").flatMap { yaml.text($0) }
        let model = fields.required("model").flatMap { yaml.text($0) }
        let formFactor = fields.required("formFactor").flatMap { yaml.text($0) }
        let ports = fields.required("ports").flatMap(self.ports)
        let firmware = optional(fields.optional("firmware"), self.firmware)
        let managementMode = optional(fields.optional("managementMode")) {
            yaml.choice($0, Profile.ManagementMode.self)
        }
        let pciSection = fields.required("pci").flatMap(pci)
        let facts = pciSection?.facts
        let modeDeclared = managementModeDeclared(managementMode, in: fields, root: root, facts: facts)
        let totalPortSpeed = ports?.totalSpeedGbps
        let network = optional(fields.optional("network")) {
            self.network($0, facts: facts, totalPortSpeedGbps: totalPortSpeed)
        }
        let storage = optional(fields.optional("storage")) { self.storage($0, facts: facts) }
        let rdma = optional(fields.optional("rdma")) {
            self.rdma($0, facts: facts, totalPortSpeedGbps: totalPortSpeed)
        }
        let isolation = optional(fields.optional("isolation")) { self.isolation($0, managementMode: managementMode) }
        let emulation = optional(fields.optional("emulation")) {
            self.emulation($0, facts: facts, isolation: isolation)
        }
        guard let schemaVersion, let id, let vendor, let model, let formFactor, let ports, let firmware,
              let managementMode, modeDeclared, let pciSection, let network, let storage, let rdma, let isolation,
              let emulation
        else { return nil }
        return Profile(
            schemaVersion: schemaVersion, id: id, vendor: vendor, model: model, formFactor: formFactor,
            ports: ports, firmware: firmware, managementMode: managementMode, pci: pciSection.pci, network: network,
            storage: storage, rdma: rdma, isolation: isolation, emulation: emulation)
    }

    /// `managementMode` is given exactly when some function's presence depends on it.
    private func managementModeDeclared(
        _ mode: Profile.ManagementMode??, in fields: YAMLFields, root: YAMLValue, facts: PCIFacts?
    ) -> Bool {
        guard let facts, case .some(let mode) = mode else { return true }
        switch (mode, facts.modeDependent.first, fields.optional("managementMode")) {
        case (nil, let function?, _):
            yaml.report(
                "missing required key 'managementMode': function '\(function)' lists presentIn, "
                    + "so the card's management mode decides whether the host sees it",
                at: root)
            return false
        case (_?, nil, let value?):
            yaml.report(
                "no function in pci.functions lists presentIn, so the management mode decides nothing; "
                    + "leave managementMode out",
                at: value)
            return false
        default:
            return true
        }
    }

    // MARK: Identity

    private func schemaVersion(_ value: YAMLValue) -> Int? {
        guard let version = yaml.integer(value, in: 1...999) else { return nil }
        guard version == Profile.supportedSchemaVersion else {
            let supported = Profile.supportedSchemaVersion
            yaml.report(
                "unsupported schemaVersion \(version); this dpucert reads schemaVersion \(supported)", at: value)
            return nil
        }
        return version
    }

    private func ports(_ value: YAMLValue) -> [Profile.Port]? {
        guard let ports = yaml.elements(
            of: value, nonEmpty: true, read: port, identity: \.name,
            duplicate: { "duplicate port name '\($0.name)'" })
        else { return nil }
        guard ports.count <= 16 else {
            yaml.report("expected at most 16 ports, found \(ports.count)", at: value)
            return nil
        }
        return ports
    }

    private func port(_ value: YAMLValue) -> Profile.Port? {
        guard let fields = yaml.fields(of: value, allowed: ["name", "speedGbps"]) else { return nil }
        let name = fields.required("name").flatMap(portName)
        let speed = fields.required("speedGbps").flatMap {
            yaml.integer($0, oneOf: Profile.Port.allowedSpeedsGbps, unit: "Gbit/s")
        }
        guard let name, let speed else { return nil }
        return Profile.Port(name: name, speedGbps: speed)
    }

    private func portName(_ value: YAMLValue) -> String? {
        guard let name = yaml.text(value, maxLength: 15) else { return nil }
        guard name.allSatisfy({ $0.isASCIIDigit || ("a"..."z").contains($0) || "_.-".contains($0) }) else {
            yaml.report(
                "expected a port name of a-z, 0-9, '_', '.' and '-' (like 'p0'), found \(quoted(name))", at: value)
            return nil
        }
        return name
    }

    private func firmware(_ value: YAMLValue) -> Profile.Firmware? {
        let expectation = "a dotted decimal version like \"24.35.1012\""
        guard let fields = yaml.fields(of: value, allowed: ["minVersion"]),
              let minVersion = fields.required("minVersion").flatMap({
                  yaml.parsed($0, expectation: expectation, parse: Profile.FirmwareVersion.init)
              })
        else { return nil }
        return Profile.Firmware(minVersion: minVersion)
    }

    // MARK: PCI

    private func pci(_ value: YAMLValue) -> (pci: Profile.PCI, facts: PCIFacts)? {
        guard let fields = yaml.fields(of: value, allowed: ["functions"]),
              let functionsValue = fields.required("functions"),
              let items = yaml.list(functionsValue, nonEmpty: true)
        else { return nil }
        var functions: [Profile.PCIFunction] = []
        var complete = true
        for item in items {
            guard let (function, itemFields) = pciFunction(item) else {
                complete = false
                continue
            }
            if let earlier = functions.first(where: { $0.name == function.name }),
               let name = itemFields.optional("name") {
                yaml.report("duplicate function name '\(earlier.name)'", at: name)
                complete = false
            }
            if let earlier = functions.first(where: { $0.role == function.role }),
               let role = itemFields.optional("role") {
                yaml.report(
                    "role '\(function.role.rawValue)' is already taken by function '\(earlier.name)'; "
                        + "each role names one function",
                    at: role)
                complete = false
            }
            if let earlier = functions.first(where: { $0.match.overlaps(function.match) }),
               let match = itemFields.optional("match") {
                yaml.report("matches the same devices as function '\(earlier.name)'", at: match)
                complete = false
            }
            functions.append(function)
        }
        guard complete else { return nil }
        // A function present in every mode is what tells a run that the card is on the bus at all.
        guard functions.contains(where: { $0.presentIn == nil }) else {
            yaml.report(
                "every function lists presentIn; at least one must be present in every management mode, "
                    + "so that a run can tell the card is on the bus",
                at: functionsValue)
            return nil
        }
        let smallestSRIOV = functions
            .compactMap { function in function.sriov.map { (name: function.name, minTotalVFs: $0.minTotalVFs) } }
            .min { $0.minTotalVFs < $1.minTotalVFs }
        let facts = PCIFacts(
            roles: Set(functions.map(\.role)), smallestSRIOV: smallestSRIOV,
            modeDependent: functions.filter { $0.presentIn != nil }.map(\.name))
        return (Profile.PCI(functions: functions), facts)
    }

    private func pciFunction(_ value: YAMLValue) -> (Profile.PCIFunction, YAMLFields)? {
        let keys = [
            "name", "role", "match", "count", "classCode", "link", "capabilities", "msix", "acs", "sriov", "presentIn",
        ]
        guard let fields = yaml.fields(of: value, allowed: keys) else { return nil }
        let name = fields.required("name").flatMap { yaml.dashedName($0) }
        let role = fields.required("role").flatMap { yaml.choice($0, Profile.FunctionRole.self) }
        let match = fields.required("match").flatMap(deviceMatch)
        let count = defaulted(fields.optional("count"), 1) { yaml.integer($0, in: 1...256) }
        let classCode = optional(fields.optional("classCode")) {
            yaml.parsed($0, expectation: "a class code of 6 hex digits, like \"020000\"", parse: Profile.ClassCode.init)
        }
        let link = optional(fields.optional("link"), linkRequirement)
        let capabilities = defaulted(fields.optional("capabilities"), []) { self.capabilities($0) }
        let msix = optional(fields.optional("msix"), msixRequirement)
        let acs = optional(fields.optional("acs"), acsRequirement)
        let sriov = optional(fields.optional("sriov"), sriovRequirement)
        let presentIn = optional(fields.optional("presentIn"), managementModes)
        var consistent = true
        if let capabilities {
            let sections: [(key: String, capability: Profile.Capability)] = [
                ("msix", .msix), ("acs", .acs), ("sriov", .sriov),
            ]
            for section in sections where !capabilities.contains(section.capability) {
                guard let sectionValue = fields.optional(section.key) else { continue }
                let name = section.capability.rawValue
                yaml.report("this section needs '\(name)' in the function's capabilities", at: sectionValue)
                consistent = false
            }
        }
        guard consistent, let name, let role, let match, let count, let classCode, let link, let capabilities,
              let msix, let acs, let sriov, let presentIn
        else { return nil }
        let function = Profile.PCIFunction(
            name: name, role: role, match: match, count: count, classCode: classCode, link: link,
            capabilities: capabilities, msix: msix, acs: acs, sriov: sriov, presentIn: presentIn)
        return (function, fields)
    }

    /// The management modes a function is present in: some of them, not all.
    private func managementModes(_ value: YAMLValue) -> [Profile.ManagementMode]? {
        guard let modes = yaml.elements(
            of: value, nonEmpty: true, read: { yaml.choice($0, Profile.ManagementMode.self) }, identity: { $0 },
            duplicate: { "duplicate management mode '\($0.rawValue)'" })
        else { return nil }
        guard modes.count < Profile.ManagementMode.allCases.count else {
            yaml.report(
                "lists every management mode, so the function is present in all of them; leave presentIn out",
                at: value)
            return nil
        }
        return modes
    }

    private func deviceMatch(_ value: YAMLValue) -> Profile.DeviceMatch? {
        let keys = ["vendor", "device", "subsystemVendor", "subsystemDevice"]
        guard let fields = yaml.fields(of: value, allowed: keys) else { return nil }
        let vendor = fields.required("vendor").flatMap(pciID)
        let device = fields.required("device").flatMap(pciID)
        let subsystemVendor = optional(fields.optional("subsystemVendor"), pciID)
        let subsystemDevice = optional(fields.optional("subsystemDevice"), pciID)
        guard (fields.optional("subsystemVendor") == nil) == (fields.optional("subsystemDevice") == nil) else {
            yaml.report("subsystemVendor and subsystemDevice go together: give both or neither", at: value)
            return nil
        }
        guard let vendor, let device, let subsystemVendor, let subsystemDevice else { return nil }
        return Profile.DeviceMatch(
            vendor: vendor, device: device, subsystemVendor: subsystemVendor, subsystemDevice: subsystemDevice)
    }

    private func pciID(_ value: YAMLValue) -> Profile.PCIID? {
        let expectation = "a PCI ID of 4 hex digits, like \"15b3\""
        guard let id = yaml.parsed(value, expectation: expectation, parse: Profile.PCIID.init) else { return nil }
        guard id.value != 0xffff else {
            yaml.report("ffff is what an absent function reads as, not an ID", at: value)
            return nil
        }
        return id
    }

    private func linkRequirement(_ value: YAMLValue) -> Profile.LinkRequirement? {
        guard let fields = yaml.fields(of: value, allowed: ["minSpeedGTs", "minWidth"]) else { return nil }
        let speed = fields.required("minSpeedGTs").flatMap(linkSpeed)
        let width = fields.required("minWidth").flatMap {
            yaml.integer($0, oneOf: Profile.LinkRequirement.allowedWidths, unit: "lanes")
        }
        guard let speed, let width else { return nil }
        return Profile.LinkRequirement(minSpeed: speed, minWidth: width)
    }

    private func linkSpeed(_ value: YAMLValue) -> Profile.LinkSpeed? {
        let rates = listing(Profile.LinkSpeed.allCases.map { formatNumber($0.gigatransfersPerSecond) })
        let expectation = "a link speed of \(rates) GT/s"
        guard let rate = yaml.number(value, expectation: expectation) else { return nil }
        guard let speed = Profile.LinkSpeed(gigatransfersPerSecond: rate) else {
            yaml.report("expected \(expectation), found \(formatNumber(rate))", at: value)
            return nil
        }
        return speed
    }

    private func capabilities(_ value: YAMLValue) -> [Profile.Capability]? {
        guard let capabilities = yaml.elements(
            of: value, read: { yaml.choice($0, Profile.Capability.self) }, identity: { $0 },
            duplicate: { "duplicate capability '\($0.rawValue)'" })
        else { return nil }
        let extended = capabilities.filter(\.isExtended)
        guard extended.isEmpty || capabilities.contains(.pcie) else {
            let names = listing(extended.map { "'\($0.rawValue)'" })
            yaml.report("\(names) live in PCIe extended configuration space, which needs 'pcie' in the list", at: value)
            return nil
        }
        return capabilities
    }

    private func msixRequirement(_ value: YAMLValue) -> Profile.MSIXRequirement? {
        guard let fields = yaml.fields(of: value, allowed: ["minVectors"]),
              let minVectors = fields.required("minVectors").flatMap({
                  yaml.integer($0, in: 1...2048, note: "an MSI-X table holds at most 2048 vectors")
              })
        else { return nil }
        return Profile.MSIXRequirement(minVectors: minVectors)
    }

    private func acsRequirement(_ value: YAMLValue) -> Profile.ACSRequirement? {
        guard let fields = yaml.fields(of: value, allowed: ["required"]),
              let requiredValue = fields.required("required"),
              let controls = yaml.elements(
                  of: requiredValue, nonEmpty: true, read: { yaml.choice($0, Profile.ACSControl.self) },
                  identity: { $0 }, duplicate: { "duplicate ACS control '\($0.rawValue)'" })
        else { return nil }
        return Profile.ACSRequirement(required: controls)
    }

    private func sriovRequirement(_ value: YAMLValue) -> Profile.SRIOVRequirement? {
        let keys = ["minTotalVFs", "vfDeviceID", "firstVFOffset", "vfStride", "enableVFs", "enableAllowed"]
        guard let fields = yaml.fields(of: value, allowed: keys) else { return nil }
        let register = "a 16-bit register field"
        let minTotalVFs = fields.required("minTotalVFs").flatMap { yaml.integer($0, in: 1...65535, note: register) }
        let vfDeviceID = fields.required("vfDeviceID").flatMap(pciID)
        let firstVFOffset = optional(fields.optional("firstVFOffset")) {
            yaml.integer($0, in: 1...65535, note: "\(register); 0 is invalid")
        }
        let vfStride = optional(fields.optional("vfStride")) {
            yaml.integer($0, in: 1...65535, note: "\(register); 0 is invalid")
        }
        let enableVFs = defaulted(fields.optional("enableVFs"), 0) { yaml.integer($0, in: 0...65535) }
        let enableAllowed = defaulted(fields.optional("enableAllowed"), true) { yaml.boolean($0) }
        guard let minTotalVFs, let vfDeviceID, let firstVFOffset, let vfStride, let enableVFs, let enableAllowed
        else { return nil }
        var consistent = true
        if let enableValue = fields.optional("enableVFs") {
            if enableVFs > minTotalVFs {
                yaml.report(
                    "enableVFs \(enableVFs) exceeds minTotalVFs \(minTotalVFs); "
                        + "only VFs the profile requires can be enabled",
                    at: enableValue)
                consistent = false
            } else if enableVFs > 0, !enableAllowed {
                yaml.report("enableVFs must be 0 when enableAllowed is false", at: enableValue)
                consistent = false
            }
        }
        if let firstVFOffset, let vfStride {
            let lastOffset = firstVFOffset + (minTotalVFs - 1) * vfStride
            if lastOffset > 65535 {
                yaml.report(
                    "VF \(minTotalVFs - 1) would sit \(lastOffset) routing IDs past the PF, "
                        + "beyond the 16-bit routing ID space",
                    at: value)
                consistent = false
            }
        }
        guard consistent else { return nil }
        return Profile.SRIOVRequirement(
            minTotalVFs: minTotalVFs, vfDeviceID: vfDeviceID, firstVFOffset: firstVFOffset, vfStride: vfStride,
            enableVFs: enableVFs, enableAllowed: enableAllowed)
    }

    // MARK: Performance

    private func network(
        _ value: YAMLValue, facts: PCIFacts?, totalPortSpeedGbps: Int?
    ) -> Profile.NetworkRequirements? {
        let keys = ["minTcpThroughputGbps", "minUdpThroughputGbps", "maxTcpLatencyP99us", "mtu", "maxVfThroughputSpreadPercent"]
        guard let fields = thresholdFields(value, keys: keys, suite: "network", role: .network, facts: facts)
        else { return nil }
        let tcp = optional(fields.optional("minTcpThroughputGbps")) {
            throughput($0, totalPortSpeedGbps: totalPortSpeedGbps)
        }
        let udp = optional(fields.optional("minUdpThroughputGbps")) {
            throughput($0, totalPortSpeedGbps: totalPortSpeedGbps)
        }
        let latency = optional(fields.optional("maxTcpLatencyP99us"), yaml.positiveNumber)
        let mtu = optional(fields.optional("mtu")) {
            yaml.integer($0, in: Profile.NetworkRequirements.mtuRange, note: "bytes of IP packet, as `ip link` shows the MTU")
        }
        let spread = optional(fields.optional("maxVfThroughputSpreadPercent"), yaml.positiveNumber)
        guard let tcp, let udp, let latency, let mtu, let spread else { return nil }
        return Profile.NetworkRequirements(
            minTcpThroughputGbps: tcp, minUdpThroughputGbps: udp, maxTcpLatencyP99us: latency, mtu: mtu,
            maxVfThroughputSpreadPercent: spread)
    }

    private func storage(_ value: YAMLValue, facts: PCIFacts?) -> Profile.StorageRequirements? {
        let keys = ["minSeqReadMiBps", "minSeqWriteMiBps", "minRandReadIOPS", "maxReadLatencyP99us", "minRandWriteIOPS",
                    "maxWriteLatencyP99us", "minCapacityMiB", "logicalBlockSize"]
        guard let fields = thresholdFields(value, keys: keys, extraKeys: ["queueDepth", "destructive"], suite: "storage",
                                           role: .storage, facts: facts)
        else { return nil }
        let read = optional(fields.optional("minSeqReadMiBps"), yaml.positiveNumber)
        let write = optional(fields.optional("minSeqWriteMiBps"), yaml.positiveNumber)
        let iops = optional(fields.optional("minRandReadIOPS")) { yaml.integer($0, in: 1...100_000_000) }
        let latency = optional(fields.optional("maxReadLatencyP99us"), yaml.positiveNumber)
        let writeIOPS = optional(fields.optional("minRandWriteIOPS")) { yaml.integer($0, in: 1...100_000_000) }
        let writeLatency = optional(fields.optional("maxWriteLatencyP99us"), yaml.positiveNumber)
        let capacity = optional(fields.optional("minCapacityMiB")) { yaml.integer($0, in: 1...(1 << 30), note: "MiB") }
        let blockSize = optional(fields.optional("logicalBlockSize")) { yaml.integer($0, oneOf: [512, 4096], unit: "bytes") }
        let queueDepth = defaulted(fields.optional("queueDepth"), Profile.StorageRequirements.defaultQueueDepth) {
            yaml.integer($0, in: 1...1024)
        }
        let destructive = defaulted(fields.optional("destructive"), false) { yaml.boolean($0) }
        guard let read, let write, let iops, let latency, let writeIOPS, let writeLatency, let capacity, let blockSize,
              let queueDepth, let destructive else { return nil }
        return Profile.StorageRequirements(
            minSeqReadMiBps: read, minSeqWriteMiBps: write, minRandReadIOPS: iops, maxReadLatencyP99us: latency,
            minRandWriteIOPS: writeIOPS, maxWriteLatencyP99us: writeLatency, minCapacityMiB: capacity,
            logicalBlockSize: blockSize, queueDepth: queueDepth, destructive: destructive)
    }

    private func rdma(_ value: YAMLValue, facts: PCIFacts?, totalPortSpeedGbps: Int?) -> Profile.RDMARequirements? {
        let keys = ["minWriteBandwidthGbps", "minReadBandwidthGbps", "maxSendLatencyP99us", "maxWriteLatencyP99us"]
        guard let fields = thresholdFields(
            value, keys: keys, extraKeys: ["messageSizes"], suite: "RDMA", role: .network, facts: facts)
        else { return nil }
        let writeBandwidth = optional(fields.optional("minWriteBandwidthGbps")) {
            throughput($0, totalPortSpeedGbps: totalPortSpeedGbps)
        }
        let readBandwidth = optional(fields.optional("minReadBandwidthGbps")) {
            throughput($0, totalPortSpeedGbps: totalPortSpeedGbps)
        }
        let sendLatency = optional(fields.optional("maxSendLatencyP99us"), yaml.positiveNumber)
        let writeLatency = optional(fields.optional("maxWriteLatencyP99us"), yaml.positiveNumber)
        let messageSizes = defaulted(fields.optional("messageSizes"), Profile.RDMARequirements.defaultMessageSizes) {
            yaml.elements(
                of: $0, nonEmpty: true, read: { yaml.integer($0, in: 1...(8 << 20), note: "bytes, at most 8 MiB") },
                identity: { $0 }, duplicate: { "duplicate message size \($0)" })
        }
        guard let writeBandwidth, let readBandwidth, let sendLatency, let writeLatency, let messageSizes else { return nil }
        return Profile.RDMARequirements(
            minWriteBandwidthGbps: writeBandwidth, minReadBandwidthGbps: readBandwidth, maxSendLatencyP99us: sendLatency,
            maxWriteLatencyP99us: writeLatency, messageSizes: messageSizes.sorted())
    }

    /// A suite's section: known keys, at least one threshold, and a function to run the suite on.
    private func thresholdFields(
        _ value: YAMLValue, keys: [String], extraKeys: [String] = [], suite: String, role: Profile.FunctionRole,
        facts: PCIFacts?
    ) -> YAMLFields? {
        guard let fields = yaml.fields(of: value, allowed: keys + extraKeys) else { return nil }
        guard keys.contains(where: { fields.optional($0) != nil }) else {
            yaml.report("expected at least one threshold: \(listing(keys))", at: value)
            return nil
        }
        if let facts, !facts.roles.contains(role) {
            yaml.report(
                "the \(suite) suite needs a function with role '\(role.rawValue)' in pci.functions, and there is none",
                at: value)
            return nil
        }
        return fields
    }

    private func throughput(_ value: YAMLValue, totalPortSpeedGbps: Int?) -> Double? {
        guard let gbps = yaml.positiveNumber(value) else { return nil }
        if let totalPortSpeedGbps, gbps > Double(totalPortSpeedGbps) {
            yaml.report(
                "\(formatNumber(gbps)) Gbit/s exceeds the card's total port speed of \(totalPortSpeedGbps) Gbit/s",
                at: value)
            return nil
        }
        return gbps
    }

    // MARK: Isolation

    private func isolation(_ value: YAMLValue, managementMode: Profile.ManagementMode??) -> Profile.Isolation? {
        let keys = ["management", "allowlist", "hostManagementChannel"]
        guard let fields = yaml.fields(of: value, allowed: keys) else { return nil }
        let management = fields.required("management").flatMap(managementPlane)
        let allowlist = defaulted(fields.optional("allowlist"), []) {
            yaml.elements(
                of: $0, read: allowedService, identity: { ServiceKey(transport: $0.transport, port: $0.port) },
                duplicate: { "duplicate allowlist entry for \($0.transport.rawValue) port \($0.port)" })
        }
        let channel = optional(fields.optional("hostManagementChannel")) {
            hostManagementChannel($0, managementMode: managementMode)
        }
        guard let management, let allowlist, let channel else { return nil }
        return Profile.Isolation(management: management, allowlist: allowlist, hostManagementChannel: channel)
    }

    private struct ServiceKey: Hashable {
        let transport: Profile.TransportProtocol
        let port: Int
    }

    private func managementPlane(_ value: YAMLValue) -> Profile.ManagementPlane? {
        guard let fields = yaml.fields(of: value, allowed: ["ipv4", "ipv6", "tcpPorts", "udpPorts"]) else { return nil }
        let ipv4 = defaulted(fields.optional("ipv4"), []) { addresses($0, read: managementIPv4) }
        let ipv6 = defaulted(fields.optional("ipv6"), []) { addresses($0, read: managementIPv6) }
        let tcpPorts = defaulted(fields.optional("tcpPorts"), []) { portNumbers($0) }
        let udpPorts = defaulted(fields.optional("udpPorts"), []) { portNumbers($0) }
        guard let ipv4, let ipv6, let tcpPorts, let udpPorts else { return nil }
        guard !ipv4.isEmpty || !ipv6.isEmpty else {
            yaml.report("expected at least one management address in ipv4 or ipv6", at: value)
            return nil
        }
        return Profile.ManagementPlane(ipv4: ipv4, ipv6: ipv6, tcpPorts: tcpPorts, udpPorts: udpPorts)
    }

    private func addresses<Address: Hashable & CustomStringConvertible>(
        _ value: YAMLValue, read: (YAMLValue) -> Address?
    ) -> [Address]? {
        yaml.elements(of: value, read: read, identity: { $0 }, duplicate: { "duplicate address \($0)" })
    }

    private func portNumbers(_ value: YAMLValue) -> [Int]? {
        yaml.elements(
            of: value, read: { yaml.integer($0, in: 1...65535) }, identity: { $0 },
            duplicate: { "duplicate port \($0)" })
    }

    /// Any unicast address: the real card's management network is the lab's business.
    private func managementIPv4(_ value: YAMLValue) -> Profile.IPv4Address? {
        guard let address = ipv4(value) else { return nil }
        let excluded: [(network: String, length: Int, kind: String)] = [
            ("0.0.0.0", 8, "a 'this network' address"), ("127.0.0.0", 8, "a loopback address"),
            ("224.0.0.0", 4, "a multicast address"), ("240.0.0.0", 4, "a reserved or broadcast address"),
        ]
        for range in excluded {
            if let network = Profile.IPv4Address(range.network), address.isWithin(network, prefixLength: range.length) {
                yaml.report("\(address) is \(range.kind); a management address must be unicast", at: value)
                return nil
            }
        }
        return address
    }

    private func managementIPv6(_ value: YAMLValue) -> Profile.IPv6Address? {
        guard let address = ipv6(value) else { return nil }
        let excluded: [(network: String, length: Int, kind: String)] = [
            ("::", 128, "the unspecified address"), ("::1", 128, "the loopback address"),
            ("ff00::", 8, "a multicast address"),
        ]
        for range in excluded {
            if let network = Profile.IPv6Address(range.network), address.isWithin(network, prefixLength: range.length) {
                yaml.report("\(address) is \(range.kind); a management address must be unicast", at: value)
                return nil
            }
        }
        return address
    }

    private func ipv4(_ value: YAMLValue) -> Profile.IPv4Address? {
        yaml.parsed(value, expectation: "an IPv4 address like \"192.0.2.1\"", parse: Profile.IPv4Address.init)
    }

    private func ipv6(_ value: YAMLValue) -> Profile.IPv6Address? {
        if let text = ScalarText(value.node)?.text, text.contains("%") {
            yaml.report("expected an IPv6 address without a zone index, found \(quoted(text))", at: value)
            return nil
        }
        return yaml.parsed(value, expectation: "an IPv6 address like \"2001:db8::1\"", parse: Profile.IPv6Address.init)
    }

    private func allowedService(_ value: YAMLValue) -> Profile.AllowedService? {
        guard let fields = yaml.fields(of: value, allowed: ["protocol", "port", "name"]) else { return nil }
        let transport = fields.required("protocol").flatMap { yaml.choice($0, Profile.TransportProtocol.self) }
        let port = fields.required("port").flatMap { yaml.integer($0, in: 1...65535) }
        let name = fields.required("name").flatMap { yaml.dashedName($0) }
        guard let transport, let port, let name else { return nil }
        return Profile.AllowedService(transport: transport, port: port, name: name)
    }

    /// The channel is open to the host exactly when the card's management mode lets the host
    /// manage it, so where the profile declares that mode the channel must agree with it.
    private func hostManagementChannel(
        _ value: YAMLValue, managementMode: Profile.ManagementMode??
    ) -> Profile.HostManagementChannel? {
        guard let fields = yaml.fields(of: value, allowed: ["interface", "mode"]) else { return nil }
        let interface = fields.required("interface").flatMap(interfaceName)
        let modeValue = fields.required("mode")
        let mode = modeValue.flatMap { yaml.choice($0, Profile.ManagementMode.self) }
        guard let interface, let mode, let modeValue else { return nil }
        if case .some(.some(let declared)) = managementMode, mode != declared {
            yaml.report(
                "mode '\(mode.rawValue)' contradicts the card's managementMode '\(declared.rawValue)'", at: modeValue)
            return nil
        }
        return Profile.HostManagementChannel(interface: interface, mode: mode)
    }

    /// What Linux accepts as a network interface name (`dev_valid_name`).
    private func interfaceName(_ value: YAMLValue) -> String? {
        guard let name = yaml.text(value, maxLength: 15) else { return nil }
        guard name != ".", name != "..", !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) else {
            yaml.report("expected a Linux interface name (no '/', ':' or spaces), found \(quoted(name))", at: value)
            return nil
        }
        return name
    }

    // MARK: Emulation

    private func emulation(
        _ value: YAMLValue, facts: PCIFacts?, isolation: Profile.Isolation??
    ) -> Profile.Emulation? {
        let keys = ["pciAddress", "numaNode", "preEnabledVFs", "iommuGroupBase", "storageBackingMiB", "lab"]
        guard let fields = yaml.fields(of: value, allowed: keys) else { return nil }
        let address = fields.required("pciAddress").flatMap {
            yaml.parsed(
                $0, expectation: "a PCI address DDDD:BB:DD.F with device 00-1f and function 0-7, like \"0000:03:00.0\"",
                parse: Profile.PCIAddress.init)
        }
        let numaNode = defaulted(fields.optional("numaNode"), 0) {
            yaml.integer($0, in: -1...1023, note: "-1 means no NUMA affinity")
        }
        let preEnabledVFs = defaulted(fields.optional("preEnabledVFs"), 0) { self.preEnabledVFs($0, facts: facts) }
        let iommuGroupBase = defaulted(fields.optional("iommuGroupBase"), 0) { yaml.integer($0, in: 0...65535) }
        let storageBacking = defaulted(fields.optional("storageBackingMiB"), 256) {
            yaml.integer($0, in: 1...65536, note: "MiB, at most 64 GiB")
        }
        let lab = optional(fields.optional("lab")) { emulatedLab($0, isolation: isolation) }
        if case .some(.some(_)) = isolation, fields.optional("lab") == nil {
            yaml.report(
                "missing required key 'lab': the isolation suite needs management addresses in the lab", at: value)
            return nil
        }
        guard let address, let numaNode, let preEnabledVFs, let iommuGroupBase, let storageBacking, let lab
        else { return nil }
        return Profile.Emulation(
            pciAddress: address, numaNode: numaNode, preEnabledVFs: preEnabledVFs, iommuGroupBase: iommuGroupBase,
            storageBackingMiB: storageBacking, lab: lab)
    }

    private func preEnabledVFs(_ value: YAMLValue, facts: PCIFacts?) -> Int? {
        guard let count = yaml.integer(value, in: 0...65535) else { return nil }
        guard count > 0, let facts else { return count }
        guard let smallest = facts.smallestSRIOV else {
            yaml.report("no function in pci.functions has an sriov section, so no VFs can be pre-enabled", at: value)
            return nil
        }
        guard count <= smallest.minTotalVFs else {
            yaml.report(
                "preEnabledVFs \(count) exceeds minTotalVFs \(smallest.minTotalVFs) of function '\(smallest.name)'",
                at: value)
            return nil
        }
        return count
    }

    private func emulatedLab(_ value: YAMLValue, isolation: Profile.Isolation??) -> Profile.EmulatedLab? {
        guard let fields = yaml.fields(of: value, allowed: ["managementIPv4", "managementIPv6"]) else { return nil }
        let ipv4 = defaulted(fields.optional("managementIPv4"), []) { addresses($0, read: labIPv4) }
        let ipv6 = defaulted(fields.optional("managementIPv6"), []) { addresses($0, read: labIPv6) }
        guard let ipv4, let ipv6 else { return nil }
        guard !ipv4.isEmpty || !ipv6.isEmpty else {
            yaml.report("expected at least one management address in managementIPv4 or managementIPv6", at: value)
            return nil
        }
        if case .some(.some(let isolation)) = isolation {
            var mirrored = true
            if !isolation.management.ipv4.isEmpty, ipv4.isEmpty {
                yaml.report("isolation.management lists IPv4 addresses, so the lab needs managementIPv4 too", at: value)
                mirrored = false
            }
            if !isolation.management.ipv6.isEmpty, ipv6.isEmpty {
                yaml.report("isolation.management lists IPv6 addresses, so the lab needs managementIPv6 too", at: value)
                mirrored = false
            }
            guard mirrored else { return nil }
        }
        return Profile.EmulatedLab(managementIPv4: ipv4, managementIPv6: ipv6)
    }

    private func labIPv4(_ value: YAMLValue) -> Profile.IPv4Address? {
        guard let address = ipv4(value) else { return nil }
        guard let network = Profile.IPv4Address("198.18.0.0"), address.isWithin(network, prefixLength: 15) else {
            yaml.report("\(address) is outside 198.18.0.0/15, the only IPv4 range the emulated lab may use", at: value)
            return nil
        }
        return address
    }

    private func labIPv6(_ value: YAMLValue) -> Profile.IPv6Address? {
        guard let address = ipv6(value) else { return nil }
        let allowed = [("2001:db8::", 32), ("fe80::", 10)]
        guard allowed.contains(where: { network, length in
            Profile.IPv6Address(network).map { address.isWithin($0, prefixLength: length) } ?? false
        }) else {
            yaml.report(
                "\(address) is outside 2001:db8::/32 and fe80::/10, the only IPv6 ranges the emulated lab may use",
                at: value)
            return nil
        }
        return address
    }
}

/// Absent: `.some(nil)`. Present and valid: the value. Present and invalid: nil (already reported).
func optional<Value>(_ value: YAMLValue?, _ read: (YAMLValue) -> Value?) -> Value?? {
    guard let value else { return .some(nil) }
    return read(value).map { .some($0) }
}

/// Absent: `fallback`. Present: whatever `read` makes of it.
func defaulted<Value>(_ value: YAMLValue?, _ fallback: Value, _ read: (YAMLValue) -> Value?) -> Value? {
    guard let value else { return fallback }
    return read(value)
}
