import Foundation
import Testing
@testable import Profiles

/// The repository's profiles/ folder, found from this file's place in the checkout.
let profilesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // ProfilesTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // repository root
    .appendingPathComponent("profiles")

func repositoryProfileFiles() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: profilesDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted()
}

func loadRepositoryProfile(_ name: String) throws -> Profile {
    try ProfileLoader.load(path: profilesDirectory.appendingPathComponent(name).path)
}

@Suite("Profiles in the repository")
struct RepositoryProfileTests {
    @Test("the expected profiles are there")
    func inventory() {
        #expect(
            repositoryProfileFiles() == [
                "amd-pensando-dsc2-200.yaml", "emulated-smartnic.yaml", "intel-ipu-e2100.yaml",
                "nvidia-bluefield-2-mbf2h516a.yaml", "nvidia-bluefield-3-b3220.yaml", "vm-smartnic.yaml",
            ])
    }

    @Test("loads without diagnostics, named after its id, and can be emulated", arguments: repositoryProfileFiles())
    func loads(file: String) throws {
        let path = profilesDirectory.appendingPathComponent(file).path
        #expect(ProfileLoader.validate(paths: [path]) == [])
        let profile = try loadRepositoryProfile(file)
        #expect("\(profile.id).yaml" == file)
        let emulation = try #require(profile.emulation)
        if profile.isolation != nil {
            #expect(emulation.lab != nil)
        }
        #expect(profile.function(role: .network) != nil)
    }

    @Test("the emulated SmartNIC is small and has every section")
    func emulatedSmartNIC() throws {
        let profile = try loadRepositoryProfile("emulated-smartnic.yaml")
        #expect(profile.ports.map(\.speedGbps) == [10, 10])
        let network = try #require(profile.function(role: .network))
        #expect(network.match.vendor == Profile.PCIID(0x15b3))
        #expect(network.match.device == Profile.PCIID(0xa2d6))
        #expect(network.count == 2)
        let sriov = try #require(network.sriov)
        #expect(sriov.minTotalVFs == 16)
        #expect(sriov.enableVFs == 4)
        #expect(sriov.vfDeviceID == Profile.PCIID(0x101e))
        #expect(profile.function(role: .storage)?.classCode?.description == "010802")
        #expect(profile.firmware != nil)
        let networkThresholds = try #require(profile.network)
        #expect(networkThresholds.minTcpThroughputGbps == 1)
        #expect(profile.storage?.minRandReadIOPS == 1000)
        #expect(profile.rdma?.messageSizes == [64, 4096, 65536])
        let isolation = try #require(profile.isolation)
        #expect(isolation.hostManagementChannel?.mode == .restricted)
        #expect(isolation.allowlist.map(\.port) == [7471])
        let lab = try #require(profile.emulation?.lab)
        #expect(lab.managementIPv4.map(\.description) == ["198.19.0.2"])
        #expect(lab.managementIPv6.map(\.description) == ["2001:db8:ff::2"])
    }

    @Test("real cards carry their pci.ids identities", arguments: [
        ("nvidia-bluefield-2-mbf2h516a.yaml", "15b3", "a2d6", "101e", Profile.LinkSpeed.gen4),
        ("nvidia-bluefield-3-b3220.yaml", "15b3", "a2dc", "101e", .gen5),
        ("amd-pensando-dsc2-200.yaml", "1dd8", "1002", "1003", .gen4),
        ("intel-ipu-e2100.yaml", "8086", "1452", "145c", .gen4),
    ])
    func identities(file: String, vendor: String, device: String, vfDevice: String, speed: Profile.LinkSpeed) throws {
        let network = try #require(try loadRepositoryProfile(file).function(role: .network))
        #expect(network.match.vendor.description == vendor)
        #expect(network.match.device.description == device)
        #expect(network.sriov?.vfDeviceID.description == vfDevice)
        #expect(network.link?.minSpeed == speed)
        #expect(network.link?.minWidth == 16)
    }

    @Test("each DPU names the management function its host sees, and the mode that decides it", arguments: [
        ("nvidia-bluefield-2-mbf2h516a.yaml", "c2d3", Profile.ManagementMode.restricted, false),
        ("nvidia-bluefield-3-b3220.yaml", "c2d5", .restricted, false),
        ("emulated-smartnic.yaml", "c2d3", .restricted, false),
        ("amd-pensando-dsc2-200.yaml", "1004", nil, true),
    ])
    func managementFunction(file: String, device: String, mode: Profile.ManagementMode?, expected: Bool) throws {
        let profile = try loadRepositoryProfile(file)
        let management = try #require(profile.function(role: .management))
        #expect(management.match.device.description == device)
        #expect(profile.managementMode == mode)
        #expect(profile.expectedFunctions.contains(management) == expected)
        #expect(profile.requirementPaths.contains("pci.functions[\(management.name)]") == expected)
    }

    @Test("profile ids are unique")
    func uniqueIDs() throws {
        let ids = try repositoryProfileFiles().map { try loadRepositoryProfile($0).id }
        #expect(Set(ids).count == ids.count)
    }

    @Test("a loaded profile survives a JSON round trip")
    func codableRoundTrip() throws {
        let profile = try loadRepositoryProfile("emulated-smartnic.yaml")
        let data = try JSONEncoder().encode(profile)
        #expect(try JSONDecoder().decode(Profile.self, from: data) == profile)
        let json = try #require(String(data: data, encoding: .utf8))
        #expect(json.contains("\"minSpeedGTs\":16"))
        #expect(json.contains("\"protocol\":\"tcp\""))
    }
}

@Suite("Validating files")
struct FileValidationTests {
    @Test("validate reports per file, in argument order, and nothing for valid files")
    func validateSeveralFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.yaml").path
        try "schemaVersion: one\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let valid = profilesDirectory.appendingPathComponent("emulated-smartnic.yaml").path
        let missing = directory.appendingPathComponent("missing.yaml").path

        let diagnostics = ProfileLoader.validate(paths: [missing, valid, broken, directory.path])

        #expect(diagnostics.map(\.file) == [missing] + Array(repeating: broken, count: 7) + [directory.path])
        #expect(diagnostics.first?.description == "\(missing): no such file")
        #expect(diagnostics[1].description.hasPrefix("\(broken):1:1: missing required key 'id'"))
        #expect(diagnostics.contains { $0.keyPath == "schemaVersion" && $0.message.contains("found \"one\"") })
        #expect(diagnostics.last?.message == "is a directory, expected a profile YAML file")
    }

    @Test("oversized and non-UTF-8 files are refused with a reason")
    func unreadableContent() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let large = directory.appendingPathComponent("large.yaml").path
        try Data(repeating: 0x23, count: ProfileLoader.maximumFileSize + 1).write(to: URL(fileURLWithPath: large))
        let binary = directory.appendingPathComponent("binary.yaml").path
        try Data([0xff, 0xfe, 0x00, 0xc3]).write(to: URL(fileURLWithPath: binary))

        #expect(ProfileLoader.validate(paths: [large]).map(\.message) == ["larger than 1048576 bytes; a profile is a page of YAML"])
        #expect(ProfileLoader.validate(paths: [binary]).map(\.message) == ["not UTF-8 text"])
    }
}
