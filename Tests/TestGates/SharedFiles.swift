// TestGates: where the files the tests read from outside the repository are: `shared/`
// beside the checkout holds third-party report schemas and real PCI bus dumps.
import Foundation

public enum SharedFiles {
    /// `shared/` beside the checkout (this file is Tests/TestGates/SharedFiles.swift).
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared").path

    public static let schemas = directory + "/schemas"
    public static let junit10XSD = schemas + "/jenkins-xunit-junit-10.xsd"
    public static let junit4XSD = schemas + "/jenkins-junit-4.xsd"
    public static let antXSD = schemas + "/windyroad-ant-JUnit.xsd"
    public static let ctrfSchema = schemas + "/ctrf.schema.json"
    public static let schemaFiles = [junit10XSD, junit4XSD, antXSD, ctrfSchema]

    /// Real bus dumps (pciutils' test corpus and dumps from public posts): the folder
    /// `DPUCERT_PCI_DUMPS` names, else shared/pci-dumps.
    public static let pciDumps: String = {
        let configured = ProcessInfo.processInfo.environment["DPUCERT_PCI_DUMPS"] ?? ""
        return configured.isEmpty ? directory + "/pci-dumps" : configured
    }()

    /// The dumps under `pciDumps`, as paths relative to it, sorted; the notes beside them
    /// (`.txt`, `.md`) left out.
    public static let pciDumpFiles: [String] = {
        guard let enumerator = FileManager.default.enumerator(atPath: pciDumps) else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { path in
            let name = (path as NSString).lastPathComponent
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: pciDumps + "/" + path, isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue && !name.hasSuffix(".txt") && !name.hasSuffix(".md")
        }.sorted()
    }()
}
