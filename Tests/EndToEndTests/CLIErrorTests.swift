import Testing

@Suite("Command-line errors: one message line, one exit status per kind", .runsDpucert)
struct CLIErrorTests {
    static let profile = "profiles/emulated-smartnic.yaml"

    @Test("each failure prints its command's prefix and exits with its kind's status", arguments: [
        (["inventory", "--sysfs-root", "/nonexistent"], Int32(2), "dpucert inventory: "),
        (["run", "--profile", profile, "--fault", "no-such-fault"], 2, "dpucert: "),
        (["emulate", "up", "--profile", profile, "--name", "e2e", "--fault", "pci-aer-errors"], 2, "dpucert emulate up: "),
        (["emulate", "down", "--name", "not a name"], 2, "dpucert emulate down: "),
        (["emulate", "fleet", "--cards", "1", "--vfs", "1", "--out", "/proc/dpucert-not-writable"], 2, "dpucert emulate fleet: "),
        // The state directory cannot be created: infrastructure, not input.
        (["emulate", "up", "--profile", profile, "--name", "e2e", "--state-dir", "/proc/dpucert-not-writable"], 3,
         "dpucert emulate up: "),
        (["run", "--profile", profile, "--no-such-option"], 2, "Error: "),
        (["emulate", "sysfs", "--profile", profile, "--out", "/tmp/dpucert-e2e-unused", "--fault", "isolation-tenant-leak"], 2,
         "dpucert emulate sysfs: isolation-tenant-leak: lab, storage and VM faults need a lab"),
    ])
    func mapping(arguments: [String], status: Int32, prefix: String) throws {
        let result = try dpucert(arguments)
        #expect(result.status == status, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardError.hasPrefix(prefix), "\(result.standardError)")
    }

    @Test("an unknown fault lists every valid one, PCI and lab alike")
    func unknownFault() throws {
        let result = try dpucert(["emulate", "sysfs", "--profile", Self.profile, "--out", "/tmp/dpucert-e2e-unused",
                                  "--fault", "pci-link-flap"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("unknown fault 'pci-link-flap'; valid faults: pci-link-downgrade,"))
        #expect(result.standardError.contains("pci-management-function-exposed, isolation-firewall-open,"))
    }

    @Test("`emulate faults` lists each fault once with its domain and the checks it breaks")
    func faultListing() throws {
        let result = try dpucert(["emulate", "faults"])
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(result.status == 0)
        #expect(lines.contains { $0.hasPrefix("pci-aer-errors [pci] ") && $0.hasSuffix("(breaks: pci.aer-clean)") })
        #expect(lines.contains { $0.hasPrefix("isolation-tenant-leak [lab] ") && $0.hasSuffix("(breaks: isolation.tenant-separation)") })
        let names = lines.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(Set(names).count == names.count && names.count == lines.count)
    }
}
