import Foundation
import Profiles
import Reports

/// The end of every `dpucert run`: the report written in each format asked for, and
/// the summary on the console. Returns the run's exit status.
struct ReportDelivery {
    let arguments: RunCommand
    let profile: Profile
    let observer: ConsoleObserver

    func deliver(_ report: Report) throws -> Int32 {
        let written = try write(report)
        // A run inside a VM-testbed guest reports to the host, which sums up the run.
        if !arguments.vmGuest { summarize(report, written: written) }
        return report.exitCode.rawValue
    }

    private func write(_ report: Report) throws -> [String] {
        let directory = arguments.out ?? "reports/\(Self.timestamp())-\(profile.id)"
        var targets: [(ReportFormat, String)] = [
            (.junit, arguments.junit ?? directory + "/" + ReportFormat.junit.defaultFileName),
            (.json, arguments.json ?? directory + "/" + ReportFormat.json.defaultFileName),
            (.html, arguments.html ?? directory + "/" + ReportFormat.html.defaultFileName),
        ]
        if let ctrf = arguments.ctrf { targets.append((.ctrf, ctrf)) }
        do {
            try ReportFormat.write(report, to: targets.map { (format: $0.0, path: $0.1) })
        } catch {
            throw CLIError(.incomplete, command: "run", "cannot write the reports: \(error)")
        }
        return targets.map(\.1)
    }

    private func summarize(_ report: Report, written: [String]) {
        let summary = report.summary
        var lines = ["\(summary.total) checks: \(summary.passed) passed, \(summary.failed) failed, \(summary.errored) error, \(summary.skipped) skipped"]
        if let selection = report.run.selection {
            lines.append("partial run (--only \(selection.only.joined(separator: " "))): left out "
                         + (selection.leftOut.isEmpty ? "nothing" : selection.leftOut.joined(separator: ", ")))
        } else if !report.unexamined.isEmpty {
            lines.append("not examined to a conclusion (\(report.unexamined.count) requirements):")
            lines += report.unexamined.map { "  " + $0.line }
        }
        lines.append("verdict: \(summary.verdict.rawValue)" + (report.run.status == .completed ? "" : " (run \(report.run.status.rawValue))"))
        lines.append("reports: \(written.joined(separator: ", "))")
        observer.say(lines.joined(separator: "\n"))
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: Date())
    }
}
