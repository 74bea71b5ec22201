import Foundation

/// Plain-text phrasings of report values shared by the text-bearing writers (JUnit, HTML),
/// so the same fact reads the same everywhere.
extension MeasuredValue {
    /// `23.5 Gbit/s`
    var valueText: String {
        unit.isEmpty ? NumberText.value(value) : "\(NumberText.value(value)) \(unit)"
    }

    /// `>= 25 Gbit/s`, or nil for an informational measurement.
    var thresholdText: String? {
        guard let threshold else { return nil }
        let limit = NumberText.value(threshold.value)
        return unit.isEmpty ? "\(threshold.op.rawValue) \(limit)" : "\(threshold.op.rawValue) \(limit) \(unit)"
    }

    /// `tcp_throughput = 23.5 Gbit/s (required >= 25 Gbit/s): FAIL`
    var line: String {
        guard let thresholdText else { return "\(name) = \(valueText) (informational)" }
        return "\(name) = \(valueText) (required \(thresholdText)): \(passed ? "PASS" : "FAIL")"
    }
}

extension RunInfo {
    /// The command line as one shell-readable string; arguments with spaces or quotes are
    /// single-quoted.
    var commandLineText: String {
        commandLine.map { argument in
            let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-_./=:,+@%".unicodeScalars.contains($0)
            }
            return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
