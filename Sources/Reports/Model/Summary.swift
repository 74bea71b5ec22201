import Foundation

/// What the run says about the device.
public enum Verdict: String, Sendable, Codable, Hashable, CaseIterable {
    /// Hardware run of the whole plan, completed, every check passed and every requirement
    /// of the profile examined.
    case certified
    /// Hardware run in which at least one test failed.
    case notCertified = "not-certified"
    /// Nothing failed, but the run cannot vouch for the device: a check errored or was
    /// skipped, a requirement went unexamined, the run was aborted or limited with
    /// `--only`, or no check passed at all.
    case inconclusive
    /// Emulated run that would have been `certified` (or a partial emulated run whose
    /// selected checks all passed); never a certification.
    case emulatedPass = "emulated-pass"
    /// Emulated run in which at least one test failed.
    case emulatedFail = "emulated-fail"

    /// Derives the verdict. Precedence: a failed test outranks everything (a defect was
    /// found); errors, aborts and a run where nothing passed are inconclusive; a partial
    /// run is never certified; a whole run needs every check passed and every requirement
    /// examined (a run that knows of no requirement vouches for nothing).
    public static func derive(mode: RunMode, results: [TestResult], status: RunStatus,
                              coverage: [CoverageEntry], partial: Bool) -> Verdict {
        let statuses = Set(results.map(\.status))
        if statuses.contains(.failed) {
            return mode.isEmulation ? .emulatedFail : .notCertified
        }
        if statuses.contains(.error) || status == .aborted || !statuses.contains(.passed) {
            return .inconclusive
        }
        if partial || status == .partial {
            return mode.isEmulation ? .emulatedPass : .inconclusive
        }
        if statuses.contains(.skipped) || coverage.isEmpty || coverage.contains(where: { $0.outcome != .passed }) {
            return .inconclusive
        }
        return mode.isEmulation ? .emulatedPass : .certified
    }

    /// The exit code contract: 0 passed, 1 a test failed, 3 the run could not conclude.
    public var exitCode: RunExitCode {
        switch self {
        case .certified, .emulatedPass: .passed
        case .notCertified, .emulatedFail: .testFailed
        case .inconclusive: .incomplete
        }
    }
}

/// Process exit codes of `dpucert run` (DESIGN: CLI contract).
public enum RunExitCode: Int32, Sendable, Hashable, CaseIterable {
    /// Every required test passed.
    case passed = 0
    /// A test failed: not certified. Outranks errors in the same run.
    case testFailed = 1
    /// Usage, profile or input error; the run did not start.
    case usageError = 2
    /// The run could not be completed or could not conclude (infrastructure error, failed
    /// positive control, aborted, nothing passed).
    case incomplete = 3
}

/// Counts per status and the verdict.
public struct Summary: Sendable, Codable, Hashable {
    public var total: Int
    public var passed: Int
    public var failed: Int
    public var errored: Int
    public var skipped: Int
    public var verdict: Verdict

    public init(results: [TestResult], mode: RunMode, runStatus: RunStatus, coverage: [CoverageEntry], partial: Bool) {
        total = results.count
        passed = results.count { $0.status == .passed }
        failed = results.count { $0.status == .failed }
        errored = results.count { $0.status == .error }
        skipped = results.count { $0.status == .skipped }
        verdict = Verdict.derive(mode: mode, results: results, status: runStatus, coverage: coverage, partial: partial)
    }

    /// The count for one status.
    public func count(of status: TestStatus) -> Int {
        switch status {
        case .passed: passed
        case .failed: failed
        case .error: errored
        case .skipped: skipped
        }
    }
}
