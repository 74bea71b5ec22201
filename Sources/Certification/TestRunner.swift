import Dispatch
import Foundation
import Reports
import Synchronization

/// Told about the run as it goes, for live progress and logs.
public protocol RunObserver: Sendable {
    func testStarted(_ test: any CertificationTest)
    func testProgress(_ test: any CertificationTest, _ line: String)
    func testFinished(_ result: TestResult)
}

/// What the runner produced, and whether it had to stop early.
public struct RunnerOutcome: Sendable {
    public var results: [TestResult]
    /// Why the run stopped before its plan was done (interrupted, or a check that would
    /// not stop); nil when every check ran.
    public var abortReason: String?
}

/// Runs a plan: suites in order; inside a suite the checks that may share the machine
/// run side by side, then the others one at a time. Every check has a deadline: at the
/// deadline its cancellation token is set and the runner waits a grace period for the
/// body to return, so a check never runs beside the next serial one. A check that does
/// not stop within the grace period ends the run: the checks after it are `skipped` and
/// the run is aborted. Interruption (the run's token) does the same for all checks in
/// flight. Every outcome passes through the evidence rule.
public struct TestRunner: Sendable {
    public let tests: [any CertificationTest]
    /// How long a cancelled check may take to return.
    public let gracePeriod: Duration

    public init(tests: [any CertificationTest], gracePeriod: Duration = .seconds(15)) {
        self.tests = tests
        self.gracePeriod = gracePeriod
    }

    /// Keeps the checks whose id matches one of `globs` (shell patterns); all when empty.
    public static func select(_ tests: [any CertificationTest], only globs: [String]) -> [any CertificationTest] {
        guard !globs.isEmpty else { return tests }
        return tests.filter { test in globs.contains { fnmatch($0, test.id, 0) == 0 } }
    }

    public func run(context: TestContext, observer: any RunObserver) -> RunnerOutcome {
        var results: [TestResult] = []
        var abortReason: String?
        var suites: [String] = []
        for test in tests where !suites.contains(test.suite) { suites.append(test.suite) }
        for suite in suites {
            let members = tests.filter { $0.suite == suite }
            let batches = [members.filter(\.runsConcurrently)] + members.filter { !$0.runsConcurrently }.map { [$0] }
            for batch in batches where !batch.isEmpty {
                if abortReason == nil && context.isCancelled {
                    abortReason = "the run was interrupted"
                }
                if let abortReason {
                    results += batch.map { report($0, Self.notRun(abortReason), startedAt: .now, observer: observer) }
                    continue
                }
                let ran = runBatch(batch, context: context, observer: observer)
                results += ran.results
                abortReason = ran.abortReason
            }
        }
        return RunnerOutcome(results: results, abortReason: abortReason ?? (context.isCancelled ? "the run was interrupted" : nil))
    }

    private func runBatch(_ batch: [any CertificationTest], context: TestContext,
                          observer: any RunObserver) -> RunnerOutcome {
        let inFlight = batch.map { test in InFlight(test: test, context: context, observer: observer) }
        var results: [TestResult] = []
        var abortReason: String?
        for check in inFlight {
            let ending = check.wait(gracePeriod: gracePeriod, run: context.cancellation)
            if ending.refusedToStop {
                abortReason = "\(check.test.id) did not stop within \(gracePeriod.formatted) of being cancelled"
            }
            results.append(report(check.test, ending.outcome, startedAt: check.started, observer: observer))
        }
        return RunnerOutcome(results: results, abortReason: abortReason)
    }

    /// Every check reported as not run, for a run that ended before they could run (their
    /// run elsewhere, in a VM-testbed guest, never reported back).
    public func notRun(because reason: String, observer: any RunObserver) -> RunnerOutcome {
        RunnerOutcome(results: tests.map { report($0, Self.notRun(reason), startedAt: .now, observer: observer) },
                      abortReason: reason)
    }

    private static func notRun(_ reason: String) -> TestOutcome {
        TestOutcome(status: .skipped, message: "not run: the run was aborted (\(reason))")
    }

    private func report(_ test: any CertificationTest, _ outcome: TestOutcome, startedAt: ContinuousClock.Instant,
                        observer: any RunObserver) -> TestResult {
        let ruled = outcome.withEvidenceRule()
        let result = TestResult(id: test.id, suite: test.suite, title: test.title, requirement: test.requirement,
                                status: ruled.status, durationSeconds: (ContinuousClock.now - startedAt).seconds,
                                message: ruled.message, measurements: ruled.measurements, evidence: ruled.evidence,
                                series: ruled.series)
        observer.testFinished(result)
        return result
    }
}

/// One check running on its own thread, with its own cancellation token. The thread
/// stores the outcome and signals `wake`; the token's cancellation signals it too, so
/// the runner sleeps until something happens rather than polling.
private final class InFlight: Sendable {
    let test: any CertificationTest
    let started = ContinuousClock.now
    private let token: CancellationFlag
    private let releaseToken: @Sendable () -> Void
    private let outcome = Mutex<TestOutcome?>(nil)
    private let wake = DispatchSemaphore(value: 0)

    init(test: any CertificationTest, context: TestContext, observer: any RunObserver) {
        self.test = test
        (token, releaseToken) = context.cancellation.child()
        token.onCancel { [wake] in wake.signal() }
        let testContext = context.forTest(cancellation: token) { [test] line in observer.testProgress(test, line) }
        if let reason = test.skipReason(testContext) {
            finish(TestOutcome(status: .skipped, message: reason))
            return
        }
        observer.testStarted(test)
        let thread = Thread { [self] in
            self.finish(Self.execute(test, testContext))
        }
        thread.name = test.id
        thread.start()
    }

    deinit { releaseToken() }

    private func finish(_ ended: TestOutcome) {
        outcome.withLock { $0 = ended }
        wake.signal()
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

    /// Sleeps until the body returns or `instant` passes; the body's outcome if it returned.
    private func outcome(by instant: ContinuousClock.Instant, unless stop: () -> Bool = { false }) -> TestOutcome? {
        while true {
            if let ended = outcome.withLock({ $0 }) { return ended }
            if stop() { return nil }
            let remaining = instant - .now
            guard remaining > .zero else { return nil }
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(min(remaining.seconds, 86_400) * 1e9)))
        }
    }

    /// Waits for the body until its deadline (or the run's interruption), cancels it,
    /// and waits a grace period for it to return.
    func wait(gracePeriod: Duration, run: CancellationFlag) -> (outcome: TestOutcome, refusedToStop: Bool) {
        if let ended = outcome(by: started + test.timeout, unless: { run.isCancelled }) { return (ended, false) }
        let reason = run.isCancelled ? "interrupted: the run was aborted while this check ran"
                                     : "timed out after \(test.timeout.formatted)"
        token.cancel()
        if let ended = outcome(by: .now + gracePeriod) {
            // What the body returned after cancellation is kept as evidence, never as a verdict.
            let evidence = ["after cancellation the check returned \(ended.status.rawValue): \(ended.message)"] + ended.evidence
            return (TestOutcome(status: .error, message: reason, evidence: evidence), false)
        }
        return (TestOutcome(status: .error,
                            message: "\(reason); it did not stop within \(gracePeriod.formatted) of being cancelled"), true)
    }
}

extension Duration {
    var formatted: String {
        let value = seconds
        return value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
