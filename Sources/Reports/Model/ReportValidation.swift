import Foundation

/// Why a report cannot be written: each case names the offending test or field and says
/// what was expected and what was found.
public enum ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A field breaks the report contract; `path` is JSON-style (`results[3].id`).
    case invalidField(path: String, expected: String, found: String)
    case duplicateTestID(id: String, firstIndex: Int, secondIndex: Int)
    case measurementJudgement(testID: String, measurement: String, expectedPassed: Bool, found: Bool)
    case passedWithFailedMeasurement(testID: String, measurement: String)
    case summaryMismatch(field: String, expected: String, found: String)
    case encodingFailed(format: String, detail: String)

    public var description: String {
        switch self {
        case let .invalidField(path, expected, found):
            "\(path): expected \(expected), found \"\(found)\""
        case let .duplicateTestID(id, firstIndex, secondIndex):
            "results[\(secondIndex)].id: \"\(id)\" already used by results[\(firstIndex)]; test ids must be unique"
        case let .measurementJudgement(testID, measurement, expectedPassed, found):
            "test \(testID) measurement \(measurement): threshold says passed=\(expectedPassed), found passed=\(found)"
        case let .passedWithFailedMeasurement(testID, measurement):
            "test \(testID): status passed but measurement \(measurement) did not meet its threshold"
        case let .summaryMismatch(field, expected, found):
            "summary.\(field): results give \(expected), found \(found)"
        case let .encodingFailed(format, detail):
            "\(format) encoding failed: \(detail)"
        }
    }
}

extension Report {
    /// Checks the invariants every writer relies on, so that no format can show a pass the
    /// results do not support and every JSON report matches `schemas/report.schema.json`:
    /// current schema version; well-formed profile digest, PCI addresses, suite names,
    /// unique test ids of the form `suite.name` and lower_snake_case measurement names;
    /// measurement judgements that agree with their thresholds; no passed test with a failed
    /// measurement; and a summary (counts and verdict) equal to the one the results derive.
    public func validate() throws(ReportError) {
        try expect(schemaVersion == Report.currentSchemaVersion, "schemaVersion", Report.currentSchemaVersion, schemaVersion)
        try expect(Syntax.isHex(run.profile.sha256, digits: 64...64), "run.profile.sha256",
                   "64 lower-case hex digits", run.profile.sha256)
        for (index, function) in dut.functions.enumerated() {
            try expect(Syntax.isPCIAddress(function.address), "dut.functions[\(index)].address",
                       "a PCI address like 0000:03:00.0", function.address)
        }

        var firstIndexByID: [String: Int] = [:]
        for (index, result) in results.enumerated() {
            if let firstIndex = firstIndexByID[result.id] {
                throw .duplicateTestID(id: result.id, firstIndex: firstIndex, secondIndex: index)
            }
            firstIndexByID[result.id] = index
            try expect(Syntax.isWords(result.suite, separator: "-"), "results[\(index)].suite",
                       "lower-case words joined by dashes", result.suite)
            let name = result.id.dropFirst(result.suite.count + 1)
            try expect(result.id.hasPrefix(result.suite + ".") && !name.isEmpty
                           && !name.unicodeScalars.contains { $0.properties.isWhitespace },
                       "results[\(index)].id", "\"\(result.suite).<name>\" without whitespace", result.id)
            for (position, measurement) in result.measurements.enumerated() {
                try expect(Syntax.isWords(measurement.name, separator: "_"),
                           "results[\(index)].measurements[\(position)].name", "lower_snake_case", measurement.name)
                if let threshold = measurement.threshold, threshold.isMet(by: measurement.value) != measurement.passed {
                    throw .measurementJudgement(
                        testID: result.id, measurement: measurement.name,
                        expectedPassed: !measurement.passed, found: measurement.passed
                    )
                }
                if result.status == .passed, !measurement.passed {
                    throw .passedWithFailedMeasurement(testID: result.id, measurement: measurement.name)
                }
            }
        }

        try validateCoverage(statusByID: results.statusByID)

        let derived = Summary(results: results, mode: run.mode, runStatus: run.status, coverage: coverage,
                              partial: run.selection != nil)
        let fields: [(String, String, String)] = [
            ("total", "\(derived.total)", "\(summary.total)"),
            ("passed", "\(derived.passed)", "\(summary.passed)"),
            ("failed", "\(derived.failed)", "\(summary.failed)"),
            ("errored", "\(derived.errored)", "\(summary.errored)"),
            ("skipped", "\(derived.skipped)", "\(summary.skipped)"),
            ("verdict", derived.verdict.rawValue, summary.verdict.rawValue),
        ]
        for (field, expected, found) in fields where expected != found {
            throw .summaryMismatch(field: field, expected: expected, found: found)
        }
    }

    /// Every requirement appears once; its checks are results of this run (or left out by
    /// `--only`), and its outcome is the one their statuses give.
    private func validateCoverage(statusByID: [String: TestStatus]) throws(ReportError) {
        let leftOut = Set(run.selection?.leftOut ?? [])
        var seen: Set<String> = []
        for (index, entry) in coverage.enumerated() {
            try expect(seen.insert(entry.requirement).inserted, "coverage[\(index)].requirement",
                       "a requirement listed once", entry.requirement)
            for check in entry.checks where statusByID[check] == nil {
                try expect(leftOut.contains(check), "coverage[\(index)].checks",
                           "ids of results in this report or of checks left out by --only", check)
            }
            let expected = CoverageOutcome.of(checks: entry.checks, in: statusByID)
            try expect(entry.outcome == expected, "coverage[\(index)].outcome", expected.rawValue, entry.outcome.rawValue)
        }
    }

    private func expect(_ condition: Bool, _ path: String, _ expected: String, _ found: String) throws(ReportError) {
        if !condition { throw .invalidField(path: path, expected: expected, found: found) }
    }
}

/// Hand-written checks for the few text shapes the schema pins down (kept in step with the
/// patterns in `schemas/report.schema.json`).
enum Syntax {
    /// `^[a-z0-9]+(SEP[a-z0-9]+)*$`
    static func isWords(_ text: String, separator: Character) -> Bool {
        let words = text.split(separator: separator, omittingEmptySubsequences: false)
        return words.allSatisfy { word in
            !word.isEmpty && word.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        }
    }

    static func isHex(_ text: Substring, digits: ClosedRange<Int>) -> Bool {
        digits.contains(text.utf8.count)
            && text.unicodeScalars.allSatisfy { ("a"..."f").contains($0) || ("0"..."9").contains($0) }
    }

    static func isHex(_ text: String, digits: ClosedRange<Int>) -> Bool {
        isHex(Substring(text), digits: digits)
    }

    /// `^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`
    static func isPCIAddress(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return false }
        let slot = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        return isHex(parts[0], digits: 4...8) && isHex(parts[1], digits: 2...2)
            && slot.count == 2 && isHex(slot[0], digits: 2...2)
            && slot[1].count == 1 && slot[1].unicodeScalars.allSatisfy { ("0"..."7").contains($0) }
    }
}
