import Foundation
import Profiles
import Reports

/// Why a command ended without its normal outcome. Commands throw it; `DPUCert.main`
/// prints the message to standard error and exits with the kind's status, so the
/// mapping from failures to exit codes lives in one place.
struct CLIError: Error {
    enum Kind: CaseIterable {
        /// Usage, profile or input error: the caller's to fix (exit 2).
        case input
        /// The command could not be completed: infrastructure, not input (exit 3).
        case incomplete

        var exitCode: Int32 {
            switch self {
            case .input: RunExitCode.usageError.rawValue
            case .incomplete: RunExitCode.incomplete.rawValue
            }
        }
    }

    var kind: Kind
    /// What standard error gets, one or more whole lines.
    var message: String

    /// `dpucert COMMAND: detail`, or `dpucert: detail` where no one subcommand is meant.
    init(_ kind: Kind, command: String?, _ detail: String) {
        self.kind = kind
        self.message = "dpucert\(command.map { " \($0)" } ?? ""): \(detail)"
    }

    /// A message that already says where it comes from (profile diagnostics name
    /// file, line and column), printed as it is.
    init(_ kind: Kind, located message: String) {
        self.kind = kind
        self.message = message
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension CLIError {
    /// The profile at `path`; one that cannot be loaded is an input error naming file, line and key.
    static func loadProfile(_ path: String) throws -> Profile {
        do {
            return try ProfileLoader.load(path: path)
        } catch {
            throw CLIError(.input, located: error.description)
        }
    }
}
