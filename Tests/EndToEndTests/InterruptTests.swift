import Foundation
import ReportTestSupport
import TestGates
import Testing

/// Lines a child process prints, collected as they come.
final class LiveOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""

    init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.text += String(decoding: data, as: UTF8.self) }
        }
    }

    var current: String { lock.withLock { text } }

    /// Waits (bounded) until the output contains `fragment`.
    func wait(for fragment: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if current.contains(fragment) { return true }
            usleep(50_000)
        }
        return false
    }
}

/// Starts `dpucert` from the repository root with its standard output followed as it comes.
func launchDpucert(_ arguments: [String]) throws -> (Process, LiveOutput) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(Tooling.executable))
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: Tooling.repositoryRoot)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let live = LiveOutput(output)
    try process.run()
    return (process, live)
}

@Suite("Interrupted runs", .runsDpucert, .requires(.networkNamespaces), .validatesReports)
struct InterruptTests {
    @Test("SIGINT mid-check: exit 3, a complete valid report marked aborted, and the run's lab removed")
    func sigintMidRun() throws {
        let folder = OutputFolder()
        let (process, live) = try launchDpucert(["run", "--profile", "profiles/emulated-smartnic.yaml", "--out", folder.path,
                                                 "--verbose"])
        defer { if process.isRunning { process.terminate() } }

        // The attack-surface scan takes seconds: interrupt it while it runs.
        #expect(live.wait(for: "...  isolation.dpu-attack-surface", timeout: 90), "\(live.current)")
        process.interrupt()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!process.isRunning, "dpucert did not stop within 60 s of SIGINT")
        process.waitUntilExit()
        #expect(process.terminationStatus == 3, "\(live.current)")

        let report = try loadReport(folder.path)
        #expect((report["run"] as? [String: Any])?["status"] as? String == "aborted")
        let results = try #require(report["results"] as? [[String: Any]])
        let interrupted = try #require(results.first { $0["id"] as? String == "isolation.dpu-attack-surface" })
        #expect(interrupted["status"] as? String == "error")
        #expect((interrupted["message"] as? String)?.contains("aborted") == true)
        #expect(results.filter { ($0["id"] as? String)?.hasPrefix("pci.") == true }.allSatisfy { $0["status"] as? String == "passed" })
        let counts = (results.count, 0, results.filter { $0["status"] as? String == "error" }.count,
                      results.filter { $0["status"] as? String == "skipped" }.count)
        try validateReports(in: folder.path, counts: counts)

        // The lab this run built is gone.
        let firstLine = live.current.split(separator: "\n").first { $0.hasPrefix("dpucert: EMULATED") } ?? ""
        let labName = try #require(firstLine.range(of: "; lab ").map { firstLine[$0.upperBound...].prefix { $0.isLetter || $0.isNumber } })
        let namespaces = try runProcess(["ip", "netns", "list"])
        #expect(!namespaces.standardOutput.contains("\(labName)-"), "\(namespaces.standardOutput)")
    }
}

@Suite("Standing labs from the command line", .runsDpucert, .requires(.networkNamespaces))
struct StandingLabTests {
    @Test("emulate up refuses a duplicate, run --lab leaves the lab standing, emulate down is safe to repeat")
    func upRunDown() throws {
        let name = "e" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
        let profile = "profiles/emulated-smartnic.yaml"
        defer { _ = try? dpucert(["emulate", "down", "--name", name]) }
        let up = try dpucert(["emulate", "up", "--profile", profile, "--name", name])
        #expect(up.status == 0, "\(up.combined)")
        let again = try dpucert(["emulate", "up", "--profile", profile, "--name", name])
        #expect(again.status == 2 && again.standardError.contains("exists already"), "\(again.combined)")

        let folder = OutputFolder()
        let run = try dpucert(["run", "--profile", profile, "--lab", name, "--only", "isolation.no-route-to-oob",
                               "--out", folder.path, "--quiet"])
        #expect(run.status == 0, "\(run.combined)")
        #expect(try runProcess(["ip", "netns", "list"]).standardOutput.contains("\(name)-dpu"), "the standing lab was removed")

        for _ in 0..<2 {
            let down = try dpucert(["emulate", "down", "--name", name])
            #expect(down.status == 0, "\(down.combined)")
        }
        #expect(!(try runProcess(["ip", "netns", "list"]).standardOutput.contains("\(name)-")))
    }
}
