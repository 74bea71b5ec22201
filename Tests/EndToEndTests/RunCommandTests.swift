import Foundation
import TestGates
import Testing

@Suite("dpucert run, end to end", .runsDpucert)
struct RunCommandTests {
    static let profile = "profiles/emulated-smartnic.yaml"

    @Test("the default emulated certification passes every check, lists what no check examines, and is inconclusive", .validatesReports)
    func cleanRun() throws {
        let folder = OutputFolder()
        let ctrf = folder.path + "/report.ctrf.json"
        let result = try dpucert(["run", "--profile", Self.profile, "--out", folder.path, "--ctrf", ctrf])
        // The emulated card has no RDMA device (its checks are skipped), and firmware has no check yet.
        #expect(result.status == 3, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.hasPrefix("dpucert: EMULATED run"))
        #expect(result.standardOutput.contains("not examined to a conclusion"))
        #expect(result.standardOutput.contains("rdma.minWriteBandwidthGbps → rdma.write-bandwidth: skipped"), "\(result.standardOutput)")
        let report = try loadReport(folder.path)
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["verdict"] as? String == "inconclusive")
        #expect((report["run"] as? [String: Any])?["mode"] as? String == "emulated")
        let results = try #require(report["results"] as? [[String: Any]])
        for result in results {
            let id = try #require(result["id"] as? String)
            let expected = id.contains(".not-examined-") || id.hasPrefix("rdma.") ? "skipped" : "passed"
            #expect(result["status"] as? String == expected, "\(id): \(result["message"] ?? "")")
            if id.hasPrefix("rdma.") && !id.contains(".not-examined-") {
                #expect((result["message"] as? String)?.contains("the emulated card has no RDMA device") == true, "\(id)")
            }
        }
        let coverage = try #require(report["coverage"] as? [[String: Any]])
        let unexamined = coverage.filter { $0["outcome"] as? String != "passed" }.compactMap { $0["requirement"] as? String }
        #expect(unexamined.allSatisfy { ["firmware", "rdma"].contains($0.prefix { $0 != "." }) }, "\(unexamined)")
        #expect(unexamined.contains("rdma.minWriteBandwidthGbps"))
        // The storage suite examined the emulated namespace, served through FUSE: figures and charts.
        let storage = results.filter { $0["suite"] as? String == "storage" }
        #expect(storage.compactMap { $0["id"] as? String } == ["storage.discovery", "storage.seq-read", "storage.seq-write",
                                                                "storage.rand-read", "storage.integrity", "storage.flush"])
        #expect(storage.filter { !(($0["series"] as? [Any]) ?? []).isEmpty }.count == 3)
        // The network suite examined its section: its checks, figures and charts are in the report.
        let network = results.filter { $0["suite"] as? String == "network" && !(($0["id"] as? String)?.contains("not-examined") ?? true) }
        #expect(network.compactMap { $0["id"] as? String } == ["network.link-state", "network.mtu", "network.tcp-throughput",
                                                                "network.tcp-latency", "network.udp-loss", "network.vf-fairness"])
        let charted = network.filter { !(($0["series"] as? [Any]) ?? []).isEmpty }.compactMap { $0["id"] as? String }
        #expect(charted == ["network.tcp-throughput", "network.tcp-latency", "network.vf-fairness"])
        let junit = try String(contentsOfFile: folder.path + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("dpucert.coverage.network.minTcpThroughputGbps"))
        let html = try String(contentsOfFile: folder.path + "/report.html", encoding: .utf8)
        #expect(html.contains("Not examined to a conclusion") && html.contains("Requirement coverage"))
        let total = try #require(summary["total"] as? Int)
        try validateReports(in: folder.path, ctrf: ctrf, counts: (total, 0, 0, summary["skipped"] as? Int ?? 0))
    }

    @Test("a hardware run on a host without the card: every PCI check is error, nothing is certified, exit 3")
    func hardwareWithoutTheCard() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--hardware", "--profile", Self.profile, "--out", folder.path, "--quiet"])
        #expect(result.status == 3, "\(result.standardOutput)\(result.standardError)")
        let report = try loadReport(folder.path)
        #expect((report["summary"] as? [String: Any])?["verdict"] as? String == "inconclusive")
        let results = try #require(report["results"] as? [[String: Any]])
        let pci = results.filter { ($0["id"] as? String)?.hasPrefix("pci.") == true && $0["id"] as? String != nil
            && !(($0["id"] as? String)?.contains("not-examined") ?? false) }
        #expect(pci.count >= 5)
        for check in pci {
            #expect(check["status"] as? String == "error", "\(check["id"] ?? ""): \(check["message"] ?? "")")
            #expect((check["message"] as? String)?.hasPrefix("nothing to examine") == true, "\(check["message"] ?? "")")
        }
    }

    @Test("--only on a host without the card: the selected check is error, never certified, exit 3")
    func partialHardwareRunWithoutTheCard() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--hardware", "--profile", Self.profile, "--only", "pci.link*", "--out", folder.path])
        #expect(result.status == 3, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("partial run (--only pci.link*)"))
        let report = try loadReport(folder.path)
        #expect((report["summary"] as? [String: Any])?["verdict"] as? String == "inconclusive")
        #expect((report["run"] as? [String: Any])?["status"] as? String == "partial")
    }

    @Test("a fault turns the run red: exit 1, and the report names expected and observed", .validatesReports)
    func faultedRun() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--profile", Self.profile, "--out", folder.path, "--fault", "pci-link-downgrade", "--quiet"])
        #expect(result.status == 1)
        let report = try loadReport(folder.path)
        #expect((report["summary"] as? [String: Any])?["verdict"] as? String == "emulated-fail")
        #expect((report["run"] as? [String: Any])?["faults"] as? [String] == ["pci-link-downgrade"])
        let results = try #require(report["results"] as? [[String: Any]])
        let failed = results.filter { $0["status"] as? String == "failed" }
        #expect(failed.map { $0["id"] as? String } == ["pci.link-speed-width"])
        let message = try #require(failed.first?["message"] as? String)
        #expect(message.contains("expected >= x8") && message.contains("observed x4"))
        let total = results.count
        try validateReports(in: folder.path, counts: (total, 1, 0, results.filter { $0["status"] as? String == "skipped" }.count))
    }

    @Test("--only runs the matching checks and nothing else")
    func onlyGlob() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--profile", Self.profile, "--out", folder.path, "--only", "pci.sriov-*", "--quiet"])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let report = try loadReport(folder.path)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(Set(results.compactMap { $0["id"] as? String }) == ["pci.sriov-capability", "pci.sriov-enable"])
        let run = try #require(report["run"] as? [String: Any])
        #expect(run["status"] as? String == "partial")
        let selection = try #require(run["selection"] as? [String: Any])
        #expect(selection["only"] as? [String] == ["pci.sriov-*"])
        #expect((selection["leftOut"] as? [String])?.contains("pci.link-speed-width") == true)
        #expect((report["summary"] as? [String: Any])?["verdict"] as? String == "emulated-pass")
    }

    @Test("bad input is exit 2 with a specific message", arguments: [
        (["run", "--profile", "/nonexistent.yaml"], "/nonexistent.yaml"),
        (["run", "--profile", "profiles/emulated-smartnic.yaml", "--fault", "no-such-fault"], "no-such-fault"),
        (["run", "--profile", "profiles/emulated-smartnic.yaml", "--only", "nothing.matches"], "no check matches"),
        (["run", "--profile", "profiles/emulated-smartnic.yaml", "--hardware", "--fault", "pci-aer-errors"], "emulated run"),
        (["inventory", "--sysfs-root", "/nonexistent"], "/nonexistent/devices"),
        (["profile", "validate", "Tests/EndToEndTests/Fixtures/broken-profile.yaml"], "broken-profile.yaml:"),
    ])
    func badInput(arguments: [String], fragment: String) throws {
        let result = try dpucert(arguments)
        #expect(result.status == 2, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardError.contains(fragment), "\(result.standardError)")
    }

    @Test("inventory JSON has the contract's keys, with nulls where values are unknown")
    func inventoryJSON() throws {
        let folder = OutputFolder()
        #expect(try dpucert(["emulate", "sysfs", "--profile", Self.profile, "--out", folder.path]).status == 0)
        let result = try dpucert(["inventory", "--sysfs-root", folder.path, "--format", "json"])
        #expect(result.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let functions = try #require(document["functions"] as? [[String: Any]])
        let pf = try #require(functions.first { $0["address"] as? String == "0000:03:00.0" })
        for key in ["address", "vendorID", "deviceID", "subsystemVendorID", "subsystemDeviceID", "classCode", "revision",
                    "physicalFunction", "capabilities", "link", "sriov", "iommuGroup", "numaNode", "driver", "netdevs",
                    "blockDevices"] {
            #expect(pf.keys.contains(key), "missing \(key)")
        }
        #expect(pf["vendorID"] as? String == "15b3" && pf["deviceID"] as? String == "a2d6")
        #expect(pf["physicalFunction"] is NSNull)
        let sriov = try #require(pf["sriov"] as? [String: Any])
        #expect(sriov["totalVFs"] as? Int == 16 && sriov["vfDeviceID"] as? String == "101e")
        let link = try #require(pf["link"] as? [String: Any])
        #expect(link["maxSpeedGTs"] as? Double == 16.0 && link["currentWidth"] as? Int == 8)
        let bridge = try #require(functions.first { $0["address"] as? String == "0000:00:00.0" })
        #expect(bridge["sriov"] is NSNull && bridge["link"] is NSNull)
    }
}
