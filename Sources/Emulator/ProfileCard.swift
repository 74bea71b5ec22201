import Inventory
import Profiles

/// The card a profile describes, as the emulator builds it: every profile function
/// `count` times, PFs at consecutive function numbers from `emulation.pciAddress`
/// (ARI), each PF's VFs packed after all PFs, the link trained at the profile's
/// minimum, capabilities as listed, and exactly the profile's minimum TotalVFs. The
/// functions the declared management mode keeps from the host are withheld; they take
/// the function numbers after the shown ones, so exposing them moves nothing else.
extension EmulatedCard {
    public init(profile: Profile) throws(EmulatorError) {
        guard let emulation = profile.emulation else {
            throw .invalidDescription(card: profile.id, field: "emulation", expected: "an emulation section",
                                      found: "none")
        }
        let start = emulation.pciAddress
        let shown = profile.expectedFunctions.flatMap { Array(repeating: $0, count: $0.count) }
        let withheld = profile.pci.functions.filter { !$0.isPresent(in: profile.managementMode) }
            .flatMap { Array(repeating: $0, count: $0.count) }
        let specifications = shown + withheld
        let physicalFunctionCount = specifications.count
        var functions: [EmulatedFunction] = []
        var nextVFSlot = physicalFunctionCount           // function numbers after all PFs
        var nextIOMMUGroup = emulation.iommuGroupBase + physicalFunctionCount
        var storageControllers = 0
        for (index, specification) in specifications.enumerated() {
            let address = EmulatedPCIAddress(domain: UInt32(start.domain), bus: start.bus,
                                             devfn: UInt8(truncatingIfNeeded: Int(start.device) << 3 + Int(start.function) + index))
            let capabilities = Set(specification.capabilities)
            let link = specification.link.map { requirement in
                EmulatedLink(maxSpeed: EmulatedLink.Speed(rawValue: requirement.minSpeed.rawValue) ?? .gt8,
                             maxWidth: requirement.minWidth)
            } ?? EmulatedLink(maxSpeed: .gt8, maxWidth: 8)
            let driver = Self.driver(vendor: specification.match.vendor.value, role: specification.role)
            let netdev = specification.role == .network ? "enp\(start.bus)s0f\(index)np\(index)" : nil
            var blockDevices: [EmulatedBlockDevice] = []
            if specification.role == .storage {
                let controller = "nvme\(storageControllers)"
                storageControllers += 1
                blockDevices.append(EmulatedBlockDevice(
                    controller: controller, name: controller + "n1", sizeBytes: UInt64(emulation.storageBackingMiB) << 20,
                    logicalBlockSize: profile.storage?.logicalBlockSize ?? 512, model: profile.model,
                    serial: hex(Self.serialNumber(profile: profile.id, index: index), width: 16),
                    firmware: profile.firmware.map { "\($0.minVersion)" } ?? "1.0"))
            }
            var sriov: EmulatedSRIOV?
            if let requirement = specification.sriov {
                let offset = requirement.firstVFOffset ?? (nextVFSlot - index)
                let stride = requirement.vfStride ?? 1
                sriov = EmulatedSRIOV(totalVFs: requirement.minTotalVFs, enabledVFs: emulation.preEnabledVFs,
                                      firstVFOffset: offset, vfStride: stride, vfDeviceID: requirement.vfDeviceID.value,
                                      ariCapableHierarchy: index == 0, vfDriver: driver,
                                      vfNetdevPrefix: netdev.map { $0 + "v" },
                                      vfIOMMUGroups: .sequential(first: nextIOMMUGroup))
                nextVFSlot += requirement.minTotalVFs * stride
                nextIOMMUGroup += requirement.minTotalVFs
            }
            var acs: EmulatedACS?
            if capabilities.contains(.acs) || specification.acs != nil {
                var controls: EmulatedACS.Controls = .isolation
                for control in specification.acs?.required ?? [] {
                    controls.insert(EmulatedACS.Controls(rawValue: 1 << UInt16(control.bit)))
                }
                acs = EmulatedACS(capability: controls, control: controls)
            }
            functions.append(EmulatedFunction(
                address: address,
                vendorID: specification.match.vendor.value,
                deviceID: specification.match.device.value,
                subsystemVendorID: specification.match.subsystemVendor?.value,
                subsystemDeviceID: specification.match.subsystemDevice?.value ?? 0,
                classCode: specification.classCode?.value ?? Self.classCode(role: specification.role),
                link: link,
                powerManagement: capabilities.contains(.powerManagement),
                vpd: capabilities.contains(.vpd)
                    ? EmulatedVPD(productName: profile.model, partNumber: profile.id,
                                  serialNumber: hex(Self.serialNumber(profile: profile.id, index: index), width: 16))
                    : nil,
                msix: capabilities.contains(.msix) || specification.msix != nil
                    ? EmulatedMSIX(tableSize: max(specification.msix?.minVectors ?? 64, 1)) : nil,
                aer: capabilities.contains(.aer) ? EmulatedAER() : nil,
                acs: acs,
                ari: capabilities.contains(.ari) || sriov != nil,
                sriov: sriov,
                serialNumber: capabilities.contains(.dsn) || specification.role == .network
                    ? Self.serialNumber(profile: profile.id, index: index) : nil,
                numaNode: emulation.numaNode,
                driver: driver,
                iommuGroup: emulation.iommuGroupBase + index,
                netdevs: netdev.map { [$0] } ?? [],
                blockDevices: blockDevices))
        }
        let firstLink = functions.first?.link ?? EmulatedLink(maxSpeed: .gt8, maxWidth: 8)
        let rootPort = EmulatedRootPort(
            address: EmulatedPCIAddress(domain: UInt32(start.domain), bus: 0, device: 1, function: 0),
            maxLinkSpeed: firstLink.maxSpeed, maxLinkWidth: firstLink.maxWidth, numaNode: emulation.numaNode,
            iommuGroup: max(0, emulation.iommuGroupBase - 1))
        self.init(id: profile.id, rootPort: rootPort, functions: Array(functions.prefix(shown.count)),
                  withheldFunctions: Array(functions.dropFirst(shown.count)))
    }

    /// The in-box Linux driver a real card of this vendor and role binds to.
    static func driver(vendor: UInt16, role: Profile.FunctionRole) -> String {
        switch (vendor, role) {
        case (_, .storage): "nvme"
        // The host's rshim daemon maps BlueField's SoC management interface through VFIO.
        case (0x15b3, .management): "vfio-pci"
        case (0x15b3, _): "mlx5_core"
        case (0x1dd8, _): "ionic"
        case (0x8086, _): "idpf"
        // Virtio functions (QEMU's, as the VM testbed presents them) bind to the virtio PCI transport.
        case (0x1af4, _): "virtio-pci"
        default: "dpucert-emulated"
        }
    }

    static func classCode(role: Profile.FunctionRole) -> UInt32 {
        switch role {
        case .network: 0x02_00_00
        case .storage: 0x01_08_02
        case .management: 0x08_80_00
        case .accelerator: 0x12_00_00
        case .other: 0xff_00_00
        }
    }

    /// A stable serial number per profile and function (FNV-1a of the profile id).
    static func serialNumber(profile: String, index: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in profile.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash &+ UInt64(index)
    }
}
