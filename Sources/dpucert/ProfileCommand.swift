import ArgumentParser
import Profiles

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Work with device profiles.",
        subcommands: [Validate.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check profiles: every problem with file, line, column and key path; exit 2 if any."
        )

        @Argument(help: "Profile files (YAML).")
        var files: [String]

        func run() throws {
            let diagnostics = ProfileLoader.validate(paths: files)
            guard diagnostics.isEmpty else {
                throw CLIError(.input, located: diagnostics.map(\.description).joined(separator: "\n"))
            }
            for file in files { print("\(file): valid") }
        }
    }
}
