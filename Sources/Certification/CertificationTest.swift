// Certification: the test model, the plan derived from a profile, the runner, the
// suites and the verdict. Tests see hardware only through protocols (`PCIBus`,
// `SRIOVControl`, ...) handed in by the composition root; nothing here knows whether
// a device is real or emulated, and nothing here imports the emulator.
import Foundation
import Profiles
import Reports

/// One certification check. Bodies are synchronous and run on their own thread, so a
/// check that blocks in a system call cannot starve the others; long bodies poll
/// `context.isCancelled` between steps and return soon after it turns true (the
/// runner cancels a check at its deadline and waits only a grace period for it).
public protocol CertificationTest: Sendable {
    /// `suite.name`, lower-case with dashes.
    var id: String { get }
    var title: String { get }
    /// The profile requirement the check verifies, in words.
    var requirement: String { get }
    /// The requirement paths of `profile` (`Profile.requirementPaths`) this check
    /// examines: the run's coverage list is built from them.
    func covers(_ profile: Profile) -> [String]
    var timeout: Duration { get }
    /// Whether the check may run beside others of its suite without disturbing
    /// their measurements (or they its own).
    var runsConcurrently: Bool { get }
    /// Nil when the check can run; otherwise why it is skipped.
    func skipReason(_ context: TestContext) -> String?
    func run(_ context: TestContext) throws -> TestOutcome
}

extension CertificationTest {
    public var suite: String { String(id.prefix { $0 != "." }) }
    public var timeout: Duration { .seconds(60) }
    public var runsConcurrently: Bool { true }
    public func skipReason(_ context: TestContext) -> String? { nil }
}

/// What a check looked at: how many items (functions, probes, addresses, samples) and
/// what they were. A verdict rests on these; a check that examined nothing proves nothing.
public struct Examined: Sendable, Hashable {
    public var count: Int
    /// The lower_snake_case measurement the count is recorded as (`functions_examined`).
    public var measurement: String
    /// What was looked for, in words (`PCI functions the profile gives a link requirement`).
    public var what: String

    public init(_ count: Int, _ what: String, as measurement: String) {
        self.count = count
        self.what = what
        self.measurement = measurement
    }
}

/// What a check concluded. `failed` is a defect of the device; `error` means the
/// check could not conclude (a positive control failed, the harness broke, nothing
/// was there to examine).
public struct TestOutcome: Sendable, Hashable {
    public var status: TestStatus
    public var message: String
    public var measurements: [MeasuredValue]
    public var evidence: [String]
    public var series: [DataSeries]
    /// What the check examined; required for `passed` and `failed` (see `withEvidenceRule`).
    public var examined: Examined?

    public init(status: TestStatus, message: String, measurements: [MeasuredValue] = [],
                evidence: [String] = [], series: [DataSeries] = [], examined: Examined? = nil) {
        self.status = status
        self.message = message
        self.measurements = measurements
        self.evidence = evidence
        self.series = series
        self.examined = examined
    }

    /// Passed when every check in `checks` held and every measurement met its threshold;
    /// otherwise failed with the failing checks as the message (each names the expected
    /// and the observed value).
    public static func judged(_ checks: [Check], measurements: [MeasuredValue] = [], evidence: [String],
                              series: [DataSeries] = [], examined: Examined, passMessage: String) -> TestOutcome {
        let failures = checks.filter { !$0.holds }.map(\.description)
            + measurements.filter { !$0.passed }.map { measured in
                let required = measured.threshold.map { "\($0.op.rawValue) \(number($0.value)) \(measured.unit)" } ?? "a finite value"
                return "\(measured.name): expected \(required), observed \(number(measured.value)) \(measured.unit)"
            }
        return TestOutcome(status: failures.isEmpty ? .passed : .failed,
                           message: failures.isEmpty ? passMessage : failures.joined(separator: "; "),
                           measurements: measurements, evidence: evidence, series: series, examined: examined)
    }

    /// The evidence rule, applied by the runner to every outcome: a verdict (`passed` or
    /// `failed`) needs something examined. A check that does not say what it examined, or
    /// examined nothing, is `error` ("nothing to examine: ..."), never a verdict; the count
    /// is recorded as a measurement that must be at least 1.
    public func withEvidenceRule() -> TestOutcome {
        var ruled = self
        guard let examined else {
            if status == .passed || status == .failed {
                ruled.status = .error
                ruled.message = "no evidence: the check did not record what it examined (\(message))"
            }
            return ruled
        }
        ruled.measurements.append(MeasuredValue(name: examined.measurement, value: Double(examined.count), unit: "count",
                                                threshold: Threshold(.greaterThanOrEqual, 1)))
        if examined.count == 0 && (status == .passed || status == .failed) {
            ruled.status = .error
            ruled.message = "nothing to examine: found no \(examined.what)"
        }
        return ruled
    }
}

/// One expectation of a check, with what was expected and what was observed.
public struct Check: Sendable, Hashable, CustomStringConvertible {
    public var subject: String
    public var expected: String
    public var observed: String
    public var holds: Bool

    public init(_ subject: String, expected: String, observed: String, holds: Bool) {
        self.subject = subject
        self.expected = expected
        self.observed = observed
        self.holds = holds
    }

    public var description: String { "\(subject): expected \(expected), observed \(observed)" }
}

/// Thrown by a check whose positive control failed: what it looks for is not even
/// there, so a "blocked" or "absent" reading would prove nothing. Always `error`.
public struct PositiveControlFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var evidence: [String]

    public init(_ reason: String, evidence: [String] = []) {
        self.reason = reason
        self.evidence = evidence
    }

    public var description: String { "positive control failed: \(reason)" }
}

/// A figure as people write it: `8`, not `8.0`; `0.25` as is.
public func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}
