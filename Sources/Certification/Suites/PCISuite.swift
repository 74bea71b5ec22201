import Foundation
import Inventory
import Profiles
import Reports

/// The PCI suite: what the card shows the host on the bus. Runs against any `PCIBus`
/// (the live bus, an emulated tree, a dump for the read-only checks).
public enum PCISuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        let functions = profile.expectedFunctions
        var tests: [any CertificationTest] = [FunctionsPresent()]
        if functions.contains(where: { $0.link != nil }) { tests.append(LinkSpeedWidth()) }
        if functions.contains(where: { $0.sriov != nil }) { tests.append(SRIOVCapabilityCheck()) }
        if functions.contains(where: { $0.msix != nil || $0.capabilities.contains(.msix) }) { tests.append(MSIXVectors()) }
        if functions.contains(where: { $0.sriov != nil || $0.acs != nil }) { tests.append(IOMMUIsolation()) }
        if functions.contains(where: { $0.sriov?.enablesVFs == true }) { tests.append(SRIOVEnable()) }
        if functions.contains(where: { $0.capabilities.contains(.aer) }) { tests.append(AERClean()) }
        if !profile.modeDependentFunctions.isEmpty { tests.append(HostManagementFunction()) }
        return tests
    }
}

/// Reads the inventory the checks judge; a bus that cannot be read is an `error`.
func inventory(_ context: TestContext) throws -> PCIInventory {
    do {
        return try context.pci.currentInventory()
    } catch {
        throw PositiveControlFailure("the PCI bus could not be read: \(error)")
    }
}

/// A failed check for every place where the kernel's sysfs view of `function`
/// contradicts its config space on properties starting with `prefix`.
private func sysfsAgreement(_ function: PCIFunction, on prefix: String) -> [Check] {
    function.findings.filter { $0.kind == .sysfsMismatch && $0.property.hasPrefix(prefix) }.map { finding in
        Check("\(function.address) \(finding.property)", expected: "sysfs to agree with config space",
              observed: finding.message, holds: false)
    }
}

/// The requirement paths of the expected profile functions `aspect` picks, named by `path`.
private func paths(_ profile: Profile, where aspect: (Profile.PCIFunction) -> Bool, _ path: String? = nil) -> [String] {
    profile.expectedFunctions.filter(aspect).map { RequirementPath.function($0, path) }
}

/// What a PCI check examined: functions on the bus that a profile entry stands for.
private func functionsExamined(_ count: Int, _ what: String) -> Examined {
    Examined(count, "PCI functions \(what)", as: "functions_examined")
}

private func describe(_ function: PCIFunction) -> String {
    "\(function.address) \(hex(function.vendorID, width: 4)):\(hex(function.deviceID, width: 4))"
}

/// Every profile function the declared management mode shows is on the bus, as many times
/// as the profile says, with its class and capabilities.
struct FunctionsPresent: CertificationTest {
    let id = "pci.functions-present"
    let title = "Every PCI function the profile lists is present"
    let requirement = "pci.functions: count, match, classCode, capabilities"

    func covers(_ profile: Profile) -> [String] { paths(profile, where: { _ in true }) }

    func run(_ context: TestContext) throws -> TestOutcome {
        let inventory = try inventory(context)
        var checks: [Check] = []
        var evidence = ["read \(inventory.functions.count) functions from \(inventory.source)"]
        var found = 0
        for matched in context.profile.matched(in: inventory) {
            let specification = matched.specification
            found += matched.functions.count
            evidence.append("\(matched.label): \(matched.functions.map(\.address.description).joined(separator: ", "))")
            checks.append(Check("\(matched.label) count", expected: "\(specification.count)",
                                observed: "\(matched.functions.count)" + (matched.functions.isEmpty ? "" :
                                    " (\(matched.functions.map(\.address.description).joined(separator: ", ")))"),
                                holds: matched.functions.count == specification.count))
            for function in matched.functions {
                if let classCode = specification.classCode {
                    checks.append(Check("\(function.address) class code", expected: classCode.description,
                                        observed: hex(function.classCode, width: 6),
                                        holds: function.classCode == classCode.value))
                }
                let present = Set(function.capabilityNames)
                let missing = specification.capabilities.map(\.rawValue).filter { !present.contains($0) }
                checks.append(Check("\(function.address) capabilities",
                                    expected: specification.capabilities.map(\.rawValue).joined(separator: ","),
                                    observed: missing.isEmpty ? "all present" : "missing " + missing.joined(separator: ","),
                                    holds: missing.isEmpty))
            }
        }
        let expected = context.profile.expectedFunctions.reduce(0) { $0 + $1.count }
        return .judged(checks, measurements: [MeasuredValue(name: "functions_found", value: Double(found), unit: "count",
                                                            threshold: Threshold(.equal, Double(expected)))],
                       evidence: evidence,
                       examined: functionsExamined(found, "matching the profile (\(context.profile.expectedFunctions.map { "\($0.match.vendor):\($0.match.device)" }.joined(separator: ", ")))"),
                       passMessage: "all \(expected) functions present")
    }
}

/// Each function trains at least to the profile's link, and config space and sysfs
/// agree on it; a link below what the function is capable of is reported.
struct LinkSpeedWidth: CertificationTest {
    let id = "pci.link-speed-width"
    let title = "PCIe link trains to the required speed and width"
    let requirement = "pci.functions[].link: minSpeedGTs, minWidth"

    func covers(_ profile: Profile) -> [String] { paths(profile, where: { $0.link != nil }, "link") }

    func run(_ context: TestContext) throws -> TestOutcome {
        let inventory = try inventory(context)
        var checks: [Check] = []
        var evidence: [String] = []
        var measurements: [MeasuredValue] = []
        let judged = context.profile.requirements(in: inventory, \.link)
        for (required, function) in judged {
            guard let link = function.link else {
                checks.append(Check("\(function.address) link", expected: "a PCIe link", observed: "no PCIe capability", holds: false))
                continue
            }
            let speed = link.currentSpeedGTs ?? 0
            let minimumSpeed = required.minSpeed.gigatransfersPerSecond
            checks.append(Check("\(function.address) link speed", expected: ">= \(minimumSpeed) GT/s",
                                observed: "\(speed) GT/s (capable of \(link.maxSpeedGTs ?? 0) GT/s)",
                                holds: speed >= minimumSpeed))
            checks.append(Check("\(function.address) link width", expected: ">= x\(required.minWidth)",
                                observed: "x\(link.currentWidth) (capable of x\(link.maxWidth))",
                                holds: link.currentWidth >= required.minWidth))
            checks += sysfsAgreement(function, on: "link.")
            measurements.append(MeasuredValue(name: "link_speed", value: speed, unit: "GT/s",
                                              threshold: Threshold(.greaterThanOrEqual, minimumSpeed)))
            measurements.append(MeasuredValue(name: "link_width", value: Double(link.currentWidth), unit: "lanes",
                                              threshold: Threshold(.greaterThanOrEqual, Double(required.minWidth))))
            var line = "\(function.address): LnkSta \(speed) GT/s x\(link.currentWidth), LnkCap \(link.maxSpeedGTs ?? 0) GT/s x\(link.maxWidth)"
            if speed < link.maxSpeedGTs ?? 0 || link.currentWidth < link.maxWidth {
                line += " — trained below its capability"
            }
            evidence.append(line)
        }
        return .judged(checks, measurements: measurements, evidence: evidence,
                       examined: functionsExamined(judged.count, "that the profile gives a link requirement"),
                       passMessage: "every link meets the profile")
    }
}

/// The SR-IOV capability offers what the profile needs, with sane routing, and the
/// kernel's sysfs view matches the capability.
struct SRIOVCapabilityCheck: CertificationTest {
    let id = "pci.sriov-capability"
    let title = "SR-IOV capability: TotalVFs, VF Device ID, offset and stride"
    let requirement = "pci.functions[].sriov: minTotalVFs, vfDeviceID, firstVFOffset, vfStride"

    func covers(_ profile: Profile) -> [String] { paths(profile, where: { $0.sriov != nil }, "sriov") }

    func run(_ context: TestContext) throws -> TestOutcome {
        let inventory = try inventory(context)
        var checks: [Check] = []
        var evidence: [String] = []
        var measurements: [MeasuredValue] = []
        let judged = context.profile.requirements(in: inventory, \.sriov)
        for (required, function) in judged {
            guard let sriov = function.sriov else {
                checks.append(Check("\(function.address) SR-IOV", expected: "an SR-IOV capability", observed: "none", holds: false))
                continue
            }
            evidence.append("\(function.address): TotalVFs \(sriov.totalVFs), InitialVFs \(sriov.initialVFs), NumVFs \(sriov.numVFs), offset \(sriov.firstVFOffset), stride \(sriov.vfStride), VF device \(hex(sriov.vfDeviceID, width: 4))")
            measurements.append(MeasuredValue(name: "sriov_total_vfs", value: Double(sriov.totalVFs), unit: "count",
                                              threshold: Threshold(.greaterThanOrEqual, Double(required.minTotalVFs))))
            checks.append(Check("\(function.address) VF Device ID", expected: required.vfDeviceID.description,
                                observed: hex(sriov.vfDeviceID, width: 4), holds: sriov.vfDeviceID == required.vfDeviceID.value))
            checks.append(Check("\(function.address) First VF Offset", expected: required.firstVFOffset.map(String.init) ?? "non-zero",
                                observed: "\(sriov.firstVFOffset)",
                                holds: sriov.firstVFOffset != 0 && required.firstVFOffset.map { $0 == sriov.firstVFOffset } ?? true))
            checks.append(Check("\(function.address) VF Stride", expected: required.vfStride.map(String.init) ?? "non-zero when TotalVFs > 1",
                                observed: "\(sriov.vfStride)",
                                holds: (sriov.totalVFs <= 1 || sriov.vfStride != 0) && required.vfStride.map { $0 == sriov.vfStride } ?? true))
            let routingIDs = sriov.vfAddresses(physicalFunction: function.address, count: sriov.totalVFs)
            let lastRoutingID = Int(function.address.routingID) + sriov.firstVFOffset + max(0, sriov.totalVFs - 1) * sriov.vfStride
            checks.append(Check("\(function.address) VF routing IDs", expected: "distinct, within the 16-bit routing ID space",
                                observed: lastRoutingID > 0xffff ? "last VF at RID 0x\(hex(lastRoutingID, width: 5))" :
                                    "\(Set(routingIDs).count) distinct of \(routingIDs.count)",
                                holds: lastRoutingID <= 0xffff && Set(routingIDs).count == routingIDs.count))
            checks += sysfsAgreement(function, on: "sriov.")
        }
        return .judged(checks, measurements: measurements, evidence: evidence,
                       examined: functionsExamined(judged.count, "that the profile gives an SR-IOV requirement"),
                       passMessage: "SR-IOV capability meets the profile")
    }
}

/// Enables the profile's VF count, checks the VFs appear where the routing rules put
/// them with the right identity and links, and restores what was there before.
struct SRIOVEnable: CertificationTest {
    let id = "pci.sriov-enable"
    let title = "VFs enable at the computed routing IDs"
    let requirement = "pci.functions[].sriov: enableVFs, enableAllowed"
    let runsConcurrently = false
    let timeout: Duration = .seconds(120)

    func covers(_ profile: Profile) -> [String] {
        paths(profile, where: { $0.sriov?.enablesVFs == true }, "sriov.enableVFs")
    }

    func skipReason(_ context: TestContext) -> String? {
        context.pci.sriovControl == nil ? "VFs cannot be enabled from this PCI source (\(context.pci.bus.source))" : nil
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        guard let control = context.pci.sriovControl else { throw PositiveControlFailure("no SR-IOV control") }
        let before = try inventory(context)
        var checks: [Check] = []
        var evidence: [String] = []
        var enabled = 0
        for matched in context.profile.matched(in: before) {
            guard let required = matched.specification.sriov, required.enablesVFs else { continue }
            for pf in matched.functions where !context.isCancelled {
                enabled += 1
                let enablement: VFEnablement
                do {
                    enablement = try VFEnablement(pf: pf, count: required.enableVFs, control: control)
                    evidence.append("\(pf.address): wrote \(required.enableVFs) to sriov_numvfs (was \(enablement.original))")
                } catch {
                    checks.append(Check("\(pf.address) enable \(required.enableVFs) VFs", expected: "the write to succeed",
                                        observed: "\(error)", holds: false))
                    continue
                }
                defer { enablement.restore(evidence: &evidence) }
                let after = try inventory(context)
                checks += verifyEnabled(pf: pf.address, count: required.enableVFs, vfDeviceID: required.vfDeviceID.value,
                                        inventory: after, evidence: &evidence)
            }
        }
        return .judged(checks, evidence: evidence,
                       examined: functionsExamined(enabled, "whose profile entry asks for VFs to be enabled"),
                       passMessage: "VFs appeared where the routing rules put them")
    }

    private func verifyEnabled(pf address: PCIAddress, count: Int, vfDeviceID: UInt16, inventory: PCIInventory,
                               evidence: inout [String]) -> [Check] {
        guard let pf = inventory.function(at: address), let sriov = pf.sriov else {
            return [Check("\(address) after enabling", expected: "the PF with SR-IOV", observed: "gone", holds: false)]
        }
        var checks = [Check("\(address) NumVFs / VF Enable", expected: "\(count), enabled",
                            observed: "\(sriov.numVFs), \(sriov.vfEnabled ? "enabled" : "disabled")",
                            holds: sriov.numVFs == count && sriov.vfEnabled)]
        let expected = sriov.vfAddresses(physicalFunction: address, count: count)
        let present = inventory.virtualFunctions(of: address)
        evidence.append("\(address): expected VFs at \(expected.map(\.description).joined(separator: ", "))")
        evidence.append("\(address): found VFs \(present.map(describe).joined(separator: ", "))")
        checks.append(Check("\(address) VF addresses", expected: expected.map(\.description).joined(separator: ","),
                            observed: present.map(\.address.description).joined(separator: ","),
                            holds: present.map(\.address) == expected))
        if let links = pf.sysfs?.virtualFunctions {
            checks.append(Check("\(address) virtfnN links", expected: expected.map(\.description).joined(separator: ","),
                                observed: links.map(\.description).joined(separator: ","), holds: links == expected))
        }
        for vf in present where vf.deviceID != vfDeviceID {
            checks.append(Check("\(vf.address) device ID", expected: hex(vfDeviceID, width: 4),
                                observed: hex(vf.deviceID, width: 4), holds: false))
        }
        return checks
    }
}

/// No uncorrectable errors are logged, and correctable error counters did not grow
/// while the run exercised the card.
struct AERClean: CertificationTest {
    let id = "pci.aer-clean"
    let title = "No uncorrectable PCIe errors; correctable errors did not grow"
    let requirement = "pci.functions[].capabilities: aer"

    func covers(_ profile: Profile) -> [String] {
        paths(profile, where: { $0.capabilities.contains(.aer) }, "capabilities.aer")
    }
    let runsConcurrently = false

    func run(_ context: TestContext) throws -> TestOutcome {
        let inventory = try inventory(context)
        var checks: [Check] = []
        var evidence: [String] = []
        var uncorrectable = 0.0
        let judged = context.profile.requirements(in: inventory, { $0.capabilities.contains(.aer) ? () : nil })
        for (_, function) in judged {
            guard let aer = function.config.aer else {
                checks.append(Check("\(function.address) AER", expected: "an AER capability to read errors from",
                                    observed: "none", holds: false))
                continue
            }
            evidence.append("\(function.address): UESta 0x\(hex(aer.uncorrectableStatus, width: 8)), CESta 0x\(hex(aer.correctableStatus, width: 8))")
            let unmaskedStatus = aer.uncorrectableStatus & ~aer.uncorrectableMask
            checks.append(Check("\(function.address) uncorrectable error status", expected: "0x00000000",
                                observed: "0x\(hex(aer.uncorrectableStatus, width: 8))", holds: unmaskedStatus == 0))
            if unmaskedStatus != 0 { uncorrectable += Double(unmaskedStatus.nonzeroBitCount) }
            guard let sysfs = function.sysfs else { continue }
            for (file, counters) in [("aer_dev_fatal", sysfs.aerFatal), ("aer_dev_nonfatal", sysfs.aerNonfatal)] {
                guard let counters else { continue }
                let nonZero = counters.filter { $0.value > 0 && !$0.key.hasPrefix("TOTAL_") }.sorted { $0.key < $1.key }
                let total = counters.filter { $0.key.hasPrefix("TOTAL_") }.values.reduce(0, +)
                uncorrectable += Double(total)
                checks.append(Check("\(function.address) \(file)", expected: "all counters 0",
                                    observed: nonZero.isEmpty && total == 0 ? "all 0" :
                                        nonZero.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + " (total \(total))",
                                    holds: nonZero.isEmpty && total == 0))
            }
            let baseline = context.pci.baseline.function(at: function.address)?.sysfs?.aerCorrectable?["TOTAL_ERR_COR"]
            if let now = sysfs.aerCorrectable?["TOTAL_ERR_COR"], let baseline {
                evidence.append("\(function.address): TOTAL_ERR_COR \(baseline) at start, \(now) now")
                checks.append(Check("\(function.address) correctable errors during the run", expected: "no growth from \(baseline)",
                                    observed: "\(now)", holds: now <= baseline))
            }
        }
        return .judged(checks, measurements: [MeasuredValue(name: "uncorrectable_errors", value: uncorrectable, unit: "count",
                                                            threshold: Threshold(.equal, 0))],
                       evidence: evidence, examined: functionsExamined(judged.count, "that the profile requires AER of"),
                       passMessage: "no PCIe errors logged")
    }
}

/// Each function (PF and every VF) sits in an IOMMU group of its own, and ACS enables
/// the isolation controls the profile requires.
struct IOMMUIsolation: CertificationTest {
    let id = "pci.iommu-isolation"
    let title = "VFs are isolated: one IOMMU group each, ACS controls enabled"
    let requirement = "pci.functions[].acs.required; one IOMMU group per function"
    // It may enable VFs for the time of the check.
    let runsConcurrently = false

    func covers(_ profile: Profile) -> [String] {
        profile.expectedFunctions.flatMap { function in
            (function.sriov != nil ? [RequirementPath.function(function, "sriov")] : [])
                + (function.acs != nil ? [RequirementPath.function(function, "acs")] : [])
        }
    }

    func skipReason(_ context: TestContext) -> String? {
        context.pci.bus.source.sysfsRoot == nil ? "IOMMU groups are not known for \(context.pci.bus.source)" : nil
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let before = try inventory(context)
        var checks: [Check] = []
        var evidence: [String] = []
        var examined = 0
        for matched in context.profile.matched(in: before) {
            for pf in matched.functions where !context.isCancelled {
                // With no VFs enabled there is nothing to isolate; enable the profile's
                // count where that is allowed, so the groups of real VFs are judged.
                var enabled: VFEnablement?
                if before.virtualFunctions(of: pf.address).isEmpty, let sriov = matched.specification.sriov,
                   sriov.enableAllowed, sriov.enableVFs > 0, let control = context.pci.sriovControl {
                    do {
                        enabled = try VFEnablement(pf: pf, count: sriov.enableVFs, control: control)
                        evidence.append("\(pf.address): no VFs present; enabled \(sriov.enableVFs) for this check")
                    } catch {
                        checks.append(Check("\(pf.address) enable VFs", expected: "the write to succeed",
                                            observed: "\(error)", holds: false))
                    }
                }
                defer { enabled?.restore(evidence: &evidence) }
                let current = enabled == nil ? before : try inventory(context)
                let members = [current.function(at: pf.address) ?? pf] + current.virtualFunctions(of: pf.address)
                examined += members.count
                checks += isolationChecks(members: members, pf: pf, required: matched.specification.acs?.required ?? [],
                                          evidence: &evidence)
            }
        }
        return .judged(checks, evidence: evidence,
                       examined: functionsExamined(examined, "matching the profile, with their VFs"),
                       passMessage: "every function isolated")
    }

    private func isolationChecks(members: [PCIFunction], pf: PCIFunction, required: [Profile.ACSControl],
                                 evidence: inout [String]) -> [Check] {
        var checks: [Check] = []
        evidence.append("\(pf.address): " + members.map { "\($0.address) group \($0.iommuGroup.map(String.init) ?? "none")" }
            .joined(separator: ", "))
        let withoutGroup = members.filter { $0.iommuGroup == nil }
        checks.append(Check("\(pf.address) IOMMU groups", expected: "every function in an IOMMU group",
                            observed: withoutGroup.isEmpty ? "all grouped" :
                                "no group for " + withoutGroup.map(\.address.description).joined(separator: ", "),
                            holds: withoutGroup.isEmpty))
        let groups = Dictionary(grouping: members.filter { $0.iommuGroup != nil }, by: { $0.iommuGroup! })
        let shared = groups.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        checks.append(Check("\(pf.address) IOMMU group sharing", expected: "one function per group",
                            observed: shared.isEmpty ? "none shared" : shared.map { group in
                                "group \(group.key) holds \(group.value.map(\.address.description).joined(separator: ", "))"
                            }.joined(separator: "; "),
                            holds: shared.isEmpty))
        guard !required.isEmpty else { return checks }
        guard let acs = pf.config.acs else {
            checks.append(Check("\(pf.address) ACS", expected: required.map(\.rawValue).joined(separator: ","),
                                observed: "no ACS capability", holds: false))
            return checks
        }
        let disabled = required.filter { acs.control.rawValue & (1 << UInt16($0.bit)) == 0 }
        evidence.append("\(pf.address): ACSCtl \(acs.control.names.joined(separator: ","))")
        checks.append(Check("\(pf.address) ACS controls", expected: required.map(\.rawValue).joined(separator: ",") + " enabled",
                            observed: disabled.isEmpty ? "enabled" : "disabled: " + disabled.map(\.rawValue).joined(separator: ","),
                            holds: disabled.isEmpty))
        return checks
    }
}

/// VFs enabled for the time of a check, and what to restore afterwards.
struct VFEnablement {
    let pf: PCIAddress
    let original: Int
    let control: any SRIOVControl

    init(pf function: PCIFunction, count: Int, control: any SRIOVControl) throws(SRIOVControlError) {
        pf = function.address
        original = function.sriov.map { $0.vfEnabled ? $0.numVFs : 0 } ?? 0
        self.control = control
        if original > 0 { try control.setNumVFs(0, on: pf) }
        try control.setNumVFs(count, on: pf)
    }

    func restore(evidence: inout [String]) {
        do {
            try control.setNumVFs(0, on: pf)
            if original > 0 { try control.setNumVFs(original, on: pf) }
        } catch {
            evidence.append("\(pf): restoring \(original) VFs failed: \(error)")
        }
    }
}

/// MSI-X is present with at least the vectors the profile requires.
struct MSIXVectors: CertificationTest {
    let id = "pci.msix-vectors"
    let title = "MSI-X table offers the required vectors"
    let requirement = "pci.functions[].msix.minVectors"

    /// A minimum where the profile states one; otherwise the `msix` capability of the
    /// function's presence requirement, which this check backs with at least one vector.
    func covers(_ profile: Profile) -> [String] {
        paths(profile, where: { $0.msix != nil }, "msix")
            + paths(profile, where: { $0.msix == nil && $0.capabilities.contains(.msix) })
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let inventory = try inventory(context)
        var checks: [Check] = []
        var measurements: [MeasuredValue] = []
        var evidence: [String] = []
        let minimumVectors: (Profile.PCIFunction) -> Int? = { specification in
            specification.msix?.minVectors ?? (specification.capabilities.contains(.msix) ? 1 : nil)
        }
        let judged = context.profile.requirements(in: inventory, minimumVectors)
        for (minimum, function) in judged {
            guard let msix = function.config.msix else {
                checks.append(Check("\(function.address) MSI-X", expected: ">= \(minimum) vectors", observed: "no MSI-X capability", holds: false))
                continue
            }
            evidence.append("\(function.address): MSI-X table size \(msix.tableSize), \(msix.enabled ? "enabled" : "disabled")")
            measurements.append(MeasuredValue(name: "msix_vectors", value: Double(msix.tableSize), unit: "count",
                                              threshold: Threshold(.greaterThanOrEqual, Double(minimum))))
        }
        return .judged(checks, measurements: measurements, evidence: evidence,
                       examined: functionsExamined(judged.count, "that the profile requires MSI-X of"),
                       passMessage: "MSI-X vectors meet the profile")
    }
}
