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
    ])
    func mapping(arguments: [String], status: Int32, prefix: String) throws {
        let result = try dpucert(arguments)
        #expect(result.status == status, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardError.hasPrefix(prefix), "\(result.standardError)")
    }
}
