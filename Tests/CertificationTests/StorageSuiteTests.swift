import Emulator
import Foundation
import Inventory
import Profiles
import Reports
import Systems
import Testing
@testable import Certification

/// An emulated card whose namespace node is a plain sparse file on a real file system
/// (O_DIRECT needs one), with the storage suite's context.
final class EmulatedStorageFixture {
    let root: String
    let backing: String
    let context: TestContext

    init(profile: Profile, prepare: (String) throws -> Void = { _ in }) throws {
        let id = UUID().uuidString
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-storage-\(id)").path
        let backing = "/var/tmp/dpucert-storage-\(id).img"
        self.backing = backing
        let card = try EmulatedCard(profile: profile)
        let size = try #require(card.blockDevices.first).sizeBytes
        #expect(FileManager.default.createFile(atPath: backing, contents: nil))
        try FileHandle(forWritingTo: URL(fileURLWithPath: backing)).truncate(atOffset: size)
        try prepare(backing)
        _ = try EmulatedSysfsTree.write([card.withBlockDeviceNodes { _ in backing }], to: root)
        let bus = LibPCIBus(source: .sysfs(root: root))
        context = TestContext(profile: profile, pci: PCIEnvironment(bus: bus, sriovControl: nil,
                                                                    baseline: try InventoryReader(bus: bus).read()))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: backing)
    }

    func run(only ids: Set<String>? = nil) -> [String: TestResult] {
        let tests = StorageSuite.tests(for: context.profile).filter { ids?.contains($0.id) ?? true }
        let results = TestRunner(tests: tests).run(context: context, observer: RecordingObserver()).results
        return Dictionary(uniqueKeysWithValues: results.map { ($0.id, $0) })
    }
}

/// The default profile's text with `edit` applied, loaded.
func editedProfile(_ edit: (String) -> String) throws -> Profile {
    let text = try String(contentsOfFile: repositoryRoot + "/profiles/emulated-smartnic.yaml", encoding: .utf8)
    return try ProfileLoader.load(yaml: edit(text), file: "edited.yaml")
}

@Suite("Storage suite on an emulated namespace", .serialized)
struct StorageSuiteTests {
    @Test("the emulated namespace is discovered from the PCI function to its block device, and every storage check passes on it")
    func clean() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedStorageFixture(profile: profile)
        let results = fixture.run()
        #expect(Set(results.keys) == ["storage.discovery", "storage.seq-read", "storage.seq-write", "storage.rand-read",
                                      "storage.integrity", "storage.flush"])
        for result in results.values {
            #expect(result.status == .passed, "\(result.id): \(result.message)")
        }
        let discovery = try #require(results["storage.discovery"])
        #expect(discovery.evidence.contains { $0.contains("nvme0n1") && $0.contains("268435456 bytes") })
        let read = try #require(results["storage.seq-read"])
        #expect(read.measurements.contains { $0.name == "seq_read_throughput" && $0.unit == "MiB/s" && $0.threshold != nil })
        #expect(read.evidence.contains { $0.hasPrefix("the same job with fio: fio ") })
        #expect(!read.series.isEmpty)
        let random = try #require(results["storage.rand-read"])
        #expect(random.measurements.contains { $0.name == "rand_read_latency_p99" && $0.unit == "us" && $0.threshold != nil })
        #expect(random.measurements.contains { $0.name == "rand_read_iops" && $0.unit == "IOPS" })
    }

    @Test("without destructive: true and with no file system to hold a scratch file, write checks are errors that say why; reads still run")
    func notDestructive() throws {
        let profile = try editedProfile { $0.replacingOccurrences(of: "  destructive: true", with: "  destructive: false") }
        let fixture = try EmulatedStorageFixture(profile: profile)
        let results = fixture.run()
        for id in ["storage.seq-write", "storage.integrity", "storage.flush"] {
            let result = try #require(results[id])
            #expect(result.status == .error && result.message.contains("is not marked `destructive: true`"), "\(id): \(result.message)")
        }
        #expect(results["storage.seq-read"]?.status == .passed)
    }

    @Test("a device that carries a file system is never written, destructive or not")
    func holdsFileSystem() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedStorageFixture(profile: profile) { backing in
            // An ext4 superblock's magic at byte 1080.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: backing))
            try handle.seek(toOffset: 1080)
            try handle.write(contentsOf: Data([0x53, 0xef]))
            try handle.close()
        }
        let results = fixture.run(only: ["storage.seq-write", "storage.integrity"])
        for result in results.values {
            #expect(result.status == .error && result.message.contains("holds a ext4 signature"), "\(result.id): \(result.message)")
        }
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: fixture.backing)).read(upToCount: 2048) ?? Data()
        #expect(head.count == 2048 && head[1080] == 0x53 && head.prefix(1024).allSatisfy { $0 == 0 })
    }

    @Test("a bus dump shows the storage function but no block layer: discovery is an error, never a pass")
    func dumpHasNoBlockDevices() throws {
        let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
        let fixture = try EmulatedStorageFixture(profile: profile)
        let dump = fixture.root + ".dump"
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let text = try CommandRunner.run(["lspci", "-A", "linux-sysfs", "-O", "sysfs.path=\(fixture.root)", "-xxxx"]).standardOutput
        try Data(text.utf8).write(to: URL(fileURLWithPath: dump))
        let bus = LibPCIBus(source: .dump(path: dump))
        let context = TestContext(profile: profile, pci: PCIEnvironment(bus: bus, sriovControl: nil,
                                                                        baseline: try InventoryReader(bus: bus).read()))
        let discovery = try StorageDiscovery(function: #require(profile.function(role: .storage)), requirements: #require(profile.storage))
            .run(context).withEvidenceRule()
        #expect(discovery.status == .error && discovery.message.contains("describes no block devices"), "\(discovery.message)")
    }

    @Test("the block layer's description of the emulated namespace is read as the kernel's would be")
    func blockDeviceAttributes() throws {
        let profile = try editedProfile { $0.replacingOccurrences(of: "  destructive: true", with: "  destructive: true\n  logicalBlockSize: 4096") }
        let fixture = try EmulatedStorageFixture(profile: profile)
        let reader = try #require(BlockDeviceReader(source: .sysfs(root: fixture.root)))
        let device = try #require(reader.read("nvme0n1"))
        #expect(device.sizeBytes == 256 << 20 && device.logicalBlockSize == 4096 && !device.rotational)
        #expect(device.model == profile.model && device.writeCache == "write back" && device.node.hasSuffix("/dev/nvme0n1"))
        #expect(BlockDeviceUsage.of(device, reader: reader).holdsData == false)
        let function = try #require(fixture.context.pci.baseline.functions.first { $0.blockDevices == ["nvme0n1"] })
        #expect(function.classCode == 0x010802)
    }
}
