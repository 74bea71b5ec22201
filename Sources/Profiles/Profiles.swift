// Profiles owns the device profile: the model of what a card must show the host and achieve
// (profiles/*.yaml), loading it from YAML with file:line:column diagnostics, and every rule a
// profile must satisfy. It knows nothing of tests, reports or how emulation is built.

import Foundation
import Yams

/// Loads and validates profiles. Every problem in a file is reported, not only the first.
public enum ProfileLoader {
    /// Larger files are refused unread: a profile is a page of YAML.
    public static let maximumFileSize = 1 << 20

    public static func load(path: String) throws(ProfileError) -> Profile {
        let yaml = try readText(path: path, kind: "profile")
        return try load(yaml: yaml, file: path)
    }

    /// `file` is only used to label diagnostics.
    public static func load(yaml: String, file: String) throws(ProfileError) -> Profile {
        try document(yaml: yaml, file: file, kind: "profile") { reader, root in
            ProfileSchema(yaml: reader).profile(from: root)
        }
    }

    /// Reads another YAML document of the project (a testbed file) from `path` with the
    /// same rules and located diagnostics as a profile: `read` builds it from the root,
    /// reporting every problem through the reader.
    package static func document<Document>(path: String, kind: String,
                                           read: (YAMLReader, YAMLValue) -> Document?) throws(ProfileError) -> Document {
        try document(yaml: readText(path: path, kind: kind), file: path, kind: kind, read: read)
    }

    package static func document<Document>(yaml: String, file: String, kind: String,
                                           read: (YAMLReader, YAMLValue) -> Document?) throws(ProfileError) -> Document {
        let log = DiagnosticLog(file: file)
        let document = root(of: yaml, kind: kind, log: log).flatMap { read(YAMLReader(log: log), YAMLValue(node: $0, path: .root)) }
        guard let document, log.diagnostics.isEmpty else {
            if log.diagnostics.isEmpty {
                // Unreachable by construction; kept so that a gap can never pass as a valid document.
                log.report("the \(kind) could not be read completely", line: 0, column: 0, path: .root)
            }
            throw ProfileError(diagnostics: log.sortedDiagnostics)
        }
        return document
    }

    /// What `dpucert profile validate FILE...` prints: every diagnostic of every file, in
    /// argument order; empty when all files are valid.
    public static func validate(paths: [String]) -> [ProfileDiagnostic] {
        paths.flatMap { path -> [ProfileDiagnostic] in
            do throws(ProfileError) {
                _ = try load(path: path)
                return []
            } catch {
                return error.diagnostics
            }
        }
    }

    // MARK: Below the schema

    private static func readText(path: String, kind: String) throws(ProfileError) -> String {
        func failure(_ message: String) -> ProfileError {
            ProfileError(
                diagnostics: [ProfileDiagnostic(file: path, line: 0, column: 0, keyPath: "", message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw failure("no such file")
        }
        guard !isDirectory.boolValue else {
            throw failure("is a directory, expected a \(kind) YAML file")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maximumFileSize + 1) ?? Data()
        } catch {
            throw failure("cannot read the file: \(error.localizedDescription)")
        }
        guard data.count <= maximumFileSize else {
            throw failure("larger than \(maximumFileSize) bytes; a \(kind) is a page of YAML")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw failure("not UTF-8 text")
        }
        return text
    }

    /// The document's root node, or nil with the YAML error reported at its line and column.
    private static func root(of yaml: String, kind: String, log: DiagnosticLog) -> Node? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            report(error, log: log)
            return nil
        } catch {
            log.report("YAML error: \(error)", line: 0, column: 0, path: .root)
            return nil
        }
        guard let node else {
            log.report("the file holds no YAML document; expected a \(kind)", line: 0, column: 0, path: .root)
            return nil
        }
        return node
    }

    private static func report(_ error: YamlError, log: DiagnosticLog) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            log.report(message, at: mark, path: .root)
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = offset.map { position(ofCharacterOffset: $0, in: yaml) } ?? (0, 0)
            log.report("unreadable input: \(problem)", line: line, column: column, path: .root)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = listing(duplicates.sorted().map { "'\($0)'" })
            log.report("duplicate key \(keys) in one mapping; each key may appear once", at: context.mark, path: .root)
        default:
            log.report("YAML error: \(error)", line: 0, column: 0, path: .root)
        }
    }

    /// 1-based line and column of a character offset, columns counted in Unicode scalars as libyaml does.
    private static func position(ofCharacterOffset offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }
}
