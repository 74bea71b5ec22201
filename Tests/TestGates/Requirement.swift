// TestGates: what a test needs from the machine beyond the package (network namespaces,
// the files in shared/ beside the checkout, external programs) and the one trait that
// gates a test on it, `.requires(...)`. Every such gate in the test targets is written here.
import Foundation
import Synchronization

/// Something a test needs that the package cannot provide, with how to get it. It is
/// checked at most once, when a test that needs it is first planned.
public struct Requirement: Sendable {
    /// What is needed, as skip and failure messages name it ("xmllint").
    public let name: String
    /// How to get it ("apt-get install -y libxml2-utils").
    public let remedy: String
    private let check: Check

    /// `findProblem` says what is wrong on this machine, or returns nil when the
    /// requirement is met.
    public init(name: String, remedy: String, findProblem: @escaping @Sendable () -> String?) {
        self.name = name
        self.remedy = remedy
        check = Check(findProblem)
    }

    /// Why the requirement is not met here, or nil when it is.
    public var problem: String? { check.problem }

    /// Throws `MissingRequirements` naming this requirement when it is not met: for code
    /// that uses a requirement, so a test that forgot to declare it fails saying what is missing.
    public func require() throws(MissingRequirements) {
        if problem != nil { throw MissingRequirements(requirements: [self]) }
    }

    /// "xmllint (not installed): apt-get install -y libxml2-utils"
    var explanation: String { "\(name) (\(problem ?? "present")): \(remedy)" }
}

/// Requirements something needed and did not find.
public struct MissingRequirements: Error, CustomStringConvertible {
    public let requirements: [Requirement]

    public init(requirements: [Requirement]) { self.requirements = requirements }

    public var description: String { "missing " + requirements.map(\.explanation).joined(separator: "; ") }
}

/// A check run once, on first use: some create a network namespace or start Python, and a
/// requirement is asked for by every test it gates.
private final class Check: Sendable {
    private let findProblem: @Sendable () -> String?
    private let outcome = Mutex<String??>(nil)

    init(_ findProblem: @escaping @Sendable () -> String?) { self.findProblem = findProblem }

    var problem: String? {
        outcome.withLock { outcome in
            if let known = outcome { return known }
            let found = findProblem()
            outcome = .some(found)
            return found
        }
    }
}
