import Foundation
import Reports

/// Told about the run as it goes, for live progress and logs.
public protocol RunObserver: Sendable {
    func testStarted(_ test: any CertificationTest)
    func testProgress(_ test: any CertificationTest, _ line: String)
    func testFinished(_ result: TestResult)
}

/// Runs a plan: suites in order; inside a suite the checks that may share the machine
/// run side by side, then the others one at a time. Every check has a deadline: a hung
/// check becomes `error` and the run goes on. Interruption stops launching checks,
/// marks the ones in flight `error` and the rest `skipped`, and returns what was found.
public struct TestRunner: Sendable {
    public let tests: [any CertificationTest]

    public init(tests: [any CertificationTest]) {
        self.tests = tests
    }

    /// Keeps the checks whose id matches one of `globs` (shell patterns); all when empty.
    public static func select(_ tests: [any CertificationTest], only globs: [String]) -> [any CertificationTest] {
        guard !globs.isEmpty else { return tests }
        return tests.filter { test in globs.contains { fnmatch($0, test.id, 0) == 0 } }
    }

    public func run(context: TestContext, observer: any RunObserver) -> [TestResult] {
        var results: [TestResult] = []
        var suites: [String] = []
        for test in tests where !suites.contains(test.suite) { suites.append(test.suite) }
        for suite in suites {
            let members = tests.filter { $0.suite == suite }
            let batches = [members.filter(\.runsConcurrently)] + members.filter { !$0.runsConcurrently }.map { [$0] }
            for batch in batches where !batch.isEmpty {
                results += runBatch(batch, context: context, observer: observer)
            }
        }
        return results
    }

    private func runBatch(_ batch: [any CertificationTest], context: TestContext, observer: any RunObserver) -> [TestResult] {
        let inFlight = batch.map { test in InFlight(test: test, context: context, observer: observer) }
        return inFlight.map { $0.wait(cancellation: context.cancellation) }.map { result in
            observer.testFinished(result)
            return result
        }
    }
}

/// One check running on its own thread, with its deadline.
private final class InFlight: @unchecked Sendable {
    let test: any CertificationTest
    let started = ContinuousClock.now
    let startedAt = Date()
    private let done = DispatchSemaphore(value: 0)
    // Written by the check's thread before `done` is signalled, read after.
    private var outcome: TestOutcome?

    init(test: any CertificationTest, context: TestContext, observer: any RunObserver) {
        self.test = test
        if context.isCancelled {
            outcome = TestOutcome(status: .skipped, message: "not run: the run was aborted")
            done.signal()
            return
        }
        let testContext = context.forTest { [test] line in observer.testProgress(test, line) }
        if let reason = test.skipReason(testContext) {
            outcome = TestOutcome(status: .skipped, message: reason)
            done.signal()
            return
        }
        observer.testStarted(test)
        let thread = Thread { [self] in
            self.outcome = Self.execute(test, testContext)
            self.done.signal()
        }
        thread.name = test.id
        thread.start()
    }

    static func execute(_ test: any CertificationTest, _ context: TestContext) -> TestOutcome {
        do {
            return try test.run(context)
        } catch let failure as PositiveControlFailure {
            return TestOutcome(status: .error, message: failure.description, evidence: failure.evidence)
        } catch {
            return TestOutcome(status: .error, message: "the check could not complete: \(error)")
        }
    }

    func wait(cancellation: CancellationFlag) -> TestResult {
        let deadline = started + test.timeout
        var final: TestOutcome?
        while final == nil {
            if done.wait(timeout: .now() + .milliseconds(50)) == .success {
                final = outcome
                break
            }
            if cancellation.isCancelled {
                final = TestOutcome(status: .error, message: "interrupted: the run was aborted while this check ran")
            } else if ContinuousClock.now >= deadline {
                final = TestOutcome(status: .error, message: "timed out after \(test.timeout.formatted)")
            }
        }
        let outcome = final ?? TestOutcome(status: .error, message: "the check ended without a result")
        let elapsed = ContinuousClock.now - started
        return TestResult(id: test.id, suite: test.suite, title: test.title, requirement: test.requirement,
                          status: outcome.status, durationSeconds: elapsed.seconds, message: outcome.message,
                          measurements: outcome.measurements, evidence: outcome.evidence, series: outcome.series)
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    var formatted: String {
        let value = seconds
        return value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
