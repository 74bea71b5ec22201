import Foundation
import Inventory
import Probes
import Profiles
import Reports

/// The storage suite: the profile's storage functions as the host sees them, through
/// their block devices. Discovery first (every function has its device, of the size and
/// block size asked for), then sequential and random performance, then the data itself:
/// a verifiable pattern that must read back intact, and writes that must survive a
/// flush. Reads go to the device; writes only where `StorageWritePlace` allows.
public enum StorageSuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        guard let storage = profile.storage, let function = profile.function(role: .storage),
              function.isPresent(in: profile.managementMode) else { return [] }
        var tests: [any CertificationTest] = [StorageDiscovery(function: function, requirements: storage)]
        if let minimum = storage.minSeqReadMiBps {
            tests.append(StorageSequential(direction: .read, minimumMiBps: minimum, queueDepth: storage.queueDepth))
        }
        if let minimum = storage.minSeqWriteMiBps {
            tests.append(StorageSequential(direction: .write, minimumMiBps: minimum, queueDepth: storage.queueDepth))
        }
        if storage.minRandReadIOPS != nil || storage.maxReadLatencyP99us != nil {
            tests.append(StorageRandom(direction: .read, minimumIOPS: storage.minRandReadIOPS, maximumP99: storage.maxReadLatencyP99us))
        }
        if storage.minRandWriteIOPS != nil || storage.maxWriteLatencyP99us != nil {
            tests.append(StorageRandom(direction: .write, minimumIOPS: storage.minRandWriteIOPS,
                                       maximumP99: storage.maxWriteLatencyP99us))
        }
        return tests + [StorageIntegrity(), StorageFlush()]
    }
}

/// A storage function's block device as the suite uses it.
struct StorageTarget: Sendable, Hashable {
    var function: PCIAddress
    var device: BlockDevice

    /// `base` for the first device, `base_NAME` for the others: one measurement name per device.
    func measurement(_ base: String, first: Bool) -> String { first ? base : "\(base)_\(device.name)" }
}

/// The profile's storage devices in the run's inventory, and where a check may write.
enum StorageDevices {
    /// The block devices of the profile's storage PFs (VFs carry the PF's identity on some
    /// devices, QEMU's NVMe among them: the suite examines PFs), what is missing, and the
    /// evidence; nothing where the PCI source describes no block devices (a dump).
    static func find(_ context: TestContext) -> (targets: [StorageTarget], missing: [String], evidence: [String]) {
        guard let reader = BlockDeviceReader(source: context.pci.bus.source) else {
            return ([], [], ["\(context.pci.bus.source) describes no block devices"])
        }
        var targets: [StorageTarget] = []
        var missing: [String] = []
        var evidence: [String] = []
        for matched in context.profile.matched(in: context.pci.baseline) where matched.specification.role == .storage {
            for function in matched.functions where !function.isVirtualFunction {
                let devices = function.blockDevices.compactMap(reader.read)
                if devices.isEmpty {
                    missing.append("\(function.address) (\(matched.specification.name)) shows no block device"
                                   + (function.blockDevices.isEmpty ? "" : " the block layer describes (\(function.blockDevices.joined(separator: ", ")))"))
                }
                for device in devices {
                    targets.append(StorageTarget(function: function.address, device: device))
                    evidence.append("\(function.address) → \(device)")
                }
            }
        }
        return (targets, missing, evidence)
    }

    /// The devices a measurement check works on, or the outcome that says why there are none.
    static func measurable(_ context: TestContext) -> Result<[StorageTarget], StorageUnavailable> {
        let found = find(context)
        guard !found.targets.isEmpty else {
            return .failure(StorageUnavailable(outcome: TestOutcome(
                status: .error, message: "nothing to examine: no block device of the profile's storage functions"
                    + (found.missing.isEmpty ? "" : " (\(found.missing.joined(separator: "; ")))"),
                evidence: found.evidence, examined: Examined(0, "block devices of the storage functions", as: "devices_examined"))))
        }
        return .success(found.targets)
    }

    static func writePlace(_ target: StorageTarget, _ context: TestContext) -> StorageWritePlace {
        guard let reader = BlockDeviceReader(source: context.pci.bus.source) else {
            return .refused("\(context.pci.bus.source) has no device nodes")
        }
        return StorageWritePlace.of(target.device, destructive: context.profile.storage?.destructive ?? false, reader: reader)
    }
}

/// Why a storage check has nothing to work on, as its outcome.
struct StorageUnavailable: Error {
    var outcome: TestOutcome
}
