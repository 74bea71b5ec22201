import Foundation
import Testing

/// Paths of the checked-in fixtures, the repository's schema and the shared third-party schemas.
enum Paths {
    /// Tests/ReportsTests
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let packageRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let goldenDirectory = testsDirectory.appendingPathComponent("Fixtures/golden")
    static let validatorScript = testsDirectory.appendingPathComponent("validate_reports.py").path
    static let reportSchema = packageRoot.appendingPathComponent("schemas/report.schema.json").path
    /// `shared/` lies beside the checkout (DESIGN: `../shared/schemas/`).
    static let sharedSchemas = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/schemas")
    static let junit10XSD = sharedSchemas.appendingPathComponent("jenkins-xunit-junit-10.xsd").path
    static let junit4XSD = sharedSchemas.appendingPathComponent("jenkins-junit-4.xsd").path
    static let antXSD = sharedSchemas.appendingPathComponent("windyroad-ant-JUnit.xsd").path
    static let ctrfSchema = sharedSchemas.appendingPathComponent("ctrf.schema.json").path
}

/// Output of a finished child process.
struct ProcessOutput {
    var status: Int32
    var standardOutput: String
    var standardError: String
    var combined: String { standardOutput + standardError }
}

/// Runs `arguments` (program looked up in PATH); output goes through files so a chatty
/// child can never block on a full pipe.
func runProcess(_ arguments: [String]) throws -> ProcessOutput {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-process-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out")
    let errURL = scratch.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessOutput(
        status: process.terminationStatus,
        standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// Something outside Swift a test needs. Without `CI` set, a test whose requirement is
/// missing is skipped with the reason; with `CI` set it runs and fails saying what to install.
struct ExternalRequirement: Sendable {
    var name: String
    var installHint: String
    var isAvailable: Bool

    static let isCI: Bool = {
        guard let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() else { return false }
        return !["", "0", "false", "no"].contains(value)
    }()

    static let xmllint = ExternalRequirement(
        name: "xmllint", installHint: "apt-get install -y libxml2-utils",
        isAvailable: (try? runProcess(["xmllint", "--version"]).status) == 0
    )

    static let pythonValidators = ExternalRequirement(
        name: "Python packages junitparser, xunitparser, jsonschema, rfc3339-validator",
        installHint: "python3 -m pip install junitparser xunitparser jsonschema rfc3339-validator",
        isAvailable: (try? runProcess(["python3", "-c", "import junitparser, xunitparser, jsonschema, rfc3339_validator"]).status) == 0
    )

    static let sharedSchemas = ExternalRequirement(
        name: "shared schemas in \(Paths.sharedSchemas.path)",
        installHint: "check out shared/ beside the repository",
        isAvailable: [Paths.junit10XSD, Paths.junit4XSD, Paths.antXSD, Paths.ctrfSchema]
            .allSatisfy { FileManager.default.fileExists(atPath: $0) }
    )

    /// Whether a test needing this should run here.
    var shouldRun: Bool { isAvailable || ExternalRequirement.isCI }

    struct Missing: Error, CustomStringConvertible {
        var requirement: ExternalRequirement
        var description: String {
            "missing \(requirement.name) (CI is set, so this is a failure): \(requirement.installHint)"
        }
    }

    func require() throws {
        if !isAvailable { throw Missing(requirement: self) }
    }
}

/// Checks generated documents with the external validators; each check records an issue
/// that quotes the tool's own complaint.
enum ExternalValidation {
    static func xmllintSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.xmllint.require()
        try ExternalRequirement.sharedSchemas.require()
        let output = try runProcess(["xmllint", "--noout", "--schema", schema, document])
        #expect(output.status == 0, "xmllint \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }

    static func xmllintWellFormed(_ document: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.xmllint.require()
        let output = try runProcess(["xmllint", "--noout", document])
        #expect(output.status == 0, "xmllint: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    static func pythonJUnit(_ document: String, tests: Int, failures: Int, errors: Int, skipped: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.pythonValidators.require()
        let output = try runProcess(["python3", Paths.validatorScript, "junit", document,
                                     "\(tests)", "\(failures)", "\(errors)", "\(skipped)"])
        #expect(output.status == 0, "junitparser/xunitparser: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    static func jsonSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.pythonValidators.require()
        let output = try runProcess(["python3", Paths.validatorScript, "schema", schema, document])
        #expect(output.status == 0, "jsonschema \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-reports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
