import Foundation
import Testing
@testable import Profiles

/// One diagnostic a broken profile must produce.
struct ExpectedDiagnostic: Sendable, CustomStringConvertible {
    let line: Int
    let column: Int
    let keyPath: String
    let fragment: String

    init(_ line: Int, _ column: Int, _ keyPath: String, _ fragment: String) {
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.fragment = fragment
    }

    var description: String { "\(line):\(column): \(keyPath): …\(fragment)…" }
}

struct BrokenProfile: Sendable, CustomStringConvertible {
    let name: String
    let yaml: String
    /// In file order: the loader sorts diagnostics by line and column.
    let expected: [ExpectedDiagnostic]

    var description: String { name }
}

/// Lines 1-7 of most cases: a valid start, so each case's own lines begin at line 8.
let validProfileHead = """
    schemaVersion: 1
    id: test-card
    vendor: Test
    model: Test card
    formFactor: PCIe HHHL
    ports:
      - {name: p0, speedGbps: 25}

    """

/// Lines 8-14: a valid SR-IOV network function.
private let networkFunction = """
    pci:
      functions:
        - name: network-pf
          role: network
          match: {vendor: "15b3", device: "a2d6"}
          capabilities: [pcie, sriov]
          sriov: {minTotalVFs: 16, vfDeviceID: "101e", enableVFs: 4}

    """

let brokenProfiles: [BrokenProfile] = [
    BrokenProfile(
        name: "unknown key, with a suggestion",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [pcie, sriov]
                  sriov: {minTotalVF: 16, vfDeviceID: "101e"}
            """,
        expected: [
            ExpectedDiagnostic(14, 14, "pci.functions[0].sriov", "missing required key 'minTotalVFs'"),
            ExpectedDiagnostic(14, 15, "pci.functions[0].sriov.minTotalVF", "unknown key; did you mean 'minTotalVFs'?"),
        ]),
    BrokenProfile(
        name: "unknown key, far from any known key",
        yaml: validProfileHead + networkFunction + "colour: blue\n",
        expected: [ExpectedDiagnostic(15, 1, "colour", "unknown key; expected one of schemaVersion, id, vendor")]),
    BrokenProfile(
        name: "wrong type: text where an integer belongs",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  count: two
            """,
        expected: [ExpectedDiagnostic(13, 14, "pci.functions[0].count", "expected an integer 1...256, found \"two\"")]),
    BrokenProfile(
        name: "wrong type: a quoted number is text",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  count: "2"
            """,
        expected: [ExpectedDiagnostic(13, 14, "pci.functions[0].count", "found \"2\"")]),
    BrokenProfile(
        name: "wrong type: a scalar where a list belongs",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: msix
            """,
        expected: [ExpectedDiagnostic(13, 21, "pci.functions[0].capabilities", "expected a list, found \"msix\"")]),
    BrokenProfile(
        name: "TotalVFs beyond the 16-bit register",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [pcie, sriov]
                  sriov: {minTotalVFs: 70000, vfDeviceID: "101e"}
            """,
        expected: [
            ExpectedDiagnostic(
                14, 28, "pci.functions[0].sriov.minTotalVFs", "expected an integer 1...65535 (a 16-bit register field), found 70000"),
        ]),
    BrokenProfile(
        name: "TotalVFs that is not a number",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [pcie, sriov]
                  sriov: {minTotalVFs: lots, vfDeviceID: "101e"}
            """,
        expected: [ExpectedDiagnostic(14, 28, "pci.functions[0].sriov.minTotalVFs", "found \"lots\"")]),
    BrokenProfile(
        name: "link width 3",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  link: {minSpeedGTs: 16, minWidth: 3}
            """,
        expected: [
            ExpectedDiagnostic(
                13, 41, "pci.functions[0].link.minWidth", "expected one of 1, 2, 4, 8, 12, 16 or 32 lanes, found 3"),
        ]),
    BrokenProfile(
        name: "link speed 7 GT/s",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  link: {minSpeedGTs: 7, minWidth: 16}
            """,
        expected: [
            ExpectedDiagnostic(
                13, 27, "pci.functions[0].link.minSpeedGTs",
                "expected a link speed of 2.5, 5, 8, 16, 32 or 64 GT/s, found 7"),
        ]),
    BrokenProfile(
        name: "enableVFs above minTotalVFs",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [pcie, sriov]
                  sriov: {minTotalVFs: 16, vfDeviceID: "101e", enableVFs: 20}
            """,
        expected: [
            ExpectedDiagnostic(14, 63, "pci.functions[0].sriov.enableVFs", "enableVFs 20 exceeds minTotalVFs 16"),
        ]),
    BrokenProfile(
        name: "minimum throughput above the ports' line rate",
        yaml: validProfileHead + networkFunction + """
            network: {minTcpThroughputGbps: 30}
            """,
        expected: [
            ExpectedDiagnostic(
                15, 33, "network.minTcpThroughputGbps", "30 Gbit/s exceeds the card's total port speed of 25 Gbit/s"),
        ]),
    BrokenProfile(
        name: "an MTU no Ethernet link carries",
        yaml: validProfileHead + networkFunction + """
            network: {mtu: 100000, maxVfThroughputSpreadPercent: -5}
            """,
        expected: [
            ExpectedDiagnostic(15, 16, "network.mtu", "expected an integer 1280...9216"),
            ExpectedDiagnostic(15, 54, "network.maxVfThroughputSpreadPercent", "-5"),
        ]),
    BrokenProfile(
        name: "management port 0",
        yaml: validProfileHead + networkFunction + """
            isolation:
              management: {ipv4: ["192.168.100.2"], tcpPorts: [0, 22]}
            """,
        expected: [
            ExpectedDiagnostic(
                16, 52, "isolation.management.tcpPorts[0]", "expected an integer 1...65535, found 0"),
        ]),
    BrokenProfile(
        name: "lab address outside the benchmark and documentation ranges",
        yaml: validProfileHead + networkFunction + """
            isolation:
              management: {ipv4: ["192.168.100.2"], ipv6: ["fe80::1"]}
            emulation:
              pciAddress: "0000:03:00.0"
              lab: {managementIPv4: ["192.168.1.2"], managementIPv6: ["2001:db9::2"]}
            """,
        expected: [
            ExpectedDiagnostic(
                19, 26, "emulation.lab.managementIPv4[0]", "192.168.1.2 is outside 198.18.0.0/15"),
            ExpectedDiagnostic(
                19, 59, "emulation.lab.managementIPv6[0]", "2001:db9::2 is outside 2001:db8::/32 and fe80::/10"),
        ]),
    BrokenProfile(
        name: "duplicate function name",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                - name: network-pf
                  role: storage
                  match: {vendor: "15b3", device: "6001"}
            """,
        expected: [ExpectedDiagnostic(13, 13, "pci.functions[1].name", "duplicate function name 'network-pf'")]),
    BrokenProfile(
        name: "duplicate role and duplicate match",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                - name: second-pf
                  role: network
                  match: {vendor: "0x15B3", device: "A2D6"}
            """,
        expected: [
            ExpectedDiagnostic(14, 13, "pci.functions[1].role", "role 'network' is already taken by function 'network-pf'"),
            ExpectedDiagnostic(15, 14, "pci.functions[1].match", "matches the same devices as function 'network-pf'"),
        ]),
    BrokenProfile(
        name: "a match for any subsystem overlaps a subsystem-specific one",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "1dd8", device: "1002", subsystemVendor: "1dd8", subsystemDevice: "5001"}
                - name: other-pf
                  role: other
                  match: {vendor: "1dd8", device: "1002"}
            """,
        expected: [ExpectedDiagnostic(15, 14, "pci.functions[1].match", "matches the same devices as function 'network-pf'")]),
    BrokenProfile(
        name: "missing required key",
        yaml: """
            schemaVersion: 1
            id: test-card
            vendor: Test
            formFactor: PCIe HHHL
            ports:
              - {name: p0, speedGbps: 25}
            """ + "\n" + networkFunction,
        expected: [ExpectedDiagnostic(1, 1, "", "missing required key 'model'")]),
    BrokenProfile(
        name: "YAML syntax error: unclosed flow mapping",
        yaml: """
            schemaVersion: 1
            id: test-card
            ports:
              - {name: p0, speedGbps: 25
            pci:
              functions: []
            """,
        expected: [ExpectedDiagnostic(5, 4, "", "YAML syntax error: did not find expected ',' or '}'")]),
    BrokenProfile(
        name: "YAML syntax error: tab indentation",
        yaml: "schemaVersion: 1\nid: test-card\n\tvendor: Test\n",
        expected: [ExpectedDiagnostic(3, 1, "", "YAML syntax error: found a tab character")]),
    BrokenProfile(
        name: "YAML duplicate key",
        yaml: validProfileHead + "vendor: Other\n",
        expected: [ExpectedDiagnostic(3, 1, "", "duplicate key 'vendor'")]),
    BrokenProfile(
        name: "empty file",
        yaml: "",
        expected: [ExpectedDiagnostic(0, 0, "", "the file holds no YAML document")]),
    BrokenProfile(
        name: "a list at the top level",
        yaml: "- schemaVersion: 1\n",
        expected: [ExpectedDiagnostic(1, 1, "", "expected a mapping with keys schemaVersion, id")]),
    BrokenProfile(
        name: "unsupported schema version",
        yaml: validProfileHead.replacingOccurrences(of: "schemaVersion: 1", with: "schemaVersion: 2") + networkFunction,
        expected: [ExpectedDiagnostic(1, 16, "schemaVersion", "unsupported schemaVersion 2; this dpucert reads schemaVersion 1")]),
    BrokenProfile(
        name: "subsystem vendor without subsystem device",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6", subsystemVendor: "15b3"}
            """,
        expected: [ExpectedDiagnostic(12, 14, "pci.functions[0].match", "subsystemVendor and subsystemDevice go together")]),
    BrokenProfile(
        name: "ffff is not an ID",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "ffff", device: "a2d6"}
            """,
        expected: [ExpectedDiagnostic(12, 23, "pci.functions[0].match.vendor", "ffff is what an absent function reads as")]),
    BrokenProfile(
        name: "sections that need a capability, extended capabilities that need pcie",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [msix]
                  sriov: {minTotalVFs: 16, vfDeviceID: "101e"}
                - name: nvme
                  role: storage
                  match: {vendor: "15b3", device: "6001"}
                  capabilities: [aer, msix]
            """,
        expected: [
            ExpectedDiagnostic(14, 14, "pci.functions[0].sriov", "this section needs 'sriov' in the function's capabilities"),
            ExpectedDiagnostic(18, 21, "pci.functions[1].capabilities", "'aer' live in PCIe extended configuration space"),
        ]),
    BrokenProfile(
        name: "enableVFs when enabling is not allowed, VFs beyond the routing ID space",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: network-pf
                  role: network
                  match: {vendor: "15b3", device: "a2d6"}
                  capabilities: [pcie, sriov]
                  sriov: {minTotalVFs: 65535, vfDeviceID: "101e", firstVFOffset: 2, vfStride: 2, enableVFs: 1, enableAllowed: false}
            """,
        expected: [
            ExpectedDiagnostic(14, 14, "pci.functions[0].sriov", "VF 65534 would sit 131070 routing IDs past the PF"),
            ExpectedDiagnostic(14, 97, "pci.functions[0].sriov.enableVFs", "enableVFs must be 0 when enableAllowed is false"),
        ]),
    BrokenProfile(
        name: "suites without the function they run on",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: management
                  role: management
                  match: {vendor: "15b3", device: "c2d3"}
            storage: {minSeqReadMiBps: 100}
            rdma: {minWriteBandwidthGbps: 10}
            """,
        expected: [
            ExpectedDiagnostic(13, 10, "storage", "the storage suite needs a function with role 'storage'"),
            ExpectedDiagnostic(14, 7, "rdma", "the RDMA suite needs a function with role 'network'"),
        ]),
    BrokenProfile(
        name: "storage keys out of range",
        yaml: validProfileHead + """
            pci:
              functions:
                - name: nvme
                  role: storage
                  match: {vendor: "1b36", device: "0010"}
            storage: {minRandWriteIOPS: 0, logicalBlockSize: 1024, queueDepth: 0, destructive: maybe}
            """,
        expected: [
            ExpectedDiagnostic(13, 29, "storage.minRandWriteIOPS", "expected an integer 1...100000000, found 0"),
            ExpectedDiagnostic(13, 50, "storage.logicalBlockSize", "expected one of 512 or 4096 bytes, found 1024"),
            ExpectedDiagnostic(13, 68, "storage.queueDepth", "expected an integer 1...1024, found 0"),
            ExpectedDiagnostic(13, 84, "storage.destructive", "expected true or false"),
        ]),
    BrokenProfile(
        name: "management addresses that are not unicast",
        yaml: validProfileHead + networkFunction + """
            isolation:
              management:
                ipv4: ["127.0.0.1", "224.0.0.1"]
                ipv6: ["::", "fe80::1%eth0"]
            """,
        expected: [
            ExpectedDiagnostic(17, 12, "isolation.management.ipv4[0]", "127.0.0.1 is a loopback address"),
            ExpectedDiagnostic(17, 25, "isolation.management.ipv4[1]", "224.0.0.1 is a multicast address"),
            ExpectedDiagnostic(18, 12, "isolation.management.ipv6[0]", ":: is the unspecified address"),
            ExpectedDiagnostic(18, 18, "isolation.management.ipv6[1]", "without a zone index"),
        ]),
    BrokenProfile(
        name: "isolation without a lab to emulate it in, pre-enabled VFs beyond TotalVFs",
        yaml: validProfileHead + networkFunction + """
            isolation:
              management: {ipv4: ["192.168.100.2"]}
            emulation:
              pciAddress: "0000:03:00.0"
              preEnabledVFs: 17
            """,
        expected: [
            ExpectedDiagnostic(18, 3, "emulation", "missing required key 'lab'"),
            ExpectedDiagnostic(19, 18, "emulation.preEnabledVFs", "preEnabledVFs 17 exceeds minTotalVFs 16 of function 'network-pf'"),
        ]),
    BrokenProfile(
        name: "lab without the address family the card is probed on",
        yaml: validProfileHead + networkFunction + """
            isolation:
              management: {ipv6: ["fe80::21a:caff:feff:ff01"]}
            emulation:
              pciAddress: "0000:03:20.0"
              lab: {managementIPv4: ["198.18.0.2"]}
            """,
        expected: [
            ExpectedDiagnostic(18, 15, "emulation.pciAddress", "device 00-1f and function 0-7"),
            ExpectedDiagnostic(19, 8, "emulation.lab", "isolation.management lists IPv6 addresses, so the lab needs managementIPv6 too"),
        ]),
    BrokenProfile(
        name: "several errors in one file, all reported in file order",
        yaml: """
            schemaVersion: 1
            id: Test_Card
            vendor: Test
            model: Test card
            formFactr: PCIe HHHL
            ports:
              - {name: p0, speedGbps: 30}
            pci:
              functions:
                - name: network-pf
                  role: netwrok
                  match: {vendor: "lots", device: "a2d6"}
                  link: {minSpeedGTs: 7, minWidth: 3}
            firmware: {minVersion: "24.35-rc1"}
            """,
        expected: [
            ExpectedDiagnostic(1, 1, "", "missing required key 'formFactor'"),
            ExpectedDiagnostic(2, 5, "id", "lower-case letters and digits joined by single dashes"),
            ExpectedDiagnostic(5, 1, "formFactr", "unknown key; did you mean 'formFactor'?"),
            ExpectedDiagnostic(7, 27, "ports[0].speedGbps", "found 30"),
            ExpectedDiagnostic(11, 13, "pci.functions[0].role", "found \"netwrok\"; did you mean 'network'?"),
            ExpectedDiagnostic(12, 23, "pci.functions[0].match.vendor", "found \"lots\""),
            ExpectedDiagnostic(13, 27, "pci.functions[0].link.minSpeedGTs", "found 7"),
            ExpectedDiagnostic(13, 40, "pci.functions[0].link.minWidth", "found 3"),
            ExpectedDiagnostic(14, 24, "firmware.minVersion", "expected a dotted decimal version"),
        ]),
]

@Suite("Broken profiles")
struct BrokenProfileTests {
    @Test("each broken profile gives exactly its diagnostics, with file, line, column and key path",
          arguments: brokenProfiles + brokenManagementModes)
    func diagnostics(of profile: BrokenProfile) throws {
        let error = try #require(throws: ProfileError.self) {
            try ProfileLoader.load(yaml: profile.yaml, file: "profiles/broken.yaml")
        }
        let found = error.diagnostics.map(\.description).joined(separator: "\n")
        try #require(error.diagnostics.count == profile.expected.count, "found:\n\(found)")
        for (diagnostic, expected) in zip(error.diagnostics, profile.expected) {
            #expect(diagnostic.file == "profiles/broken.yaml")
            #expect(diagnostic.line == expected.line, "\(diagnostic)")
            #expect(diagnostic.column == expected.column, "\(diagnostic)")
            #expect(diagnostic.keyPath == expected.keyPath, "\(diagnostic)")
            #expect(diagnostic.message.contains(expected.fragment), "\(diagnostic)")
        }
    }

    @Test("a diagnostic renders as file:line:column: keyPath: message")
    func rendering() throws {
        let error = try #require(throws: ProfileError.self) {
            try ProfileLoader.load(
                yaml: validProfileHead + """
                    pci:
                      functions:
                        - name: network-pf
                          role: network
                          match: {vendor: "15b3", device: "a2d6"}
                          capabilities: [pcie, sriov]
                          sriov: {minTotalVFs: lots, vfDeviceID: "101e"}
                    """,
                file: "profiles/x.yaml")
        }
        #expect(
            error.description
                == "profiles/x.yaml:14:28: pci.functions[0].sriov.minTotalVFs: "
                + "expected an integer 1...65535 (a 16-bit register field), found \"lots\"")
    }

    @Test("problems with no position or key path leave those parts out")
    func renderingWithoutPosition() {
        let wholeFile = ProfileDiagnostic(file: "a.yaml", line: 0, column: 0, keyPath: "", message: "no such file")
        let noKeyPath = ProfileDiagnostic(file: "a.yaml", line: 3, column: 1, keyPath: "", message: "YAML syntax error")
        #expect(wholeFile.description == "a.yaml: no such file")
        #expect(noKeyPath.description == "a.yaml:3:1: YAML syntax error")
    }
}
