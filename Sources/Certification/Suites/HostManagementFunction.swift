import Inventory
import Profiles
import Reports

/// The host sees the functions whose presence the management mode decides exactly in the
/// modes that show them: a restricted (zero-trust) host must not find the DPU's management
/// function (BlueField's SoC management interface, RShim) on its bus, through which it could
/// push boot images to the card, reach its Arm console and its management channel; a
/// privileged host must find it. An isolation finding read from the bus, so it runs with the
/// PCI checks on any PCI source, without a testbed.
struct HostManagementFunction: CertificationTest {
    let id = "isolation.host-management-function"
    let title = "The host sees the card's management function only in the modes that expose it"
    let requirement = "managementMode; pci.functions[].presentIn"

    func covers(_ profile: Profile) -> [String] {
        profile.modeDependentFunctions.map { RequirementPath.function($0, "presentIn") }
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let profile = context.profile
        let inventory = try inventory(context)
        let mode = profile.managementMode.map { "\($0.rawValue) mode" } ?? "no declared mode"
        var evidence = ["read \(inventory.functions.count) functions from \(inventory.source); the card is in \(mode)"]
        // The card itself must be on this bus: only then does an absent function say
        // something about the card rather than about where it was looked for.
        let everyMode = profile.pci.functions.filter { $0.presentIn == nil }.map(matching(inventory))
        guard everyMode.contains(where: { !$0.functions.isEmpty }) else {
            throw PositiveControlFailure(
                "none of the card's functions present in every mode is on the bus ("
                    + everyMode.map(\.label).joined(separator: ", ") + "), so an absent management function proves nothing",
                evidence: evidence)
        }
        evidence += everyMode.filter { !$0.functions.isEmpty }.map { "positive control held: \($0.label) at \(addresses($0))" }
        var checks: [Check] = []
        for matched in profile.modeDependentFunctions.map(matching(inventory)) {
            let specification = matched.specification
            let modes = (specification.presentIn ?? []).map(\.rawValue).joined(separator: ", ")
            let seen = matched.functions.isEmpty ? "absent" : "the host sees it at \(addresses(matched))"
            evidence.append("\(matched.label) (\(specification.role.rawValue), present in \(modes)): \(seen)")
            if specification.isPresent(in: profile.managementMode) {
                let times = specification.count > 1 ? " \(specification.count) times" : ""
                checks.append(Check("\(matched.label) in \(mode)", expected: "present" + times,
                                    observed: seen, holds: matched.functions.count == specification.count))
            } else {
                checks.append(Check("\(matched.label) in \(mode)", expected: "absent (present only in \(modes))",
                                    observed: matched.functions.isEmpty ? seen : "\(seen), although the card is in \(mode)",
                                    holds: matched.functions.isEmpty))
            }
        }
        return .judged(checks, evidence: evidence,
                       examined: Examined(checks.count, "functions whose presence the management mode decides",
                                          as: "functions_examined"),
                       passMessage: "in \(mode) the host sees exactly the functions that mode shows it")
    }

    /// The physical functions on the bus that `specification` stands for.
    private func matching(_ inventory: PCIInventory) -> (Profile.PCIFunction) -> MatchedFunctions {
        { specification in
            MatchedFunctions(specification: specification, functions: inventory.functions.filter(specification.matches))
        }
    }

    private func addresses(_ matched: MatchedFunctions) -> String {
        matched.functions.map(\.address.description).joined(separator: ", ")
    }
}
