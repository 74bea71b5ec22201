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
    /// (ArgumentParser's own default is 64), and a `CLIError` prints its message and
    /// exits with its kind's status.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CLIError {
            printError(error.message)
            Foundation.exit(error.kind.exitCode)
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(CLIError.Kind.input.exitCode)
            }
            exit(withError: error)
        }
    }
}
