import ArgumentParser
import Certification
import Crypto
import Foundation
import Inventory
import Logging
import Profiles
import Reports

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Qualify a card against its profile and write JUnit, JSON and HTML reports.",
        discussion: """
        Exit status: 0 every required check passed; 1 a check failed; 2 usage, profile or \
        input error; 3 the run could not be completed (infrastructure error, positive \
        control failed, aborted).
        """
    )

    @Option(help: "The device profile (YAML).")
    var profile: String

    @Flag(help: "Run against an emulated card built from the profile.")
    var emulated = false

    @Flag(help: "Run against the hardware on this host's PCI bus.")
    var hardware = false

    @Flag(help: "Run inside a QEMU guest (the VM testbed): QEMU's NVMe and virtio-net functions under a real Linux kernel.")
    var vm = false

    @Option(help: "Use an emulated lab made by `emulate up` (with --vm: a guest made by `emulate vm up`) and leave it standing.")
    var lab: String?

    @OptionGroup var stateDirectory: LabStateDirectoryOption

    @OptionGroup var vmStateDirectory: VMStateDirectoryOption

    /// Set by the VM testbed on the run it starts inside its guest: the report's mode is then `vm`.
    @Flag(help: .hidden)
    var vmGuest = false

    @Option(help: "A hardware testbed file (testbeds/*.yaml): where the DPU's agents and management plane are. Implies --hardware.")
    var testbed: String?

    @Option(help: "Run only checks whose id matches this shell pattern (repeatable).")
    var only: [String] = []

    @Option(help: "Output folder (default: reports/<UTC timestamp>-<profile id>/).")
    var out: String?

    @Option(help: "JUnit XML output file.")
    var junit: String?

    @Option(help: "JSON report output file.")
    var json: String?

    @Option(help: "HTML report output file.")
    var html: String?

    @Option(help: "CTRF JSON output file (written only when given).")
    var ctrf: String?

    @Option(help: "Inject an emulation fault (repeatable; see `dpucert emulate faults`).")
    var fault: [String] = []

    @Flag(help: "Print only failures and the summary.")
    var quiet = false

    @Flag(help: "Print evidence lines and diagnostics.")
    var verbose = false

    func validate() throws {
        if emulated && hardware { throw ValidationError("--emulated and --hardware are alternatives") }
        if vm && (emulated || hardware || testbed != nil) {
            throw ValidationError("--vm runs in a QEMU guest; it cannot be combined with --emulated, --hardware or --testbed")
        }
        if quiet && verbose { throw ValidationError("--quiet and --verbose are alternatives") }
        if hardware && !fault.isEmpty { throw ValidationError("faults can only be injected into an emulated run") }
        if hardware && lab != nil { throw ValidationError("--lab names an emulated lab; it cannot be combined with --hardware") }
        if testbed != nil && (emulated || lab != nil || !fault.isEmpty) {
            throw ValidationError("--testbed describes real hardware; it cannot be combined with --emulated, --lab or --fault")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return handler
        }
        let loaded = try CLIError.loadProfile(profile)
        let observer = ConsoleObserver(detail: quiet ? .quiet : verbose ? .verbose : .normal)
        let code = vm ? try VMRunSession(arguments: self, profile: loaded, observer: observer).execute()
            : try RunSession(arguments: self, profile: loaded, observer: observer).execute()
        throw ExitCode(code)
    }
}

extension RunCommand {
    /// SHA-256 of the profile file as read, for the report.
    func profileDigest() throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: profile))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
