import Foundation

/// How far a profile requirement was examined in this run.
public enum CoverageOutcome: String, Sendable, Codable, Hashable, CaseIterable {
    /// Every check that examines it passed.
    case passed
    /// A check that examines it failed: the device does not meet it.
    case failed
    /// A check that examines it could not conclude.
    case error
    /// No check examined it: none exists for it, or those that do were skipped.
    case skipped
    /// Its checks were left out of a partial run (`--only`).
    case leftOut = "left-out"

    /// The outcome of a requirement examined by `checks`, from the statuses their results
    /// have (`statusByID`): left out when none of them ran, else as `combining` says.
    public static func of(checks: [String], in statusByID: [String: TestStatus]) -> CoverageOutcome {
        let statuses = checks.compactMap { statusByID[$0] }
        return !checks.isEmpty && statuses.isEmpty ? .leftOut : combining(statuses)
    }

    /// The outcome of a requirement from the statuses of the checks that examine it:
    /// a failure outranks an error, an error a skip; passed only when all passed.
    public static func combining(_ statuses: [TestStatus]) -> CoverageOutcome {
        if statuses.isEmpty { return .skipped }
        if statuses.contains(.failed) { return .failed }
        if statuses.contains(.error) { return .error }
        if statuses.contains(.skipped) { return .skipped }
        return .passed
    }
}

/// One requirement of the profile, the checks that examine it, and how it came out.
public struct CoverageEntry: Sendable, Codable, Hashable {
    /// The requirement's key path in the profile (`pci.functions[network-pf].link`,
    /// `network.minTcpThroughputGbps`).
    public var requirement: String
    /// Ids of the checks that examine it; empty when no check does.
    public var checks: [String]
    public var outcome: CoverageOutcome

    public init(requirement: String, checks: [String], outcome: CoverageOutcome) {
        self.requirement = requirement
        self.checks = checks
        self.outcome = outcome
    }

    /// `pci.functions[network-pf].link → pci.link-speed-width: passed`.
    public var line: String {
        "\(requirement) → \(checks.isEmpty ? "no check" : checks.joined(separator: ", ")): \(outcome.rawValue)"
    }
}

/// A run limited to some checks (`--only`): the patterns and the checks of the plan
/// they left out.
public struct RunSelection: Sendable, Codable, Hashable {
    public var only: [String]
    public var leftOut: [String]

    public init(only: [String], leftOut: [String]) {
        self.only = only
        self.leftOut = leftOut
    }
}

extension Array where Element == TestResult {
    /// Each result's status by its id (the first, should an id repeat).
    public var statusByID: [String: TestStatus] {
        Dictionary(map { ($0.id, $0.status) }, uniquingKeysWith: { first, _ in first })
    }
}
