import Foundation
import Inventory
import Profiles
import Reports
import Synchronization
import Testing
@testable import Certification

/// A check whose body and timing the test decides.
struct ScriptedCheck: CertificationTest {
    var id: String
    var title = "scripted"
    var requirement = "none"
    var timeout: Duration = .seconds(10)
    var runsConcurrently = true
    var skip: String?
    var body: @Sendable (TestContext) throws -> TestOutcome

    func covers(_ profile: Profile) -> [String] { [] }
    func skipReason(_ context: TestContext) -> String? { skip }
    func run(_ context: TestContext) throws -> TestOutcome { try body(context) }
}

extension TestOutcome {
    /// An outcome that examined one scripted item, so the evidence rule lets it stand.
    static func evidenced(_ status: TestStatus, _ message: String) -> TestOutcome {
        TestOutcome(status: status, message: message, examined: Examined(1, "scripted items", as: "items_examined"))
    }
}

/// Records what the runner reported, for assertions.
final class RecordingObserver: RunObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var started: [String] = []
    private var finished: [String] = []

    func testStarted(_ test: any CertificationTest) { lock.withLock { started.append(test.id) } }
    func testProgress(_ test: any CertificationTest, _ line: String) {}
    func testFinished(_ result: TestResult) { lock.withLock { finished.append(result.id) } }
    var finishedIDs: [String] { lock.withLock { finished } }
}

/// A context over an empty bus: runner tests need no device.
func emptyContext(cancellation: CancellationFlag = CancellationFlag()) throws -> TestContext {
    let profile = try ProfileLoader.load(path: repositoryRoot + "/profiles/emulated-smartnic.yaml")
    let bus = FixedBus(functions: [])
    return TestContext(profile: profile,
                       pci: PCIEnvironment(bus: bus, sriovControl: nil, baseline: PCIInventory(source: bus.source, functions: [])),
                       cancellation: cancellation)
}

struct FixedBus: PCIBus {
    var functions: [RawPCIFunction]
    var source: PCISource { .sysfs(root: "/nonexistent") }
    func scan() throws(PCIError) -> [RawPCIFunction] { functions }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite("Runner")
struct RunnerTests {
    func run(_ checks: [any CertificationTest], context: TestContext? = nil) throws -> [TestResult] {
        TestRunner(tests: checks).run(context: try context ?? emptyContext(), observer: RecordingObserver()).results
    }

    @Test("a hung check becomes error and the run goes on")
    func timeout() throws {
        let results = try run([
            ScriptedCheck(id: "demo.hangs", timeout: .milliseconds(200), runsConcurrently: false) { context in
                while !context.isCancelled { usleep(20_000) }
                return .evidenced(.passed, "never")
            },
            ScriptedCheck(id: "demo.after") { _ in .evidenced(.passed, "ran") },
        ])
        let hung = try #require(results.first { $0.id == "demo.hangs" })
        #expect(hung.status == .error && hung.message.contains("timed out after"))
        #expect(results.first { $0.id == "demo.after" }?.status == .passed)
    }

    @Test("an error thrown by a check body is reported as error with its text")
    func thrownError() throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "socket exploded" } }
        let results = try run([ScriptedCheck(id: "demo.throws") { _ in throw Broken() }])
        #expect(results.first?.status == .error)
        #expect(results.first?.message.contains("socket exploded") == true)
    }

    @Test("a missing prerequisite is skipped with its reason, and the body never runs")
    func skipped() throws {
        let results = try run([ScriptedCheck(id: "demo.skip", skip: "no RDMA device") { _ in
            Issue.record("the body of a skipped check ran")
            return .evidenced(.passed, "")
        }])
        #expect(results.first?.status == .skipped && results.first?.message == "no RDMA device")
    }

    @Test("a failed positive control is error, never passed")
    func positiveControl() throws {
        let results = try run([ScriptedCheck(id: "demo.control") { _ in
            throw PositiveControlFailure("the management service is down everywhere", evidence: ["probed 198.18.0.2:22 from oob"])
        }])
        #expect(results.first?.status == .error)
        #expect(results.first?.message == "positive control failed: the management service is down everywhere")
        #expect(results.first?.evidence == ["probed 198.18.0.2:22 from oob"])
    }

    @Test("checks that may share the machine run side by side")
    func concurrency() throws {
        // Each waits for the other to start: only concurrent execution lets both pass.
        let first = DispatchSemaphore(value: 0), second = DispatchSemaphore(value: 0)
        let results = try run([
            ScriptedCheck(id: "demo.a") { _ in
                first.signal()
                return .evidenced(second.wait(timeout: .now() + 5) == .success ? .passed : .failed, "")
            },
            ScriptedCheck(id: "demo.b") { _ in
                second.signal()
                return .evidenced(first.wait(timeout: .now() + 5) == .success ? .passed : .failed, "")
            },
        ])
        #expect(results.map(\.status) == [.passed, .passed])
    }

    @Test("interruption keeps what finished, errors the check in flight and skips the rest")
    func interruption() throws {
        let cancellation = CancellationFlag()
        let context = try emptyContext(cancellation: cancellation)
        let results = try run([
            ScriptedCheck(id: "demo.done", runsConcurrently: false) { _ in .evidenced(.passed, "ok") },
            ScriptedCheck(id: "demo.interrupted", runsConcurrently: false) { context in
                cancellation.cancel()
                while !context.isCancelled { usleep(1000) }
                usleep(300_000)
                return .evidenced(.passed, "late")
            },
            ScriptedCheck(id: "demo.never", runsConcurrently: false) { _ in .evidenced(.passed, "") },
        ], context: context)
        #expect(results.map(\.status) == [.passed, .error, .skipped])
        #expect(results[1].message.contains("aborted") && results[2].message.contains("aborted"))
    }

    @Test("--only keeps the checks whose ids match a shell pattern", arguments: [
        (["pci.*"], ["pci.a", "pci.b"]), (["*.b"], ["pci.b", "net.b"]), (["net.b", "pci.a"], ["pci.a", "net.b"]), ([], ["pci.a", "pci.b", "net.b"]),
    ])
    func selection(globs: [String], expected: [String]) {
        let checks: [any CertificationTest] = ["pci.a", "pci.b", "net.b"].map { id in
            ScriptedCheck(id: id) { _ in .evidenced(.passed, "") }
        }
        #expect(TestRunner.select(checks, only: globs).map(\.id) == expected)
    }

    @Test("judged outcomes name the expected and the observed value")
    func judgedMessages() {
        let outcome = TestOutcome.judged([Check("03:00.0 width", expected: ">= x16", observed: "x8", holds: false)],
                                         measurements: [MeasuredValue(name: "link_width", value: 8, unit: "lanes",
                                                                      threshold: Threshold(.greaterThanOrEqual, 16))],
                                         evidence: [], examined: Examined(1, "links", as: "functions_examined"),
                                         passMessage: "fine")
        #expect(outcome.status == .failed)
        #expect(outcome.message.contains("03:00.0 width: expected >= x16, observed x8"))
        #expect(outcome.message.contains("link_width: expected >= 16 lanes, observed 8 lanes"))
    }

    @Test("the evidence rule: a verdict without anything examined is error, never passed", arguments: [
        (TestOutcome(status: .passed, message: "looks fine"), "no evidence: the check did not record what it examined"),
        (TestOutcome(status: .passed, message: "looks fine", examined: Examined(0, "PCI functions with a link", as: "functions_examined")),
         "nothing to examine: found no PCI functions with a link"),
        (TestOutcome(status: .failed, message: "count 0", examined: Examined(0, "PCI functions matching", as: "functions_examined")),
         "nothing to examine: found no PCI functions matching"),
    ])
    func evidenceRule(outcome: TestOutcome, message: String) throws {
        let results = try run([ScriptedCheck(id: "demo.empty") { _ in outcome }])
        #expect(results.first?.status == .error)
        #expect(results.first?.message.hasPrefix(message) == true, "\(results.first?.message ?? "")")
    }

    @Test("what a check examined is recorded as a measurement that must be at least 1")
    func examinedMeasurement() throws {
        let results = try run([ScriptedCheck(id: "demo.examines") { _ in
            TestOutcome(status: .passed, message: "ok", examined: Examined(3, "functions", as: "functions_examined"))
        }])
        let measurement = try #require(results.first?.measurements.first { $0.name == "functions_examined" })
        #expect(results.first?.status == .passed)
        #expect(measurement.value == 3 && measurement.unit == "count" && measurement.threshold == Threshold(.greaterThanOrEqual, 1))
    }

    @Test("a check is cancelled at its deadline: its token turns true and what it returns then is no verdict")
    func deadlineCancelsTheCheck() throws {
        let results = try run([ScriptedCheck(id: "demo.cooperative", timeout: .milliseconds(200)) { context in
            while !context.isCancelled { usleep(5_000) }
            return .evidenced(.passed, "stopped when asked")
        }])
        #expect(results.first?.status == .error)
        #expect(results.first?.message == "timed out after 0.2 s")
        #expect(results.first?.evidence.first == "after cancellation the check returned passed: stopped when asked")
    }

    @Test("a serial check never starts while a timed-out one is still running")
    func serialChecksWait() throws {
        let timeline = Mutex<[String]>([])
        let runner = TestRunner(tests: [
            ScriptedCheck(id: "demo.slow-to-stop", timeout: .milliseconds(100), runsConcurrently: false) { _ in
                usleep(600_000)  // ignores its token for a while
                timeline.withLock { $0.append("slow ended") }
                return .evidenced(.passed, "late")
            },
            ScriptedCheck(id: "demo.next", runsConcurrently: false) { _ in
                timeline.withLock { $0.append("next started") }
                return .evidenced(.passed, "ran")
            },
        ], gracePeriod: .seconds(5))
        let outcome = runner.run(context: try emptyContext(), observer: RecordingObserver())
        #expect(timeline.withLock { $0 } == ["slow ended", "next started"])
        #expect(outcome.results.map(\.status) == [.error, .passed])
        #expect(outcome.abortReason == nil)
    }

    @Test("a check that does not stop within its grace period aborts the run; the rest are skipped with the reason")
    func refusingCheckAbortsTheRun() throws {
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        let runner = TestRunner(tests: [
            ScriptedCheck(id: "demo.stuck", timeout: .milliseconds(100), runsConcurrently: false) { _ in
                _ = release.wait(timeout: .now() + 10)
                return .evidenced(.passed, "never seen")
            },
            ScriptedCheck(id: "demo.after", runsConcurrently: false) { _ in
                Issue.record("a check ran while an earlier one was still running")
                return .evidenced(.passed, "")
            },
            ScriptedCheck(id: "other.later") { _ in
                Issue.record("a check ran after the run was aborted")
                return .evidenced(.passed, "")
            },
        ], gracePeriod: .milliseconds(300))
        let outcome = runner.run(context: try emptyContext(), observer: RecordingObserver())
        #expect(outcome.results.map(\.status) == [.error, .skipped, .skipped])
        #expect(outcome.results[0].message.contains("did not stop within 0.3 s of being cancelled"))
        #expect(outcome.results[1].message == "not run: the run was aborted (demo.stuck did not stop within 0.3 s of being cancelled)")
        #expect(outcome.abortReason != nil)
    }
}
