import Foundation
import Testing
@testable import Profiles

@Suite("Profile values")
struct ProfileValueTests {
    @Test("PCI IDs normalise to 4 lower-case digits", arguments: [
        ("15b3", "15b3"), ("15B3", "15b3"), ("0x15b3", "15b3"), ("0X00A1", "00a1"), ("1021", "1021"),
    ])
    func pciID(text: String, canonical: String) {
        #expect(Profile.PCIID(text)?.description == canonical)
    }

    @Test("malformed PCI IDs are refused", arguments: ["15b", "015b3", "0x", "lots", "-1b3", "15b3 ", ""])
    func malformedPCIID(text: String) {
        #expect(Profile.PCIID(text) == nil)
    }

    @Test("PCI addresses parse and render like sysfs names")
    func pciAddress() throws {
        let address = try #require(Profile.PCIAddress("0000:AF:1f.7"))
        #expect((address.domain, address.bus, address.device, address.function) == (0, 0xaf, 0x1f, 7))
        #expect(address.description == "0000:af:1f.7")
        for text in ["0000:03:20.0", "0000:03:00.8", "03:00.0", "0000:03:00", "00000:03:00.0", "0000:3:00.0"] {
            #expect(Profile.PCIAddress(text) == nil, "\(text)")
        }
    }

    @Test("a match without subsystem IDs accepts any subsystem")
    func deviceMatch() throws {
        let specific = try #require(
            try loadRepositoryProfile("amd-pensando-dsc2-200.yaml").function(role: .network)?.match)
        let pensando = Profile.PCIID(0x1dd8)
        let ethernet = Profile.PCIID(0x1002)
        #expect(specific.matches(
            vendor: pensando, device: ethernet, subsystemVendor: pensando, subsystemDevice: Profile.PCIID(0x5001)))
        #expect(!specific.matches(
            vendor: pensando, device: ethernet, subsystemVendor: pensando, subsystemDevice: Profile.PCIID(0x5003)))
        #expect(!specific.matches(vendor: pensando, device: ethernet, subsystemVendor: nil, subsystemDevice: nil))
        let anySubsystem = try #require(
            try loadRepositoryProfile("nvidia-bluefield-2-mbf2h516a.yaml").function(role: .network)?.match)
        #expect(anySubsystem.matches(
            vendor: Profile.PCIID(0x15b3), device: Profile.PCIID(0xa2d6), subsystemVendor: Profile.PCIID(0x15b3),
            subsystemDevice: Profile.PCIID(0x0061)))
        #expect(!anySubsystem.matches(
            vendor: Profile.PCIID(0x15b3), device: Profile.PCIID(0x101e), subsystemVendor: nil, subsystemDevice: nil))
    }

    @Test("link speeds map GT/s to the Link Status encoding")
    func linkSpeed() {
        #expect(Profile.LinkSpeed(gigatransfersPerSecond: 2.5) == .gen1)
        #expect(Profile.LinkSpeed(gigatransfersPerSecond: 16) == .gen4)
        #expect(Profile.LinkSpeed(gigatransfersPerSecond: 64)?.rawValue == 6)
        #expect(Profile.LinkSpeed(gigatransfersPerSecond: 7) == nil)
        #expect(Profile.LinkSpeed.gen1.description == "2.5 GT/s")
        #expect(Profile.LinkSpeed.gen5.description == "32 GT/s")
    }

    @Test("capability IDs are the config-space IDs")
    func capabilityIDs() {
        #expect(Profile.Capability.msix.id == 0x11 && !Profile.Capability.msix.isExtended)
        #expect(Profile.Capability.sriov.id == 0x10 && Profile.Capability.sriov.isExtended)
        #expect(Profile.Capability(rawValue: "secondary-pcie") == .secondaryPCIe)
        #expect(Profile.ACSControl.upstreamForwarding.bit == 4)
    }

    @Test("IPv6 addresses render in RFC 5952 form", arguments: [
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:1:0:0:0:2", "2001:db8:0:1::2"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::", "::"),
        ("fe80::21a:caff:feff:ff01", "fe80::21a:caff:feff:ff01"),
    ])
    func ipv6(text: String, canonical: String) {
        #expect(Profile.IPv6Address(text)?.description == canonical)
    }

    @Test("address ranges")
    func ranges() throws {
        let benchmark = try #require(Profile.IPv4Address("198.18.0.0"))
        #expect(try #require(Profile.IPv4Address("198.19.255.254")).isWithin(benchmark, prefixLength: 15))
        #expect(try #require(Profile.IPv4Address("198.20.0.1")).isWithin(benchmark, prefixLength: 15) == false)
        #expect(Profile.IPv4Address("010.0.0.1") == nil)
        let documentation = try #require(Profile.IPv6Address("2001:db8::"))
        #expect(try #require(Profile.IPv6Address("2001:db8:ffff::1")).isWithin(documentation, prefixLength: 32))
        #expect(try #require(Profile.IPv6Address("2001:db9::1")).isWithin(documentation, prefixLength: 32) == false)
    }

    @Test("firmware versions compare numerically, missing components count as 0")
    func firmwareVersions() throws {
        let baseline = try #require(Profile.FirmwareVersion("24.35.1012"))
        #expect(try #require(Profile.FirmwareVersion("24.35.2000")) > baseline)
        #expect(try #require(Profile.FirmwareVersion("24.4.9999")) < baseline)
        #expect(Profile.FirmwareVersion("1.2") == Profile.FirmwareVersion("1.2.0"))
        #expect(Set([Profile.FirmwareVersion("1.2"), Profile.FirmwareVersion("1.2.0")]).count == 1)
        for text in ["", "1..2", "1.2-rc1", "v1.2", "1.2.3.4.5.6.7", "1234567890"] {
            #expect(Profile.FirmwareVersion(text) == nil, "\(text)")
        }
    }

    @Test("defaults fill what a profile leaves out")
    func defaults() throws {
        let profile = try ProfileLoader.load(
            yaml: """
                schemaVersion: 1
                id: minimal
                vendor: Test
                model: Minimal card
                formFactor: OCP 3.0
                ports: [{name: p0, speedGbps: 100}]
                pci:
                  functions:
                    - name: network-pf
                      role: network
                      match: {vendor: "15B3", device: "0x101D"}
                      capabilities: [pcie, sriov]
                      sriov: {minTotalVFs: 8, vfDeviceID: "101e"}
                rdma: {maxSendLatencyP99us: 3.5, messageSizes: [65536, 64]}
                emulation: {pciAddress: "0000:81:00.0"}
                """,
            file: "minimal.yaml")
        let function = try #require(profile.function(role: .network))
        #expect(function.match.device.description == "101d")
        #expect(function.count == 1)
        #expect(function.sriov?.enableVFs == 0)
        #expect(function.sriov?.enableAllowed == true)
        #expect(function.sriov?.firstVFOffset == nil)
        #expect(profile.rdma?.messageSizes == [64, 65536])
        #expect(profile.rdma?.maxSendLatencyP99us == 3.5)
        #expect(profile.network == nil && profile.storage == nil && profile.isolation == nil && profile.firmware == nil)
        let emulation = try #require(profile.emulation)
        #expect(emulation.pciAddress.description == "0000:81:00.0")
        #expect((emulation.numaNode, emulation.preEnabledVFs, emulation.iommuGroupBase) == (0, 0, 0))
        #expect(emulation.storageBackingMiB == 256)
        #expect(emulation.lab == nil)
        #expect(profile.totalPortSpeedGbps == 100)
    }
}
