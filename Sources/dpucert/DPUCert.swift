// dpucert: the command-line front end. Each subcommand lives in its own file and
// only parses arguments, calls the library modules and maps outcomes to exit codes.
import ArgumentParser

@main
struct DPUCert: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dpucert",
        abstract: "Test and certification suite for SmartNICs and DPUs.",
        version: version,
        subcommands: [InventoryCommand.self, AgentCommand.self]
    )
}

/// Exit status for bad usage, profiles or input (the CLI contract's 2).
let inputErrorExitCode = ExitCode(2)
