// ReportTestSupport: the independent consumers every generated report is checked with
// (xmllint against the JUnit XSDs, junitparser and xunitparser, jsonschema against our
// report schema and CTRF's), and the process runner the tests call them through.
import Foundation
import TestGates
import Testing

/// The repository's schema and the validator script; the third-party schemas are in `SharedFiles`.
public enum Paths {
    /// Tests/ReportTestSupport
    static let supportDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    public static let packageRoot = supportDirectory.deletingLastPathComponent().deletingLastPathComponent()
    public static let validatorScript = supportDirectory.appendingPathComponent("validate_reports.py").path
    public static let reportSchema = packageRoot.appendingPathComponent("schemas/report.schema.json").path
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

/// Checks generated documents with the external validators; each check records an issue
/// that quotes the tool's own complaint. A test that calls one declares what it uses with
/// `.requires(...)`; the checks throw `MissingRequirements` for what a test forgot to declare.
public enum ExternalValidation {
    public static func xmllintSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Requirement.xmllint.require()
        try requireSchema(schema)
        let output = try runProcess(["xmllint", "--noout", "--schema", schema, document])
        #expect(output.status == 0, "xmllint \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }

    public static func xmllintWellFormed(_ document: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Requirement.xmllint.require()
        let output = try runProcess(["xmllint", "--noout", document])
        #expect(output.status == 0, "xmllint: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    public static func pythonJUnit(_ document: String, tests: Int, failures: Int, errors: Int, skipped: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Requirement.pythonValidators.require()
        let output = try runProcess(["python3", Paths.validatorScript, "junit", document,
                                     "\(tests)", "\(failures)", "\(errors)", "\(skipped)"])
        #expect(output.status == 0, "junitparser/xunitparser: \(output.combined.prefix(4000))", sourceLocation: sourceLocation)
    }

    public static func jsonSchema(_ document: String, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Requirement.pythonValidators.require()
        try requireSchema(schema)
        let output = try runProcess(["python3", Paths.validatorScript, "schema", schema, document])
        #expect(output.status == 0, "jsonschema \((schema as NSString).lastPathComponent): \(output.combined.prefix(4000))",
                sourceLocation: sourceLocation)
    }

    /// The shared schemas are a requirement of the checks against one of them only.
    private static func requireSchema(_ schema: String) throws {
        if SharedFiles.schemaFiles.contains(schema) { try Requirement.sharedSchemas.require() }
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
