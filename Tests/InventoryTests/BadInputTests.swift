import Foundation
import PCITestSupport
import Testing
@testable import Inventory

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

@Suite("Bad input gives a specific error or a flagged partial result")
struct BadInputTests {
    @Test func missingSysfsRoot() {
        #expect(throws: PCIError(.sourceNotFound, source: .sysfs(root: "/nonexistent/tree"),
                                 message: "no sysfs PCI tree: expected a directory /nonexistent/tree/devices")) {
            try InventoryReader(source: .sysfs(root: "/nonexistent/tree")).read()
        }
    }

    @Test func missingDump() {
        #expect(throws: PCIError.self) { try InventoryReader(source: .dump(path: "/nonexistent.dump")).read() }
    }

    @Test("a dump line cut mid-byte is libpci's error, thrown, not an exit")
    func truncatedDumpLine() {
        #expect {
            try InventoryReader(source: .dump(path: fixturesDirectory + "/truncated-line.dump")).read()
        } throws: { error in
            (error as? PCIError)?.code == .libpci && "\(error)".contains("Malformed line")
        }
    }

    @Test("a 64-byte dump has identity but no capabilities, and says why")
    func sixtyFourByteDump() throws {
        let inventory = try InventoryReader(source: .dump(path: fixturesDirectory + "/config-64-bytes.dump")).read()
        let function = try #require(inventory.functions.first)
        #expect(function.config.length == 64)
        #expect(hex(function.vendorID, width: 4) == "8086" && hex(function.deviceID, width: 4) == "10c9")
        #expect(function.capabilityNames.isEmpty)
        #expect(function.findings.contains { $0.kind == .brokenCapabilityChain && $0.message.contains("beyond") })
    }

    @Test("link speed files that are not a speed read as unknown", arguments: ["inf GT/s", "nan GT/s", "Unknown", "fast", ""])
    func unusableLinkSpeed(text: String) {
        #expect(SysfsExtrasReader.parseLinkSpeed(text) == nil)
    }

    @Test("a looping capability chain is reported and not followed")
    func loopingChainDump() throws {
        let inventory = try InventoryReader(source: .dump(path: fixturesDirectory + "/looped-chain.dump")).read()
        let function = try #require(inventory.functions.first)
        #expect(function.capabilityNames == ["pm", "msi"])
        #expect(function.findings.contains { $0.message == "standard capability chain loops back to 0x40" })
    }
}

@Suite("Config-space decoding")
struct ConfigDecoderTests {
    /// A PCIe endpoint with an extended chain built from `(id, next)` headers at 0x100, 0x140, ...
    static func endpoint(extended: [(id: UInt16, next: Int)]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes[0] = 0xb3; bytes[1] = 0x15; bytes[2] = 0xd6; bytes[3] = 0xa2
        bytes[6] = 0x10                     // Status: capabilities list
        bytes[0x34] = 0x40
        bytes[0x40] = 0x10; bytes[0x41] = 0x00; bytes[0x42] = 0x02   // PCIe v2, endpoint
        bytes[0x4c] = 0x04 | 0x00; bytes[0x4d] = 0x01              // LnkCap 16 GT/s x16
        bytes[0x52] = 0x04 | 0x80; bytes[0x53] = 0x00              // LnkSta 16 GT/s x8
        bytes[0x6c] = 0x3e                                         // LnkCap2 2.5–32 GT/s
        for (index, capability) in extended.enumerated() {
            let offset = 0x100 + index * 0x40
            let header = UInt32(capability.id) | 1 << 16 | UInt32(capability.next) << 20
            for byte in 0..<4 { bytes[offset + byte] = UInt8((header >> (8 * UInt32(byte))) & 0xff) }
        }
        return bytes
    }

    @Test func linkFields() {
        let decoded = ConfigDecoder.decode(ConfigSpace(Self.endpoint(extended: [])))
        #expect(decoded.pcie?.portType == .endpoint)
        #expect(decoded.pcie?.link == PCIeLink(maxSpeedCode: 4, maxWidth: 16, currentSpeedCode: 4, currentWidth: 8,
                                               supportedSpeedsGTs: [2.5, 5.0, 8.0, 16.0, 32.0]))
    }

    @Test func extendedChainLoop() {
        let decoded = ConfigDecoder.decode(ConfigSpace(Self.endpoint(extended: [(0x0001, 0x140), (0x000d, 0x100)])))
        #expect(decoded.capabilities.map(\.name) == ["pcie", "aer", "acs"])
        #expect(decoded.chainProblems == ["extended capability chain loops back to 0x100"])
    }

    @Test func extendedChainIntoStandardSpace() {
        let decoded = ConfigDecoder.decode(ConfigSpace(Self.endpoint(extended: [(0x0001, 0x40)])))
        #expect(decoded.chainProblems.count == 1)
    }

    @Test("an extended chain cut off by a 256-byte read is not followed")
    func shortConfig() {
        let decoded = ConfigDecoder.decode(ConfigSpace(Array(Self.endpoint(extended: [(0x0010, 0)]).prefix(256))))
        #expect(decoded.capabilities.map(\.name) == ["pcie"])
        #expect(decoded.sriov == nil)
    }

    @Test("VF routing IDs as the kernel computes them", arguments: [
        ("0000:01:00.0", 2, 1, 16, "0000:01:00.2", "0000:01:02.1"),      // ConnectX-5 Ex
        ("0000:82:00.0", 1, 1, 63, "0000:82:00.1", "0000:82:07.7"),      // ConnectX-3
        ("0000:01:00.0", 384, 2, 8, "0000:02:10.0", "0000:02:11.6"),     // 82576: VFs on the next bus
    ])
    func vfRoutingIDs(pf: String, offset: Int, stride: Int, count: Int, first: String, last: String) throws {
        let sriov = SRIOVCapability(initialVFs: count, totalVFs: count, numVFs: count, vfEnabled: true,
                                    vfMemorySpaceEnabled: true, ariCapableHierarchy: true, functionDependencyLink: 0,
                                    firstVFOffset: offset, vfStride: stride, vfDeviceID: 0x101e)
        let addresses = sriov.vfAddresses(physicalFunction: pci(pf), count: count)
        #expect(addresses.first?.description == first && addresses.last?.description == last)
        #expect(Set(addresses).count == count)
    }

    @Test func addressParsing() {
        #expect(PCIAddress("0000:03:00.1")?.routingID == 0x0301)
        #expect(PCIAddress("03:00.1") == PCIAddress(domain: 0, bus: 3, device: 0, function: 1))
        #expect(PCIAddress("0000:03:00.8") == nil && PCIAddress("junk") == nil && PCIAddress("0000:03:20.0") == nil)
    }
}
