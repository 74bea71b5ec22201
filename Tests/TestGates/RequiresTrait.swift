// TestGates: the `.requires(...)` trait, which decides what a missing requirement does to
// a test: a skip with the reason on a developer's machine, a failure under CI.
import Foundation
import Testing

/// Gates a test or suite on requirements. Where one is missing, the test is skipped with
/// what is missing and how to get it; with `CI` set it runs and fails saying the same,
/// because on a CI machine a missing requirement is lost coverage nobody would notice.
public struct RequiresTrait: TestTrait, SuiteTrait, TestScoping {
    public let requirements: [Requirement]
    let sourceLocation: SourceLocation

    /// A suite's requirements reach each of its tests, so under CI each test fails on its own.
    public var isRecursive: Bool { true }

    var missing: [Requirement] { requirements.filter { $0.problem != nil } }

    public func prepare(for test: Test) async throws {
        let missing = missing
        guard !missing.isEmpty, !Self.isCI else { return }
        let reason = "needs " + missing.map(\.explanation).joined(separator: "; ")
        try await ConditionTrait.disabled(Comment(rawValue: reason), sourceLocation: sourceLocation).prepare(for: test)
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws
    {
        let missing = missing
        guard missing.isEmpty else {
            // Only reached under CI: elsewhere `prepare` skipped the test.
            Issue.record(MissingRequirements(requirements: missing),
                         "CI is set, so a missing requirement fails the test instead of skipping it",
                         sourceLocation: sourceLocation)
            return
        }
        try await function()
    }

    /// Whether `CI` is set to something other than "", 0, false or no.
    static let isCI: Bool = {
        guard let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() else { return false }
        return !["", "0", "false", "no"].contains(value)
    }()
}

extension Trait where Self == RequiresTrait {
    /// Runs the test only where every one of `requirements` is met; under CI, fails it
    /// naming those that are not.
    public static func requires(_ requirements: Requirement..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        RequiresTrait(requirements: requirements, sourceLocation: sourceLocation)
    }
}
