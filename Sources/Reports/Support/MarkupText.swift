import Foundation

/// Escaping shared by the XML and HTML writers.
///
/// Characters outside the XML 1.0 `Char` production (C0 controls other than tab, LF and
/// CR; U+FFFE; U+FFFF) cannot appear in a well-formed document even as numeric references
/// (`&#27;` is rejected by every strict parser), so they are replaced by visible text:
/// `\x1b` for ESC, `\ufffe` for U+FFFE. DEL and the C1 controls are legal XML but turn into
/// terminal escape sequences when a CI log prints the text, so they get the same treatment.
/// Swift strings cannot hold lone surrogates (invalid UTF-16 or UTF-8 becomes U+FFFD when
/// the string is created), so none can reach the output.
enum MarkupText {
    /// Escapes `text` for element content.
    static func text(_ text: String) -> String {
        escape(text, inAttribute: false)
    }

    /// Escapes `text` for a double-quoted attribute value; line breaks and tabs become
    /// character references so attribute-value normalization cannot turn them into spaces.
    static func attribute(_ text: String) -> String {
        escape(text, inAttribute: true)
    }

    private static func escape(_ text: String, inAttribute: Bool) -> String {
        guard text.utf8.contains(where: { needsWork($0, inAttribute: inAttribute) }) else { return text }
        var output = String()
        output.reserveCapacity(text.utf8.count + 64)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x26: output += "&amp;"
            case 0x3C: output += "&lt;"
            case 0x3E: output += "&gt;"
            case 0x22 where inAttribute: output += "&quot;"
            case 0x09 where inAttribute: output += "&#9;"
            case 0x0A where inAttribute: output += "&#10;"
            case 0x0D: output += "&#13;"
            case 0x09, 0x0A: output.unicodeScalars.append(scalar)
            case 0x00..<0x20, 0x7F...0x9F: output += "\\x" + HexField.format(scalar.value, digits: 2)
            case 0xFFFE, 0xFFFF: output += "\\u" + HexField.format(scalar.value, digits: 4)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// Bytes that may start something to escape: ASCII specials and controls, DEL, the lead
    /// byte of C1 controls (0xC2) and of U+FFFE/U+FFFF (0xEF). A false positive only costs
    /// the slow path.
    private static func needsWork(_ byte: UInt8, inAttribute: Bool) -> Bool {
        switch byte {
        case 0x26, 0x3C, 0x3E, 0x0D, 0x7F, 0xC2, 0xEF: true
        case 0x22, 0x09, 0x0A: inAttribute
        case 0x00..<0x20: true
        default: false
        }
    }
}

/// Locale-independent number text for the writers.
enum NumberText {
    /// Seconds with exactly three decimals, `.` as separator, no grouping, no exponent,
    /// never negative: the only duration shape every JUnit consumer reads correctly.
    static func seconds(_ seconds: Double) -> String {
        // The cap (about 31,700 years) keeps the integer conversion in range for any input.
        let bounded = seconds.isFinite ? min(max(seconds, 0), 1e12) : 0
        let milliseconds = Int64((bounded * 1000).rounded())
        return "\(milliseconds / 1000)." + CivilTime.pad(milliseconds % 1000, to: 3)
    }

    /// Whole milliseconds for CTRF, never negative.
    static func milliseconds(_ seconds: Double) -> Int64 {
        let bounded = seconds.isFinite ? min(max(seconds, 0), 1e12) : 0
        return Int64((bounded * 1000).rounded())
    }

    /// A measured value for people: integral values without `.0`, others in Swift's
    /// shortest round-tripping form.
    static func value(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// `value` with a fixed number of decimals (chart tick labels).
    static func fixed(_ value: Double, decimals: Int) -> String {
        String(format: "%.\(max(0, min(decimals, 12)))f", value)
    }
}
