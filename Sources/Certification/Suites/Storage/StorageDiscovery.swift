import Inventory
import Profiles
import Reports

/// `storage.discovery`: from each storage function of the profile to its block device
/// (PCI function → NVMe controller or virtio device → `block/…`), with the size and
/// logical block size the profile asks for. The device's queue, cache and identity are
/// recorded.
struct StorageDiscovery: CertificationTest {
    let id = "storage.discovery"
    let title = "Every storage function shows the host its block device, of the size and block size required"
    let requirement = "storage.devices, storage.minCapacityMiB, storage.logicalBlockSize"
    let function: Profile.PCIFunction
    let requirements: Profile.StorageRequirements
    var runsConcurrently: Bool { false }

    func covers(_ profile: Profile) -> [String] {
        ["storage.devices"] + (requirements.minCapacityMiB != nil ? ["storage.minCapacityMiB"] : [])
            + (requirements.logicalBlockSize != nil ? ["storage.logicalBlockSize"] : [])
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        // A bus dump shows functions but no block layer: nothing here could be found missing.
        guard BlockDeviceReader(source: context.pci.bus.source) != nil else {
            return TestOutcome(status: .error, message: "nothing to examine: \(context.pci.bus.source) describes no block devices")
        }
        let found = StorageDevices.find(context)
        let functions = context.profile.matched(in: context.pci.baseline).filter { $0.specification.role == .storage }
            .flatMap(\.functions).filter { !$0.isVirtualFunction }
        var checks = found.missing.map { Check($0, expected: "a block device", observed: "none", holds: false) }
        var measurements: [MeasuredValue] = []
        for (index, target) in found.targets.enumerated() {
            let device = target.device
            measurements.append(MeasuredValue(name: target.measurement("capacity", first: index == 0), value: rounded(device.sizeMiB),
                                              unit: "MiB", threshold: requirements.minCapacityMiB.map { Threshold(.greaterThanOrEqual, Double($0)) }))
            if let size = requirements.logicalBlockSize {
                checks.append(Check("\(device.name) logical block size", expected: "\(size) bytes",
                                    observed: "\(device.logicalBlockSize) bytes", holds: device.logicalBlockSize == size))
            }
        }
        return .judged(checks, measurements: measurements, evidence: found.evidence,
                       examined: Examined(functions.count, "PCI functions of the profile's storage role", as: "functions_examined"),
                       passMessage: found.targets.map { "\($0.device.name) \(number(rounded($0.device.sizeMiB))) MiB, "
                           + "\($0.device.logicalBlockSize)-byte blocks" }.joined(separator: "; "))
    }
}
