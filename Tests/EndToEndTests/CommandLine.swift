import Foundation
import ReportTestSupport
import TestGates
import Testing

/// The built `dpucert` executable and the tools the end-to-end tests check its output with.
enum Tooling {
    static let repositoryRoot = Paths.packageRoot.path

    static let executable = BuiltProducts.executable(named: "dpucert")
}

extension Trait where Self == RequiresTrait {
    /// Tests that run the built `dpucert`.
    static var runsDpucert: Self { .requires(.built("dpucert", at: Tooling.executable)) }

    /// What `validateReports` uses: every test that calls it carries this trait.
    static var validatesReports: Self { .requires(.xmllint, .pythonValidators, .sharedSchemas) }
}

/// Runs `dpucert` from the repository root, bounded in time.
func dpucert(_ arguments: [String], timeout: TimeInterval = 120) throws -> ProcessOutput {
    let executable = try #require(Tooling.executable, "the dpucert executable is not built")
    return try runProcess([executable] + arguments, in: Tooling.repositoryRoot, timeout: timeout)
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
    for schema in [SharedFiles.junit10XSD, SharedFiles.junit4XSD] {
        try ExternalValidation.xmllintSchema(junit, schema: schema)
    }
    try ExternalValidation.pythonJUnit(junit, tests: counts.tests, failures: counts.failures, errors: counts.errors,
                                       skipped: counts.skipped)
    try ExternalValidation.jsonSchema(folder + "/report.json", schema: Paths.reportSchema)
    if let ctrf {
        try ExternalValidation.jsonSchema(ctrf, schema: SharedFiles.ctrfSchema)
    }
    let html = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
    #expect(html.contains("<html") && !html.contains("src=\"http"))
}

func loadReport(_ folder: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}
