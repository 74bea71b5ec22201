import Foundation

/// JUnit XML for CI systems.
///
/// There is no JUnit standard, so the document is kept to what the schemas real consumers
/// validate with accept:
/// - `.standard` validates against the Jenkins xUnit plugin's `junit-10.xsd` and the Jenkins
///   `junit-4.xsd`. It carries `<testsuites>` totals and each test's measurements and
///   evidence in the test's own `<system-out>`. Because junit-4 gives `<skipped>` no
///   attributes, the skip reason is the element text (Jenkins and GitLab read it there).
///   `<testsuites>` has no `skipped` attribute: neither schema allows one.
/// - `.ant` validates against the strict Ant schema (windyroad `JUnit.xsd`, the one Azure
///   DevOps documents) and `junit-10.xsd`: bare `<testsuites>`, `<properties>` on every
///   suite (empty after the first), no per-test output (each suite's `<system-out>` holds
///   the output of its tests instead), and `skipped@message`, which Azure shows. Both of
///   the last two rule out junit-4.
///
/// Both: one `<testsuite>` per suite with `id`, `package`, UTC `timestamp` without zone,
/// `hostname` and counts of testcases; run, profile and DUT facts (verdict included) as
/// `dpucert.*` properties of the first suite (the requirement coverage as
/// `dpucert.coverage.<requirement>`); one `<testcase>` per test id with
/// `classname="dpucert.<suite>"`; `<failure>` for a DUT that missed a requirement, `<error>`
/// for a test that could not judge; times in seconds with exactly three decimals.
public enum JUnitXML {
    public enum Dialect: String, Sendable, CaseIterable {
        case standard
        case ant
    }

    /// `type` attribute of `<failure>`: the DUT did not meet a requirement.
    static let failureType = "dpucert.requirement-not-met"
    /// `type` attribute of `<error>`: the test could not judge the DUT.
    static let errorType = "dpucert.test-error"
    /// Longest `message` attribute; the full text is always in the element body.
    static let messageAttributeLimit = 1000

    /// Renders the report. Throws `ReportError` when the report is inconsistent.
    public static func render(_ report: Report, dialect: Dialect = .standard) throws(ReportError) -> String {
        try report.validate()
        return render(checked: report, dialect: dialect)
    }

    /// The same, for a report `validate()` has accepted already.
    static func render(checked report: Report, dialect: Dialect = .standard) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        switch dialect {
        case .standard:
            let total = report.summary
            xml += "<testsuites" + attributes([
                ("name", "dpucert \(report.run.profile.id)"),
                ("tests", "\(total.total)"),
                ("failures", "\(total.failed)"),
                ("errors", "\(total.errored)"),
                ("time", NumberText.seconds(report.results.reduce(0) { $0 + $1.durationSeconds })),
            ]) + ">\n"
        case .ant:
            xml += "<testsuites>\n"
        }
        // Run facts go on the first suite only: parsers that merge all suites into one
        // (xunitparser) reject a property name that appears twice.
        let properties = runProperties(report)
        for (index, group) in report.resultsBySuite.enumerated() {
            xml += suite(group.suite, results: group.results, index: index, properties: index == 0 ? properties : [],
                         report: report, dialect: dialect)
        }
        xml += "</testsuites>\n"
        return xml
    }

    private static func suite(
        _ name: String, results: [TestResult], index: Int, properties: [(String, String)],
        report: Report, dialect: Dialect
    ) -> String {
        let host = report.run.host.trimmingCharacters(in: .whitespacesAndNewlines)
        var xml = "  <testsuite" + attributes([
            ("name", name),
            ("package", "dpucert"),
            ("id", "\(index)"),
            ("tests", "\(results.count)"),
            ("failures", "\(results.count { $0.status == .failed })"),
            ("errors", "\(results.count { $0.status == .error })"),
            ("skipped", "\(results.count { $0.status == .skipped })"),
            ("time", NumberText.seconds(results.reduce(0) { $0 + $1.durationSeconds })),
            ("timestamp", report.run.$startedAt.junitTimestamp),
            // The strict schema needs a non-empty token; Ant itself writes localhost then.
            ("hostname", host.isEmpty ? "localhost" : host),
        ]) + ">\n"
        if !properties.isEmpty {
            xml += "    <properties>\n"
            for (propertyName, value) in properties {
                xml += "      <property" + attributes([("name", propertyName), ("value", value)]) + "/>\n"
            }
            xml += "    </properties>\n"
        } else if dialect == .ant {
            // The Ant schema requires the element; junit-4 forbids it empty, so only here.
            xml += "    <properties/>\n"
        }
        for result in results {
            xml += testcase(result, dialect: dialect)
        }
        if dialect == .ant {
            let output = results.map { "=== \($0.id) ===\n" + systemOut($0) }.joined(separator: "\n")
            xml += "    <system-out>" + MarkupText.text(output) + "</system-out>\n"
            xml += "    <system-err></system-err>\n"
        }
        xml += "  </testsuite>\n"
        return xml
    }

    private static func testcase(_ result: TestResult, dialect: Dialect) -> String {
        let open = "    <testcase" + attributes([
            ("classname", "dpucert.\(result.suite)"),
            ("name", result.id),
            ("time", NumberText.seconds(result.durationSeconds)),
        ])
        var body = ""
        switch result.status {
        case .passed:
            break
        case .failed:
            body += outcome("failure", type: failureType, result: result, fallback: "requirement not met")
        case .error:
            body += outcome("error", type: errorType, result: result, fallback: "test could not judge the DUT")
        case .skipped:
            let reason = result.message.isEmpty ? "skipped" : result.message
            let messageAttribute = dialect == .ant ? attributes([("message", attributeMessage(reason))]) : ""
            body += "      <skipped\(messageAttribute)>" + MarkupText.text(reason) + "</skipped>\n"
        }
        if dialect == .standard {
            body += "      <system-out>" + MarkupText.text(systemOut(result)) + "</system-out>\n"
        }
        return body.isEmpty ? open + "/>\n" : open + ">\n" + body + "    </testcase>\n"
    }

    /// `<failure>`/`<error>`: a one-line `message` for UIs that show only the attribute, the
    /// full message plus the measurements that missed their thresholds as the body.
    private static func outcome(_ element: String, type: String, result: TestResult, fallback: String) -> String {
        let message = result.message.isEmpty ? fallback : result.message
        let missed = result.measurements.filter { !$0.passed }.map(\.line)
        let body = ([message] + missed).joined(separator: "\n")
        return "      <\(element)" + attributes([("message", attributeMessage(message)), ("type", type)]) + ">"
            + MarkupText.text(body) + "</\(element)>\n"
    }

    /// First line of `message`, shortened to `messageAttributeLimit` characters.
    private static func attributeMessage(_ message: String) -> String {
        let firstLine = message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first
            .map(String.init) ?? message
        guard firstLine.count > messageAttributeLimit else { return firstLine }
        return String(firstLine.prefix(messageAttributeLimit)) + " …"
    }

    /// What a CI log viewer shows for a test: what it verified, how it measured up, and the
    /// evidence verbatim.
    private static func systemOut(_ result: TestResult) -> String {
        var lines = [
            "title: \(result.title)",
            "requirement: \(result.requirement)",
            "status: \(result.status.rawValue)",
        ]
        if !result.message.isEmpty { lines.append("message: \(result.message)") }
        if !result.measurements.isEmpty {
            lines.append("measurements:")
            lines += result.measurements.map { "  " + $0.line }
        }
        for (index, evidence) in result.evidence.enumerated() {
            lines.append("evidence \(index + 1)/\(result.evidence.count):")
            lines.append(evidence)
        }
        return lines.joined(separator: "\n")
    }

    /// Facts about the run, the profile and the DUT as suite properties.
    private static func runProperties(_ report: Report) -> [(String, String)] {
        let run = report.run
        var properties: [(String, String)] = [
            ("dpucert.verdict", report.summary.verdict.rawValue),
            ("dpucert.mode", run.mode.rawValue),
            ("dpucert.run.id", run.id),
            ("dpucert.run.status", run.status.rawValue),
            ("dpucert.run.started-at", run.$startedAt.rfc3339),
            ("dpucert.run.finished-at", run.$finishedAt.rfc3339),
            ("dpucert.profile.id", run.profile.id),
            ("dpucert.profile.sha256", run.profile.sha256),
            ("dpucert.tool.version", run.toolVersion),
            ("dpucert.command-line", run.commandLineText),
            ("dpucert.host", run.host),
            ("dpucert.kernel", run.kernel),
            ("dpucert.faults", run.faults.joined(separator: ",")),
        ]
        if let selection = run.selection {
            properties.append(("dpucert.run.only", selection.only.joined(separator: " ")))
            properties.append(("dpucert.run.left-out", selection.leftOut.joined(separator: ",")))
        }
        // One property per requirement: `checks: outcome`, so CI can show what went unexamined.
        for entry in report.coverage {
            properties.append(("dpucert.coverage.\(entry.requirement)",
                               "\(entry.checks.isEmpty ? "no check" : entry.checks.joined(separator: ",")): \(entry.outcome.rawValue)"))
        }
        if let firmwareVersion = report.dut.firmwareVersion {
            properties.append(("dpucert.dut.firmware-version", firmwareVersion))
        }
        if let driverVersion = report.dut.driverVersion {
            properties.append(("dpucert.dut.driver-version", driverVersion))
        }
        for (index, function) in report.dut.functions.enumerated() {
            properties.append(("dpucert.dut.function.\(index)", function.summaryLine))
        }
        return properties
    }

    private static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(MarkupText.attribute($0.1))\"" }.joined()
    }
}
