// dpucert: the command-line front end. Each subcommand lives in its own file and
// only parses arguments, calls the library modules and maps outcomes to exit codes.
import ArgumentParser
import Foundation

@main
struct DPUCert: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dpucert",
        abstract: "Test and certification suite for SmartNICs and DPUs.",
        version: version,
        subcommands: [InventoryCommand.self, ProfileCommand.self, EmulateCommand.self, RunCommand.self, AgentCommand.self]
    )

    /// As ArgumentParser's, except that usage errors exit 2, as the CLI contract says
    /// (ArgumentParser's own default is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(inputErrorExitCode.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// Exit status for bad usage, profiles or input (the CLI contract's 2).
let inputErrorExitCode = ExitCode(2)
