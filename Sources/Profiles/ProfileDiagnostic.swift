/// One problem found in a profile, located as precisely as the YAML allows.
///
/// `line` and `column` are 1-based (columns count Unicode scalars, as libyaml does).
/// Both are 0 when the problem concerns the file as a whole (it cannot be read, it is empty).
/// `keyPath` names the offending value (`pci.functions[0].sriov.minTotalVFs`); it is empty
/// for problems that sit below the schema, such as YAML syntax errors.
public struct ProfileDiagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public let keyPath: String
    public let message: String

    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line:column: keyPath: message`, leaving out the parts that are unknown.
    public var description: String {
        var text = file
        if line > 0 {
            text += ":\(line):\(column)"
        }
        text += ": "
        if !keyPath.isEmpty {
            text += "\(keyPath): "
        }
        return text + message
    }
}

/// Every problem found in one profile file, in file order.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let diagnostics: [ProfileDiagnostic]

    public init(diagnostics: [ProfileDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
