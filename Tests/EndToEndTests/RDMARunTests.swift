import Foundation
import ReportTestSupport
import TestGates
import Testing

/// The RDMA suite where no RDMA device can be: never a pass, always a reason.
@Suite("The RDMA suite without RDMA", .runsDpucert, .validatesReports)
struct RDMARunTests {
    @Test("--hardware on a kernel without RDMA: every RDMA check skipped for \"no RDMA subsystem\", the run inconclusive",
          .enabled(if: !FileManager.default.fileExists(atPath: "/sys/class/infiniband"), "this machine has an RDMA subsystem"))
    func noSubsystem() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--hardware", "--profile", "profiles/vm-smartnic.yaml", "--only", "rdma.*", "--out", folder.path])
        #expect(result.status == 3, "\(result.combined)")
        let report = try loadReport(folder.path)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.count == 10)
        for check in results {
            #expect(check["status"] as? String == "skipped")
            #expect((check["message"] as? String)?.contains("no RDMA subsystem") == true, "\(check)")
        }
        #expect((report["summary"] as? [String: Any])?["verdict"] as? String == "inconclusive")
    }

    @Test("an emulated run says why the RDMA suite cannot run there")
    func emulated() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--profile", "profiles/emulated-smartnic.yaml", "--only", "rdma.*", "--out", folder.path])
        #expect(result.status == 3, "\(result.combined)")
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]])
        #expect(!results.isEmpty && results.allSatisfy {
            $0["status"] as? String == "skipped" && ($0["message"] as? String)?.contains("the emulated card has no RDMA device") == true
        }, "\(results)")
    }
}
