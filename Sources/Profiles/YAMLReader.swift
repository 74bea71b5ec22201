// Reading a composed YAML node tree with diagnostics instead of failures. Every accessor that
// returns nil has recorded why, at the node's line and column, so callers only combine results.
// Scalars are judged by their text and quoting, not by YAML 1.1 type resolution: `1021` stays a
// valid hex ID, `"2"` is not a number and `yes` is not a boolean.

import Yams

/// Where a value sits in the profile, rendered as `pci.functions[0].sriov`.
package struct YAMLPath: CustomStringConvertible {
    package let description: String

    package static let root = YAMLPath(description: "")

    package func key(_ name: String) -> YAMLPath {
        YAMLPath(description: description.isEmpty ? name : "\(description).\(name)")
    }

    package func index(_ position: Int) -> YAMLPath {
        YAMLPath(description: "\(description)[\(position)]")
    }
}

/// Collects the diagnostics of one file.
package final class DiagnosticLog {
    package let file: String
    package private(set) var diagnostics: [ProfileDiagnostic] = []

    package init(file: String) {
        self.file = file
    }

    package func report(_ message: String, line: Int, column: Int, path: YAMLPath) {
        diagnostics.append(
            ProfileDiagnostic(file: file, line: line, column: column, keyPath: path.description, message: message))
    }

    package func report(_ message: String, at mark: Mark?, path: YAMLPath) {
        report(message, line: mark?.line ?? 0, column: mark?.column ?? 0, path: path)
    }

    /// File order; the order of discovery breaks ties.
    package var sortedDiagnostics: [ProfileDiagnostic] {
        diagnostics.enumerated()
            .sorted {
                ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
            }
            .map(\.element)
    }
}

/// A node together with its place in the profile.
package struct YAMLValue {
    package let node: Node
    package let path: YAMLPath

    package var mark: Mark? { node.mark }
}

/// The keys of one mapping, after unknown keys have been reported.
package struct YAMLFields {
    package let path: YAMLPath
    package let mark: Mark?
    private let values: [String: YAMLValue]
    private let log: DiagnosticLog

    package init(path: YAMLPath, mark: Mark?, values: [String: YAMLValue], log: DiagnosticLog) {
        self.path = path
        self.mark = mark
        self.values = values
        self.log = log
    }

    package func required(_ key: String) -> YAMLValue? {
        if let value = values[key] {
            return value
        }
        log.report("missing required key '\(key)'", at: mark, path: path)
        return nil
    }

    package func optional(_ key: String) -> YAMLValue? {
        values[key]
    }
}

/// How a scalar was written, which decides what it may stand for.
package enum ScalarText {
    case null
    case plain(String)
    case quoted(String)

    package init?(_ node: Node) {
        guard case .scalar(let scalar) = node else { return nil }
        switch scalar.style {
        case .plain, .any:
            self = ["", "~", "null", "Null", "NULL"].contains(scalar.string) ? .null : .plain(scalar.string)
        case .singleQuoted, .doubleQuoted, .literal, .folded:
            self = .quoted(scalar.string)
        }
    }

    package var text: String? {
        switch self {
        case .null: nil
        case .plain(let text), .quoted(let text): text
        }
    }
}

package struct YAMLReader {
    package let log: DiagnosticLog

    package func report(_ message: String, at value: YAMLValue) {
        log.report(message, at: value.mark, path: value.path)
    }

    package func reportMismatch(expected expectation: String, at value: YAMLValue) {
        report("expected \(expectation), found \(describe(value.node))", at: value)
    }

    // MARK: Structure

    /// The mapping's keys; keys outside `allowed` are reported (with a suggestion when one is close).
    package func fields(of value: YAMLValue, allowed: [String]) -> YAMLFields? {
        guard case .mapping(let mapping) = value.node else {
            reportMismatch(expected: "a mapping with keys \(allowed.joined(separator: ", "))", at: value)
            return nil
        }
        var values: [String: YAMLValue] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = ScalarText(keyNode)?.text else {
                log.report("expected a key name, found \(describe(keyNode))", at: keyNode.mark, path: value.path)
                continue
            }
            guard allowed.contains(key) else {
                log.report(unknownKeyMessage(key, allowed: allowed), at: keyNode.mark, path: value.path.key(key))
                continue
            }
            values[key] = YAMLValue(node: valueNode, path: value.path.key(key))
        }
        return YAMLFields(path: value.path, mark: value.mark, values: values, log: log)
    }

    /// The list's elements; an empty list is reported when `nonEmpty`.
    package func list(_ value: YAMLValue, nonEmpty: Bool = false) -> [YAMLValue]? {
        guard case .sequence(let sequence) = value.node else {
            reportMismatch(expected: "a list", at: value)
            return nil
        }
        if nonEmpty, sequence.isEmpty {
            report("expected at least one entry, found an empty list", at: value)
            return nil
        }
        return sequence.enumerated().map { YAMLValue(node: $0.element, path: value.path.index($0.offset)) }
    }

    /// Reads every element; nil when any element failed (each failure is already reported).
    /// A later element with the same `identity` as an earlier one is reported as a duplicate.
    package func elements<Element, Identity: Hashable>(
        of value: YAMLValue, nonEmpty: Bool = false,
        read: (YAMLValue) -> Element?, identity: (Element) -> Identity, duplicate: (Element) -> String
    ) -> [Element]? {
        guard let items = list(value, nonEmpty: nonEmpty) else { return nil }
        var elements: [Element] = []
        var seen = Set<Identity>()
        var complete = true
        for item in items {
            guard let element = read(item) else {
                complete = false
                continue
            }
            guard seen.insert(identity(element)).inserted else {
                report(duplicate(element), at: item)
                complete = false
                continue
            }
            elements.append(element)
        }
        return complete ? elements : nil
    }

    // MARK: Scalars

    package func integer(_ value: YAMLValue, in range: ClosedRange<Int>, note: String? = nil) -> Int? {
        let expectation = "an integer \(range.lowerBound)...\(range.upperBound)" + (note.map { " (\($0))" } ?? "")
        guard case .plain(let text)? = ScalarText(value.node), isIntegerText(text) else {
            reportMismatch(expected: expectation, at: value)
            return nil
        }
        guard let number = Int(text), range.contains(number) else {
            report("expected \(expectation), found \(text)", at: value)
            return nil
        }
        return number
    }

    /// An integer from a fixed set, e.g. link widths.
    package func integer(_ value: YAMLValue, oneOf allowed: [Int], unit: String) -> Int? {
        let expectation = "one of \(listing(allowed.map(String.init))) \(unit)"
        guard case .plain(let text)? = ScalarText(value.node), isIntegerText(text) else {
            reportMismatch(expected: expectation, at: value)
            return nil
        }
        guard let number = Int(text), allowed.contains(number) else {
            report("expected \(expectation), found \(text)", at: value)
            return nil
        }
        return number
    }

    /// A finite decimal number (`16`, `2.5`, `1e3`).
    package func number(_ value: YAMLValue, expectation: String = "a number") -> Double? {
        guard case .plain(let text)? = ScalarText(value.node), let number = decimalNumber(text) else {
            reportMismatch(expected: expectation, at: value)
            return nil
        }
        return number
    }

    /// A threshold: a finite number greater than 0.
    package func positiveNumber(_ value: YAMLValue) -> Double? {
        let expectation = "a number greater than 0"
        guard let number = number(value, expectation: expectation) else { return nil }
        guard number > 0 else {
            report("expected \(expectation), found \(formatNumber(number))", at: value)
            return nil
        }
        return number
    }

    /// Any non-empty single-line scalar, quoted or not.
    package func text(_ value: YAMLValue, maxLength: Int = 200) -> String? {
        guard let text = ScalarText(value.node)?.text, !text.trimmingWhitespace.isEmpty else {
            reportMismatch(expected: "a non-empty text", at: value)
            return nil
        }
        guard !text.contains(where: \.isNewline), text.count <= maxLength else {
            report("expected a single line of at most \(maxLength) characters", at: value)
            return nil
        }
        return text
    }

    /// A name made of `a-z`, `0-9` and dashes, starting and ending with a letter or digit.
    package func dashedName(_ value: YAMLValue, maxLength: Int = 64) -> String? {
        guard let text = text(value, maxLength: maxLength) else { return nil }
        let words = text.split(separator: "-", omittingEmptySubsequences: false)
        guard words.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCIIDigit || ("a"..."z").contains($0) } })
        else {
            report(
                "expected lower-case letters and digits joined by single dashes (like 'network-pf'), found \"\(text)\"",
                at: value)
            return nil
        }
        return text
    }

    package func boolean(_ value: YAMLValue) -> Bool? {
        switch ScalarText(value.node) {
        case .plain("true")?, .plain("True")?, .plain("TRUE")?: return true
        case .plain("false")?, .plain("False")?, .plain("FALSE")?: return false
        default:
            reportMismatch(expected: "true or false", at: value)
            return nil
        }
    }

    /// One of an enumeration's raw values, with a suggestion for near misses.
    package func choice<Choice: RawRepresentable & CaseIterable>(_ value: YAMLValue, _ type: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        let expectation = "one of \(listing(names))"
        guard let text = ScalarText(value.node)?.text else {
            reportMismatch(expected: expectation, at: value)
            return nil
        }
        guard let choice = Choice(rawValue: text) else {
            var message = "expected \(expectation), found \(quoted(text))"
            if let suggestion = closestMatch(to: text, among: names) {
                message += "; did you mean '\(suggestion)'?"
            }
            report(message, at: value)
            return nil
        }
        return choice
    }

    /// A value parsed from a scalar's text by `parse` (hex IDs, addresses, versions).
    package func parsed<Parsed>(_ value: YAMLValue, expectation: String, parse: (String) -> Parsed?) -> Parsed? {
        guard let text = ScalarText(value.node)?.text, let parsed = parse(text) else {
            reportMismatch(expected: expectation, at: value)
            return nil
        }
        return parsed
    }

    // MARK: Wording

    package func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar:
            guard let text = ScalarText(node)?.text else { return "nothing" }
            return quoted(text)
        }
    }

    private func unknownKeyMessage(_ key: String, allowed: [String]) -> String {
        if let suggestion = closestMatch(to: key, among: allowed) {
            return "unknown key; did you mean '\(suggestion)'?"
        }
        return "unknown key; expected one of \(listing(allowed))"
    }
}

/// `"text"`, shortened to 40 characters, with quotes and control characters escaped.
func quoted(_ text: String) -> String {
    let shortened = text.count > 40 ? String(text.prefix(37)) + "..." : text
    let escaped = shortened.unicodeScalars.map { scalar -> String in
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case _ where scalar.properties.generalCategory == .control:
            return "\\u{\(String(scalar.value, radix: 16))}"
        default: return String(scalar)
        }
    }
    return "\"\(escaped.joined())\""
}

/// `a, b or c`.
func listing(_ words: [String]) -> String {
    guard let last = words.last, words.count > 1 else { return words.first ?? "" }
    return words.dropLast().joined(separator: ", ") + " or " + last
}

/// The closest candidate within a small edit distance, ignoring case.
func closestMatch(to word: String, among candidates: [String]) -> String? {
    let limit = max(1, min(3, word.count / 3))
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return nil }
    return best.0
}

/// Levenshtein distance over characters.
func editDistance(_ source: String, _ target: String) -> Int {
    let source = Array(source)
    let target = Array(target)
    guard !source.isEmpty else { return target.count }
    guard !target.isEmpty else { return source.count }
    var previous = Array(0...target.count)
    for (sourceIndex, sourceCharacter) in source.enumerated() {
        var current = [sourceIndex + 1]
        for (targetIndex, targetCharacter) in target.enumerated() {
            let substitution = previous[targetIndex] + (sourceCharacter == targetCharacter ? 0 : 1)
            current.append(min(previous[targetIndex + 1] + 1, current[targetIndex] + 1, substitution))
        }
        previous = current
    }
    return previous[target.count]
}

/// An optional sign followed by decimal digits only.
private func isIntegerText(_ text: String) -> Bool {
    let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
    return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
}

/// Decimal notation only: Swift's `Double(_:)` would also take `inf`, `nan` and hex floats.
private func decimalNumber(_ text: String) -> Double? {
    guard text.contains(where: \.isASCIIDigit),
          text.allSatisfy({ $0.isASCIIDigit || "+-.eE".contains($0) }),
          let number = Double(text), number.isFinite
    else { return nil }
    return number
}

extension StringProtocol {
    var trimmingWhitespace: Substring {
        let characters = Substring(self)
        let start = characters.firstIndex { !$0.isWhitespace } ?? characters.endIndex
        let end = characters.lastIndex { !$0.isWhitespace }.map(characters.index(after:)) ?? start
        return characters[start..<end]
    }
}
