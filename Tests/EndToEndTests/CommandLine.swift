import Foundation
import Testing

/// The built `dpucert` executable and the tools the end-to-end tests check its output with.
enum Tooling {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// `dpucert` beside the test bundle (SwiftPM builds products and tests into one folder).
    static let executable: String? = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("dpucert").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = repositoryRoot + "/.build/debug/dpucert"
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }()

    static let sharedSchemas = repositoryRoot + "/../shared/schemas"
    static let validator = repositoryRoot + "/Tests/ReportsTests/validate_reports.py"

    static func which(_ name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// External validators are required in CI and optional elsewhere.
    static var validatorsAvailable: Bool {
        which("xmllint") != nil && which("python3") != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }
}

struct Completed {
    var status: Int32
    var output: String
    var errors: String
}

/// Runs a program to completion (bounded by `timeout`), capturing its output.
func execute(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> Completed {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: Tooling.repositoryRoot)
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let collected = CollectedOutput(output: output, errors: errors)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        Issue.record("\(executable) \(arguments) ran longer than \(timeout) s")
    }
    process.waitUntilExit()
    let (stdout, stderr) = collected.finish()
    return Completed(status: process.terminationStatus, output: stdout, errors: stderr)
}

/// Drains both pipes while the process runs, so a chatty child never blocks.
final class CollectedOutput: @unchecked Sendable {
    private let group = DispatchGroup()
    private var output = Data(), errors = Data()

    init(output: Pipe, errors: Pipe) {
        for (pipe, isOutput) in [(output, true), (errors, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                if isOutput { self.output = data } else { self.errors = data }
                self.group.leave()
            }
        }
    }

    func finish() -> (String, String) {
        group.wait()
        return (String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}

func dpucert(_ arguments: [String], timeout: TimeInterval = 120) throws -> Completed {
    let executable = try #require(Tooling.executable, "the dpucert executable is not built")
    return try execute(executable, arguments, timeout: timeout)
}

/// A fresh output folder, removed afterwards.
final class OutputFolder {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-e2e-\(UUID().uuidString)").path
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Every validator real consumers use, on the reports of one run.
func validateReports(in folder: String, ctrf: String? = nil, counts: (tests: Int, failures: Int, errors: Int, skipped: Int))
    throws
{
    let junit = folder + "/junit.xml"
    for schema in ["jenkins-xunit-junit-10.xsd", "jenkins-junit-4.xsd"] {
        let xmllint = try #require(Tooling.which("xmllint"), "xmllint is missing (Debian package libxml2-utils)")
        let result = try execute(xmllint, ["--noout", "--schema", Tooling.sharedSchemas + "/" + schema, junit])
        #expect(result.status == 0, "\(schema): \(result.errors)")
    }
    let python = try #require(Tooling.which("python3"))
    let parsed = try execute(python, [Tooling.validator, "junit", junit, "\(counts.tests)", "\(counts.failures)",
                                      "\(counts.errors)", "\(counts.skipped)"])
    #expect(parsed.status == 0, "junitparser/xunitparser: \(parsed.errors)")
    let json = try execute(python, [Tooling.validator, "schema", Tooling.repositoryRoot + "/schemas/report.schema.json",
                                    folder + "/report.json"])
    #expect(json.status == 0, "report.schema.json: \(json.errors)")
    if let ctrf {
        let result = try execute(python, [Tooling.validator, "schema", Tooling.sharedSchemas + "/ctrf.schema.json", ctrf])
        #expect(result.status == 0, "ctrf.schema.json: \(result.errors)")
    }
    let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
    #expect(html.contains("<html") && !html.contains("src=\"http"))
}

func loadReport(_ folder: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}
