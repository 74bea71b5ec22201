import Foundation

/// A `Date` kept at whole-millisecond precision and encoded as an RFC 3339 UTC string
/// (`2025-01-02T03:04:05.123Z`).
///
/// Storing integer milliseconds is what makes a written report decode to an equal value:
/// a `Date` with sub-millisecond digits could not survive the text form. The conversion is
/// done with integer arithmetic, so no locale, calendar or time zone setting can change it.
@propertyWrapper
public struct UTCTimestamp: Sendable, Codable, Hashable {
    /// Milliseconds since 1970-01-01T00:00:00Z, clamped to years 0001…9999.
    public private(set) var millisecondsSince1970: Int64

    public init(wrappedValue: Date) {
        millisecondsSince1970 = UTCTimestamp.milliseconds(of: wrappedValue)
    }

    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = min(max(millisecondsSince1970, UTCTimestamp.lowest), UTCTimestamp.highest)
    }

    public var wrappedValue: Date {
        get { Date(timeIntervalSince1970: Double(millisecondsSince1970) / 1000) }
        set { millisecondsSince1970 = UTCTimestamp.milliseconds(of: newValue) }
    }

    public var projectedValue: UTCTimestamp { self }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form used in the JSON and CTRF reports.
    public var rfc3339: String {
        let parts = CivilTime(millisecondsSince1970: millisecondsSince1970)
        return parts.dateAndTime + "." + CivilTime.pad(parts.millisecond, to: 3) + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC without zone or fraction: the only timestamp shape the
    /// strict JUnit schema accepts (consumers read a zone-less JUnit timestamp as UTC).
    public var junitTimestamp: String {
        CivilTime(millisecondsSince1970: millisecondsSince1970).dateAndTime
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let milliseconds = CivilTime.parseRFC3339(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "expected an RFC 3339 UTC timestamp like 2025-01-02T03:04:05.123Z, found \"\(text)\""
            )
        }
        self.init(millisecondsSince1970: milliseconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }

    // 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: four-digit years only.
    static let lowest: Int64 = -62_135_596_800_000
    static let highest: Int64 = 253_402_300_799_999

    static func milliseconds(of date: Date) -> Int64 {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        guard milliseconds.isFinite else { return milliseconds < 0 ? lowest : highest }
        return Int64(min(max(milliseconds, Double(lowest)), Double(highest)))
    }
}

/// Proleptic Gregorian calendar fields in UTC, computed with integer arithmetic
/// (days-from-civil algorithm by Howard Hinnant).
struct CivilTime {
    var year: Int64, month: Int64, day: Int64
    var hour: Int64, minute: Int64, second: Int64, millisecond: Int64

    init(millisecondsSince1970: Int64) {
        let (days, millisecondOfDay) = CivilTime.floorDivide(millisecondsSince1970, 86_400_000)
        hour = millisecondOfDay / 3_600_000
        minute = millisecondOfDay / 60_000 % 60
        second = millisecondOfDay / 1000 % 60
        millisecond = millisecondOfDay % 1000

        let shifted = days + 719_468
        let era = CivilTime.floorDivide(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    var dateAndTime: String {
        "\(CivilTime.pad(year, to: 4))-\(CivilTime.pad(month, to: 2))-\(CivilTime.pad(day, to: 2))"
            + "T\(CivilTime.pad(hour, to: 2)):\(CivilTime.pad(minute, to: 2)):\(CivilTime.pad(second, to: 2))"
    }

    static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let adjustedYear = month <= 2 ? year - 1 : year
        let era = floorDivide(adjustedYear, 400).quotient
        let yearOfEra = adjustedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; digits past milliseconds are dropped.
    static func parseRFC3339(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        for (index, expected) in separators where bytes[index] != expected.asciiValue {
            return nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day),
              hour < 24, minute < 60, second < 60
        else { return nil }

        var millisecond: Int64 = 0
        let fractionEnd = bytes.count - 1
        if fractionEnd > 19 {
            let fraction = 20..<fractionEnd
            guard bytes[19] == UInt8(ascii: "."), !fraction.isEmpty,
                  fraction.allSatisfy({ bytes[$0] >= UInt8(ascii: "0") && bytes[$0] <= UInt8(ascii: "9") }),
                  let leading = number(20..<min(23, fractionEnd))
            else { return nil }
            let scale: [Int64] = [100, 10, 1]
            millisecond = leading * scale[min(23, fractionEnd) - 20 - 1]
        }
        let days = daysSince1970(year: year, month: month, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millisecond
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
        return (quotient, value - quotient * divisor)
    }

    static func pad(_ value: Int64, to width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
