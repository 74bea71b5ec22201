import Foundation

/// The JSON certification report (`schemas/report.schema.json`, described in
/// `docs/report.md`): the model encoded with sorted keys, pretty-printed, RFC 3339 UTC
/// timestamps. Text is kept exactly; JSON escapes control characters itself.
public enum ReportJSON {
    /// Non-finite measurement values cannot be JSON numbers; they are written as these
    /// strings so a broken probe still produces a readable report (and fails its threshold).
    static let nonFinite = (positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")

    /// Encodes the report. Throws `ReportError` when the report is inconsistent.
    public static func encode(_ report: Report) throws(ReportError) -> Data {
        try report.validate()
        return try encode(checked: report)
    }

    /// The same, for a report `validate()` has accepted already.
    static func encode(checked report: Report) throws(ReportError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan
        )
        do {
            return try encoder.encode(report) + Data("\n".utf8)
        } catch {
            throw .encodingFailed(format: "report JSON", detail: "\(error)")
        }
    }

    /// Decodes a report written by `encode`. Does not validate: a reader should be able to
    /// open a report in order to find out what is wrong with it (call `validate()`).
    public static func decode(_ data: Data) throws -> Report {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan
        )
        return try decoder.decode(Report.self, from: data)
    }
}
