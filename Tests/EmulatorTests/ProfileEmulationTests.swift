import Foundation
import Inventory
import PCITestSupport
import Profiles
import TestGates
import Testing
@testable import Emulator

/// Every profile in `profiles/`, emulated and read back by dpucert and by lspci: both
/// must show exactly what the profile says.
@Suite("Profiles emulate to the cards they describe", .requires(.lspci))
struct ProfileEmulationTests {
    static let profiles: [String] = {
        let directory = repositoryRoot + "/profiles"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted().map { directory + "/" + $0 }
    }()

    @Test("the profiles folder holds the real cards and the emulated default")
    func profilesExist() {
        #expect(Self.profiles.count >= 5)
        #expect(Self.profiles.contains { $0.hasSuffix("/emulated-smartnic.yaml") })
    }

    @Test("dpucert and lspci read the emulated card as the profile describes it", arguments: profiles)
    func emulatedCardMatchesProfile(path: String) throws {
        let profile = try ProfileLoader.load(path: path)
        let directory = try TemporaryDirectory()
        let card = try EmulatedCard(profile: profile)
        _ = try EmulatedSysfsTree.write([card], to: directory.path)

        let inventory = try InventoryReader(source: .sysfs(root: directory.path)).read()
        let reference = try LspciReading.read(["-A", "linux-sysfs", "-O", "sysfs.path=\(directory.path)"])
        let problems = disagreements(inventory, reference)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        // A bridge's directory holds the functions behind it; their netdevs are not its own.
        let bridges = inventory.functions.filter { $0.headerType == 1 }
        #expect(!bridges.isEmpty && bridges.allSatisfy { $0.netdevs.isEmpty && $0.blockDevices.isEmpty })

        for specification in profile.expectedFunctions {
            let matching = inventory.functions.filter {
                !$0.isVirtualFunction && $0.vendorID == specification.match.vendor.value
                    && $0.deviceID == specification.match.device.value
            }
            #expect(matching.count == specification.count, "\(specification.name)")
            for function in matching {
                #expect(function.findings.isEmpty, "\(function.address): \(function.findings)")
                if let subsystem = specification.match.subsystemDevice {
                    #expect(function.subsystemDeviceID == subsystem.value)
                }
                if let classCode = specification.classCode {
                    #expect(function.classCode == classCode.value)
                }
                let names = Set(function.capabilityNames)
                for capability in specification.capabilities {
                    #expect(names.contains(capability.rawValue), "\(function.address) lacks \(capability.rawValue)")
                }
                if let link = specification.link {
                    #expect(function.link?.currentSpeedGTs == link.minSpeed.gigatransfersPerSecond)
                    #expect(function.link?.currentWidth == link.minWidth)
                }
                if let msix = specification.msix {
                    #expect((function.config.msix?.tableSize ?? 0) >= msix.minVectors)
                }
                if let required = specification.sriov {
                    let sriov = try #require(function.sriov, "\(function.address) has no SR-IOV capability")
                    #expect(sriov.totalVFs == required.minTotalVFs)
                    #expect(sriov.vfDeviceID == required.vfDeviceID.value)
                    let expected = profile.emulation?.preEnabledVFs ?? 0
                    #expect(sriov.numVFs == expected)
                    let vfs = inventory.functions.filter { $0.physicalFunction == function.address }
                    #expect(vfs.map(\.address) == sriov.vfAddresses(physicalFunction: function.address, count: expected))
                    #expect(vfs.allSatisfy { $0.deviceID == required.vfDeviceID.value })
                }
            }
        }
    }

    @Test("the functions the declared management mode withholds are not on the emulated card's bus",
          arguments: profiles)
    func withheldFunctionsAreAbsent(path: String) throws {
        let profile = try ProfileLoader.load(path: path)
        let card = try EmulatedCard(profile: profile)
        let withheld = profile.modeDependentFunctions.filter { !$0.isPresent(in: profile.managementMode) }
        #expect(card.withheldFunctions.count == withheld.reduce(0) { $0 + $1.count })
        for specification in withheld {
            #expect(!card.functions.contains { $0.vendorID == specification.match.vendor.value
                && $0.deviceID == specification.match.device.value }, "\(specification.name)")
        }
    }

    @Test("every VF the emulated card can enable has a routing ID of its own")
    func vfRoutingIDsDoNotCollide() throws {
        for path in Self.profiles {
            let card = try EmulatedCard(profile: ProfileLoader.load(path: path))
            // Withheld functions count too: a fault may expose them.
            let functions = card.functions + card.withheldFunctions
            var seen = Set(functions.map(\.address))
            for function in functions {
                for vf in function.virtualFunctions(enabled: function.sriov?.totalVFs ?? 0) {
                    #expect(seen.insert(vf.address).inserted, "\(path): \(vf.address) used twice")
                }
            }
        }
    }
}
