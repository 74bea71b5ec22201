// ReportTestSupport: the independent consumers every generated report is checked with
// (xmllint against the JUnit XSDs, junitparser and xunitparser, jsonschema against our
// report schema and CTRF's), and the process runner the tests call them through.
import Foundation
import Testing

/// The repository's schema, the validator script and the shared third-party schemas.
public enum Paths {
    /// Tests/ReportTestSupport
    static let supportDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    public static let packageRoot = supportDirectory.deletingLastPathComponent().deletingLastPathComponent()
    public static let validatorScript = supportDirectory.appendingPathComponent("validate_reports.py").path
    public static let reportSchema = packageRoot.appendingPathComponent("schemas/report.schema.json").path
    /// `shared/` lies beside the checkout (DESIGN: `../shared/schemas/`).
    public static let sharedSchemas = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/schemas")
    public static let junit10XSD = sharedSchemas.appendingPathComponent("jenkins-xunit-junit-10.xsd").path
    public static let junit4XSD = sharedSchemas.appendingPathComponent("jenkins-junit-4.xsd").path
    public static let antXSD = sharedSchemas.appendingPathComponent("windyroad-ant-JUnit.xsd").path
    public static let ctrfSchema = sharedSchemas.appendingPathComponent("ctrf.schema.json").path
}

/// Output of a finished child process.
public struct ProcessOutput {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
    public var combined: String { standardOutput + standardError }
}

/// Runs `arguments` (program looked up in PATH, or a path) in `directory`; output goes
/// through files so a chatty child can never block on a full pipe. A child still running
/// after `timeout` seconds is terminated and reported as an issue.
public func runProcess(_ arguments: [String], in directory: String? = nil, timeout: TimeInterval = 300) throws -> ProcessOutput {
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
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        Issue.record("\(arguments.joined(separator: " ")) ran longer than \(Int(timeout)) s")
    }
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
public struct ExternalRequirement: Sendable {
    public var name: String
    public var installHint: String
    public var isAvailable: Bool

    public static let isCI: Bool = {
        guard let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() else { return false }
        return !["", "0", "false", "no"].contains(value)
    }()

    public static let xmllint = ExternalRequirement(
        name: "xmllint", installHint: "apt-get install -y libxml2-utils",
        isAvailable: (try? runProcess(["xmllint", "--version"]).status) == 0
    )

    public static let pythonValidators = ExternalRequirement(
        name: "Python packages junitparser, xunitparser, jsonschema, rfc3339-validator",
        installHint: "python3 -m pip install junitparser xunitparser jsonschema rfc3339-validator",
        isAvailable: (try? runProcess(["python3", "-c", "import junitparser, xunitparser, jsonschema, rfc3339_validator"]).status) == 0
    )

    public static let sharedSchemas = ExternalRequirement(
        name: "shared schemas in \(Paths.sharedSchemas.path)",
        installHint: "check out shared/ beside the repository",
        isAvailable: [Paths.junit10XSD, Paths.junit4XSD, Paths.antXSD, Paths.ctrfSchema]
            .allSatisfy { FileManager.default.fileExists(atPath: $0) }
    )

    /// Whether a test needing this should run here.
    public var shouldRun: Bool { isAvailable || ExternalRequirement.isCI }

    struct Missing: Error, CustomStringConvertible {
        var requirement: ExternalRequirement
        var description: String {
            "missing \(requirement.name) (CI is set, so this is a failure): \(requirement.installHint)"
        }
    }

    public func require() throws {
        if !isAvailable { throw Missing(requirement: self) }
    }
}

/// Checks generated documents with the external validators; each check records an issue
/// that quotes the tool's own complaint.
public enum ExternalValidation {
    public static func xmllintSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.xmllint.require()
        try ExternalRequirement.sharedSchemas.require()
        let output = try runProcess(["xmllint", "--noout", "--schema", schema, document])
        #expect(output.status == 0, "xmllint \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }

    public static func xmllintWellFormed(_ document: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.xmllint.require()
        let output = try runProcess(["xmllint", "--noout", document])
        #expect(output.status == 0, "xmllint: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    public static func pythonJUnit(_ document: String, tests: Int, failures: Int, errors: Int, skipped: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.pythonValidators.require()
        let output = try runProcess(["python3", Paths.validatorScript, "junit", document,
                                     "\(tests)", "\(failures)", "\(errors)", "\(skipped)"])
        #expect(output.status == 0, "junitparser/xunitparser: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    public static func jsonSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ExternalRequirement.pythonValidators.require()
        let output = try runProcess(["python3", Paths.validatorScript, "schema", schema, document])
        #expect(output.status == 0, "jsonschema \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct ScratchDirectory {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-reports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}
