import Foundation
import Testing
@testable import Profiles

/// Lines 9-17 when line 8 declares the mode: a network function present in every mode and a
/// management function present only in the modes its last line (17) names.
private func functions(presentIn: String = "[privileged]") -> String {
    """
    pci:
      functions:
        - name: network-pf
          role: network
          match: {vendor: "15b3", device: "a2d6"}
        - name: soc-management
          role: management
          match: {vendor: "15b3", device: "c2d3"}
          presentIn: \(presentIn)

    """
}

let brokenManagementModes: [BrokenProfile] = [
    BrokenProfile(
        name: "an unknown management mode",
        yaml: validProfileHead + "managementMode: zero-trust\n" + functions(),
        expected: [ExpectedDiagnostic(8, 17, "managementMode", "expected one of restricted or privileged, found \"zero-trust\"")]),
    BrokenProfile(
        name: "a misspelt mode in presentIn, with a suggestion",
        yaml: validProfileHead + "managementMode: restricted\n" + functions(presentIn: "[privilegd]"),
        expected: [ExpectedDiagnostic(17, 19, "pci.functions[1].presentIn[0]", "found \"privilegd\"; did you mean 'privileged'?")]),
    BrokenProfile(
        name: "presentIn that is not a list",
        yaml: validProfileHead + "managementMode: restricted\n" + functions(presentIn: "privileged"),
        expected: [ExpectedDiagnostic(17, 18, "pci.functions[1].presentIn", "expected a list, found \"privileged\"")]),
    BrokenProfile(
        name: "presentIn naming a mode twice",
        yaml: validProfileHead + "managementMode: restricted\n" + functions(presentIn: "[privileged, privileged]"),
        expected: [ExpectedDiagnostic(17, 31, "pci.functions[1].presentIn[1]", "duplicate management mode 'privileged'")]),
    BrokenProfile(
        name: "presentIn naming every mode",
        yaml: validProfileHead + "managementMode: restricted\n" + functions(presentIn: "[privileged, restricted]"),
        expected: [ExpectedDiagnostic(17, 18, "pci.functions[1].presentIn", "lists every management mode")]),
    BrokenProfile(
        name: "a misspelt presentIn key: unknown, and the mode then decides nothing",
        yaml: validProfileHead + "managementMode: restricted\n" + functions().replacingOccurrences(of: "presentIn:", with: "presentOn:"),
        expected: [
            ExpectedDiagnostic(8, 17, "managementMode", "no function in pci.functions lists presentIn"),
            ExpectedDiagnostic(17, 7, "pci.functions[1].presentOn", "unknown key; did you mean 'presentIn'?"),
        ]),
    BrokenProfile(
        name: "presentIn without the card's management mode",
        yaml: validProfileHead + functions(),
        expected: [ExpectedDiagnostic(1, 1, "", "missing required key 'managementMode': function 'soc-management' lists presentIn")]),
    BrokenProfile(
        name: "every function depends on the mode",
        yaml: validProfileHead + "managementMode: restricted\n"
            + functions().replacingOccurrences(of: "device: \"a2d6\"}", with: "device: \"a2d6\"}\n      presentIn: [restricted]"),
        expected: [ExpectedDiagnostic(11, 5, "pci.functions", "every function lists presentIn; at least one must be present in every management mode")]),
    BrokenProfile(
        name: "a host management channel that contradicts the mode",
        yaml: validProfileHead + "managementMode: restricted\n" + functions() + """
            isolation:
              management: {ipv4: ["192.0.2.1"]}
              hostManagementChannel: {interface: tmfifo_net0, mode: privileged}
            """,
        expected: [
            ExpectedDiagnostic(20, 57, "isolation.hostManagementChannel.mode",
                               "mode 'privileged' contradicts the card's managementMode 'restricted'"),
        ]),
]

@Suite("Management mode and presentIn")
struct ManagementModeTests {
    @Test("the declared mode decides which functions are expected and which requirements are listed", arguments: [
        (Profile.ManagementMode.restricted, ["network-pf"],
         ["pci.functions[network-pf]", "pci.functions[soc-management].presentIn"]),
        (.privileged, ["network-pf", "soc-management"],
         ["pci.functions[network-pf]", "pci.functions[soc-management].presentIn", "pci.functions[soc-management]"]),
    ])
    func expectedFunctions(mode: Profile.ManagementMode, expected: [String], paths: [String]) throws {
        let profile = try ProfileLoader.load(yaml: validProfileHead + "managementMode: \(mode.rawValue)\n" + functions(), file: "card.yaml")
        #expect(profile.managementMode == mode)
        #expect(profile.expectedFunctions.map(\.name) == expected)
        #expect(profile.modeDependentFunctions.map(\.name) == ["soc-management"])
        #expect(profile.requirementPaths == paths)
    }

    @Test("a function without presentIn is present in every mode; one with it only in the modes it names", arguments: [
        (nil, Profile.ManagementMode.restricted, true),
        (nil, .privileged, true),
        (nil, nil, true),
        ([Profile.ManagementMode.privileged], .privileged, true),
        ([.privileged], .restricted, false),
        ([.privileged], nil, false),
    ])
    func presence(presentIn: [Profile.ManagementMode]?, mode: Profile.ManagementMode?, present: Bool) {
        let function = Profile.PCIFunction(
            name: "soc-management", role: .management,
            match: Profile.DeviceMatch(vendor: Profile.PCIID(0x15b3), device: Profile.PCIID(0xc2d3),
                                       subsystemVendor: nil, subsystemDevice: nil),
            count: 1, classCode: nil, link: nil, capabilities: [], msix: nil, acs: nil, sriov: nil, presentIn: presentIn)
        #expect(function.isPresent(in: mode) == present)
    }

    @Test("a channel that agrees with the mode, or a mode-independent profile, loads")
    func agreeingChannel() throws {
        let agreeing = try ProfileLoader.load(yaml: validProfileHead + "managementMode: restricted\n" + functions() + """
            isolation:
              management: {ipv4: ["192.0.2.1"]}
              hostManagementChannel: {interface: tmfifo_net0, mode: restricted}
            """, file: "card.yaml")
        #expect(agreeing.isolation?.hostManagementChannel?.mode == .restricted)
        let independent = try ProfileLoader.load(
            yaml: validProfileHead + functions().replacingOccurrences(of: "\n      presentIn: [privileged]", with: ""), file: "card.yaml")
        #expect(independent.managementMode == nil)
        #expect(independent.expectedFunctions.map(\.name) == ["network-pf", "soc-management"])
        #expect(independent.modeDependentFunctions.isEmpty)
    }
}
