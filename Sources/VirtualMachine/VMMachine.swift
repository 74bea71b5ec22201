import Foundation
import Profiles

/// The PCI devices QEMU 7.2 can put on a q35 machine for a profile: NVMe controllers
/// (the only model with SR-IOV there) and virtio-net NICs, each behind its own PCIe root
/// port, plus the control NIC. A profile function QEMU cannot present is refused, never
/// faked with another device's identity.
public struct VMMachine: Sendable, Hashable, Codable {
    /// A device model QEMU presents, with the identity the guest's PCI bus shows for it.
    public struct DeviceModel: Sendable, Hashable, Codable {
        public var qemuDevice: String
        public var vendor: UInt16
        public var device: UInt16
        public var role: Profile.FunctionRole
    }

    /// QEMU's NVMe controller (PCI_DEVICE_ID_REDHAT_NVME); its VFs carry the same id.
    public static let nvme = DeviceModel(qemuDevice: "nvme", vendor: 0x1b36, device: 0x0010, role: .storage)
    /// A modern-only virtio-net function, as QEMU makes it behind a PCIe port.
    public static let virtioNet = DeviceModel(qemuDevice: "virtio-net-pci", vendor: 0x1af4, device: 0x1041, role: .network)
    public static let presentable = [nvme, virtioNet]

    public struct NVMeController: Sendable, Hashable, Codable {
        /// The profile function it stands for.
        public var function: String
        public var serial: String
        /// `sriov_max_vfs`; nil for a controller without SR-IOV.
        public var maxVFs: Int?
        public var namespaceMiB: Int
    }

    public struct NetworkFunction: Sendable, Hashable, Codable {
        public var function: String
        public var mac: String
    }

    public var profileID: String
    public var controllers: [NVMeController]
    public var networkFunctions: [NetworkFunction]
    public var memoryMiB: Int
    public var cpus: Int

    /// The machine for `profile`, with `faults` applied. Throws `unpresentable` when a
    /// function the profile expects is no device QEMU has.
    public static func forProfile(_ profile: Profile, faults: [VMFault] = []) throws(VMError) -> VMMachine {
        let expected = profile.expectedFunctions.map { function in
            (function, presentable.first { $0.vendor == function.match.vendor.value && $0.device == function.match.device.value })
        }
        let unpresentable = expected.filter { $0.1 == nil }.map(\.0)
        guard unpresentable.isEmpty else {
            throw .unpresentable(profile: profile.id, functions: unpresentable.map { "\($0.name) (\($0.match.vendor):\($0.match.device))" })
        }
        let namespaceMiB = profile.emulation?.storageBackingMiB ?? 64
        var controllers: [NVMeController] = []
        var networkFunctions: [NetworkFunction] = []
        for case let (function, model?) in expected {
            for _ in 0..<function.count {
                if model == nvme {
                    controllers.append(NVMeController(function: function.name, serial: "dpucert\(controllers.count)",
                                                      maxVFs: function.sriov?.minTotalVFs, namespaceMiB: namespaceMiB))
                } else {
                    networkFunctions.append(NetworkFunction(function: function.name, mac: Self.mac(2 + networkFunctions.count)))
                }
            }
        }
        var machine = VMMachine(profileID: profile.id, controllers: controllers, networkFunctions: networkFunctions,
                                memoryMiB: 2048, cpus: 2)
        for fault in faults { try machine.apply(fault) }
        return machine
    }

    /// Locally administered addresses 52:54:00:d0:00:NN (QEMU's prefix); 1 is the control NIC.
    static func mac(_ index: Int) -> String {
        String(format: "52:54:00:d0:00:%02x", index)
    }

    public static let controlMAC = mac(1)

    mutating func apply(_ fault: VMFault) throws(VMError) {
        switch fault {
        case .vfShortfall:
            guard let index = controllers.firstIndex(where: { ($0.maxVFs ?? 0) > 0 }), let total = controllers[index].maxVFs else {
                throw .faultNotApplicable(fault: fault.name, reason: "the profile has no NVMe function with SR-IOV")
            }
            controllers[index].maxVFs = total - 1
        case .missingFunction:
            if !networkFunctions.isEmpty {
                networkFunctions.removeLast()
            } else if !controllers.isEmpty {
                controllers.removeLast()
            } else {
                throw .faultNotApplicable(fault: fault.name, reason: "the machine has no function to leave out")
            }
        case .rdmaIgnoreAccessFlags, .rdmaCorruption, .rdmaSharedPD, .rdmaPortDown, .rdmaSlow:
            // Faults of the guest's RDMA wire and responder (GuestRDMAWire, the boot script), not of the machine.
            break
        }
    }
}
