import Certification
import Foundation
import Reports
import Synchronization

/// Live progress of a run: on a terminal a status line per check as it completes and
/// a transient line for the one running; elsewhere plain lines. `--quiet` keeps only
/// failures and the summary; `--verbose` adds evidence.
final class ConsoleObserver: RunObserver {
    enum Detail { case quiet, normal, verbose }

    private let detail: Detail
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    /// Whether a transient line is on screen; the lock also orders output lines.
    private let transientShown = Mutex(false)

    init(detail: Detail) {
        self.detail = detail
    }

    func say(_ line: String) {
        transientShown.withLock { shown in
            Self.write((shown ? Self.clearLine : "") + line + "\n")
            shown = false
        }
    }

    func testStarted(_ test: any CertificationTest) {
        guard isTerminal, detail != .quiet else {
            if detail == .verbose { say("  ...  \(test.id)") }
            return
        }
        transient("  ...  \(test.id)  \(test.title)")
    }

    func testProgress(_ test: any CertificationTest, _ line: String) {
        guard detail != .quiet else { return }
        if isTerminal { transient("  ...  \(test.id)  \(line)") } else if detail == .verbose { say("       \(test.id): \(line)") }
    }

    func testFinished(_ result: TestResult) {
        if detail == .quiet && (result.status == .passed || result.status == .skipped) { return }
        var line = "  \(Self.label(result.status))  \(result.id)  (\(String(format: "%.2f", result.durationSeconds)) s)"
        let figures = result.measurements.prefix(3).map { "\($0.name)=\(number($0.value)) \($0.unit)" }
        if !figures.isEmpty { line += "  " + figures.joined(separator: ", ") }
        if result.status != .passed { line += "\n         " + result.message }
        if detail == .verbose { line += result.evidence.map { "\n         · " + $0 }.joined() }
        say(line)
    }

    static func label(_ status: TestStatus) -> String {
        switch status {
        case .passed: "PASS "
        case .failed: "FAIL "
        case .error: "ERROR"
        case .skipped: "SKIP "
        }
    }

    private static let clearLine = "\r\u{1B}[2K"

    private func transient(_ line: String) {
        transientShown.withLock { shown in
            Self.write((shown ? Self.clearLine : "") + String(line.prefix(120)))
            shown = true
        }
    }

    private static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
