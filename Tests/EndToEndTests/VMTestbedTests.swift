import Foundation
import Inventory
import PCITestSupport
import ReportTestSupport
import TestGates
import Testing

/// `dpucert run --vm` and `emulate vm`: QEMU's devices under a real kernel, booted per test.
@Suite("The VM testbed: QEMU's NVMe and virtio-net under a real Linux kernel", .runsDpucert, .requires(.vmTestbed, .lspci),
       .validatesReports, .serialized)
struct VMTestbedTests {
    static let profile = "profiles/vm-smartnic.yaml"
    static let checks = ["pci.functions-present", "pci.iommu-isolation", "pci.link-speed-width", "pci.msix-vectors",
                         "pci.sriov-capability", "pci.sriov-enable", "storage.discovery", "storage.flush", "storage.integrity",
                         "storage.rand-read", "storage.rand-write", "storage.seq-read", "storage.seq-write"] + Self.rdmaChecks
    static let rdmaChecks = ["rdma.access-enforcement", "rdma.cm-connect", "rdma.data-integrity", "rdma.device-ports",
                             "rdma.pd-isolation", "rdma.qp-recovery", "rdma.read-bandwidth", "rdma.send-latency",
                             "rdma.write-bandwidth", "rdma.write-latency"]

    /// The guests of one test: a state folder of its own, so nothing here meets another run's guest.
    final class Guests {
        let state = OutputFolder()
        var option: [String] { ["--vm-state-dir", state.path] }

        /// Guest folders still there.
        var left: [String] { (try? FileManager.default.contentsOfDirectory(atPath: state.path)) ?? [] }

        /// QEMU processes of these guests still running (their command lines name the state folder).
        var processes: [String] {
            let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { Int($0) != nil } ?? []
            return pids.compactMap { pid in
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
                let command = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                return command.contains("qemu-system") && command.contains(state.path) ? "\(pid) \(command.prefix(80))" : nil
            }
        }

        /// Runs `script` in the standing guest `name` through the share, as the host's jobs run, bounded.
        func job(_ script: String, in name: String, timeout: TimeInterval = 120) throws -> String {
            let jobs = "\(state.path)/\(name)/share/jobs"
            let base = "\(jobs)/test-\(UUID().uuidString.prefix(8))"
            try Data(script.utf8).write(to: URL(fileURLWithPath: base + ".tmp"))
            try FileManager.default.moveItem(atPath: base + ".tmp", toPath: base + ".sh")
            let deadline = Date().addingTimeInterval(timeout)
            while !FileManager.default.fileExists(atPath: base + ".rc") {
                guard Date() < deadline else { throw ProcessFailure("job \(base) did not end within \(timeout) s") }
                usleep(100_000)
            }
            let log = (try? String(contentsOfFile: base + ".log", encoding: .utf8)) ?? ""
            let status = try String(contentsOfFile: base + ".rc", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard status == "0" else { throw ProcessFailure("job exited \(status): \(log)") }
            return log
        }
    }

    struct ProcessFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test("run --vm enables real VFs through the real kernel, reads them back with libpci, passes the PCI and storage suites on the real NVMe and the RDMA suite over Soft-RoCE; nothing is left")
    func cleanRun() throws {
        let guests = Guests()
        let folder = OutputFolder()
        let result = try dpucert(["run", "--vm", "--profile", Self.profile, "--out", folder.path] + guests.option, timeout: 600)
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.standardOutput.hasPrefix("dpucert: VM testbed on QEMU "), "\(result.standardOutput)")
        let report = try loadReport(folder.path)
        let run = try #require(report["run"] as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(run["mode"] as? String == "vm" && summary["verdict"] as? String == "emulated-pass")
        #expect((run["kernel"] as? String)?.hasPrefix("Linux 6.1.") == true, "the guest's kernel: \(run["kernel"] ?? "none")")
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["id"] as? String }.sorted() == Self.checks.sorted())
        #expect(results.allSatisfy { $0["status"] as? String == "passed" }, "\(results)")
        // The VFs the real kernel made, at QEMU's offset 1 and stride 1, each in an IOMMU group of its own.
        let enable = try #require(results.first { $0["id"] as? String == "pci.sriov-enable" })
        let evidence = (enable["evidence"] as? [String] ?? []).joined(separator: "\n")
        #expect(evidence.contains("0000:01:00.1") && evidence.contains("0000:01:00.2"), "\(evidence)")
        // The RDMA figures carry their perftest parameters, and the charts their series.
        let bandwidth = try #require(results.first { $0["id"] as? String == "rdma.write-bandwidth" })
        #expect((bandwidth["evidence"] as? [String] ?? []).contains { $0.contains("TX depth 128") }, "\(bandwidth)")
        // The sweep from 2 B, up to 8 MiB unless one message would outlast its time bound on a loaded machine.
        let points = (bandwidth["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]] ?? []
        #expect(points.count >= 16 && points.first?["x"] as? Double == 2, "\(points)")
        try validateReports(in: folder.path, counts: (tests: Self.checks.count, failures: 0, errors: 0, skipped: 0))
        #expect(guests.left.isEmpty && guests.processes.isEmpty, "\(guests.left) \(guests.processes)")
    }

    @Test("each VM fault turns exactly its check red on the real kernel", arguments: [
        ("vm-vf-shortfall", "pci.sriov-capability"), ("vm-missing-function", "pci.functions-present"),
    ])
    func fault(name: String, check: String) throws {
        let guests = Guests()
        let folder = OutputFolder()
        let result = try dpucert(["run", "--vm", "--profile", Self.profile, "--fault", name, "--out", folder.path] + guests.option,
                                 timeout: 600)
        #expect(result.status == 1, "\(result.combined)")
        let report = try loadReport(folder.path)
        let results = try #require(report["results"] as? [[String: Any]])
        let failed = results.filter { $0["status"] as? String == "failed" }.compactMap { $0["id"] as? String }
        #expect(failed == [check], "\(results)")
        #expect((report["run"] as? [String: Any])?["faults"] as? [String] == [name])
        #expect(guests.left.isEmpty && guests.processes.isEmpty)
    }

    @Test("each RDMA fault, injected on the responder's side, turns exactly its RDMA checks red over Soft-RoCE", arguments: [
        ("rdma-ignore-access-flags", ["rdma.access-enforcement"]), ("rdma-corruption", ["rdma.data-integrity"]),
        ("rdma-shared-pd", ["rdma.pd-isolation"]),
        ("rdma-port-down", VMTestbedTests.rdmaChecks), ("rdma-slow", ["rdma.read-bandwidth", "rdma.write-bandwidth"]),
    ])
    func rdmaFault(name: String, red: [String]) throws {
        let guests = Guests()
        let folder = OutputFolder()
        let result = try dpucert(["run", "--vm", "--profile", Self.profile, "--only", "rdma.*", "--fault", name, "--out", folder.path]
                                 + guests.option, timeout: 600)
        #expect(result.status == 1, "\(result.combined)")
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]])
        let notPassed = results.filter { $0["status"] as? String != "passed" }.compactMap { $0["id"] as? String }.sorted()
        #expect(notPassed == red.sorted(), "\(results.map { "\($0["id"] ?? "") \($0["status"] ?? ""): \($0["message"] ?? "")" })")
        #expect(results.contains { $0["status"] as? String == "failed" }, "a fault is a defect found, not only checks that could not run")
        #expect(guests.left.isEmpty && guests.processes.isEmpty)
    }

    @Test("a standing guest: up, a run in it, its bus read by dpucert inventory agrees with its lspci, and down leaves nothing")
    func standing() throws {
        let guests = Guests()
        let up = try dpucert(["emulate", "vm", "up", "--profile", Self.profile, "--name", "e2e1"] + guests.option, timeout: 300)
        #expect(up.status == 0, "\(up.combined)")
        defer { _ = try? dpucert(["emulate", "vm", "down", "--name", "e2e1"] + guests.option) }
        let again = try dpucert(["emulate", "vm", "up", "--profile", Self.profile, "--name", "e2e1"] + guests.option)
        #expect(again.status == 2 && again.standardError.contains("already exists"), "\(again.combined)")

        let folder = OutputFolder()
        let run = try dpucert(["run", "--vm", "--lab", "e2e1", "--profile", Self.profile, "--only", "pci.functions-present",
                               "--out", folder.path] + guests.option, timeout: 300)
        #expect(run.status == 0, "\(run.combined)")
        #expect((try loadReport(folder.path)["run"] as? [String: Any])?["status"] as? String == "partial")

        // With VFs enabled: the guest's dpucert reads its live bus, lspci reads the same bus and dumps its
        // configuration spaces; decoding that dump here must agree with lspci, and sysfs with config space there.
        let share = "/dpucert/boot"
        let output = try guests.job("""
            pf=/sys/bus/pci/devices/0000:01:00.0
            echo 2 > $pf/sriov_numvfs
            \(share)/lib/ld-linux-x86-64.so.2 --library-path \(share)/lib \(share)/bin/dpucert inventory --format json > /dpucert/inventory.json
            lspci -n -D -vvv > /dpucert/lspci.txt
            lspci -xxxx -D > /dpucert/dump.txt
            echo 0 > $pf/sriov_numvfs
            echo done
            """, in: "e2e1")
        #expect(output.contains("done"))
        // The dump holds configuration space as the device answers (a VF's ids read ffff); the live
        // views (sysfs, lspci through libpci) fill them in from the kernel.
        let shareOnHost = "\(guests.state.path)/e2e1/share"
        let dump = shareOnHost + "/dump.txt"
        let decoded = try InventoryReader(source: .dump(path: dump)).read()
        let lspciOfDump = try LspciReading.read(["-F", dump])
        #expect(decoded.functions.count == lspciOfDump.count && lspciOfDump.count >= 12)
        let problems = disagreements(decoded, lspciOfDump)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let lspci = LspciReading.parse(try String(contentsOfFile: shareOnHost + "/lspci.txt", encoding: .utf8))
        let live = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: shareOnHost + "/inventory.json")))
            as? [String: Any])
        let functions = try #require(live["functions"] as? [[String: Any]])
        let liveIDs = functions.map { "\($0["address"] ?? "") \($0["vendorID"] ?? ""):\($0["deviceID"] ?? "")" }
        #expect(liveIDs.sorted() == lspci.map { "\($0.address) \($0.vendorDevice)" }.sorted())
        #expect(functions.allSatisfy { ($0["findings"] as? [Any])?.isEmpty == true }, "sysfs and config space disagree")
        let vfs = functions.filter { $0["physicalFunction"] as? String == "0000:01:00.0" }
        #expect(vfs.compactMap { $0["address"] as? String } == ["0000:01:00.1", "0000:01:00.2"])
        #expect(Set(vfs.compactMap { $0["iommuGroup"] as? Int }).count == 2)

        let down = try dpucert(["emulate", "vm", "down", "--name", "e2e1"] + guests.option)
        #expect(down.status == 0)
        #expect(guests.left.isEmpty && guests.processes.isEmpty, "\(guests.left) \(guests.processes)")
    }

    @Test("SIGINT while the guest runs the plan: exit 3, a valid report marked aborted, the guest removed")
    func interrupted() throws {
        let guests = Guests()
        let folder = OutputFolder()
        let (process, live) = try launchDpucert(["run", "--vm", "--profile", Self.profile, "--out", folder.path] + guests.option)
        defer { if process.isRunning { process.terminate() } }
        #expect(live.wait(for: "guest: dpucert: VM GUEST run", timeout: 300), "\(live.current)")
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 3, "\(live.current)")
        let report = try loadReport(folder.path)
        #expect((report["run"] as? [String: Any])?["status"] as? String == "aborted")
        try validateReports(in: folder.path, counts: (tests: Self.checks.count, failures: 0, errors: 0, skipped: Self.checks.count))
        #expect(guests.left.isEmpty && guests.processes.isEmpty, "\(guests.left) \(guests.processes)")
    }

    @Test("a run killed with SIGKILL leaves a guest that the next `emulate vm up` removes")
    func killed() throws {
        let guests = Guests()
        let (process, live) = try launchDpucert(["run", "--vm", "--profile", Self.profile, "--out", OutputFolder().path] + guests.option)
        #expect(live.wait(for: "booted, agent ready", timeout: 300), "\(live.current)")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(guests.left.count == 1 && guests.processes.count == 1)
        let up = try dpucert(["emulate", "vm", "up", "--profile", Self.profile, "--name", "e2e2"] + guests.option, timeout: 300)
        defer { _ = try? dpucert(["emulate", "vm", "down", "--name", "e2e2"] + guests.option) }
        #expect(up.status == 0 && up.standardOutput.contains("removed the leftovers of killed runs: guests vr"), "\(up.combined)")
        #expect(guests.left == ["e2e2"] && guests.processes.count == 1, "\(guests.left) \(guests.processes)")
    }

    @Test("a profile whose functions QEMU cannot present is refused, naming them")
    func unpresentable() throws {
        let guests = Guests()
        let result = try dpucert(["run", "--vm", "--profile", "profiles/nvidia-bluefield-2-mbf2h516a.yaml"] + guests.option)
        #expect(result.status == 2, "\(result.combined)")
        #expect(result.standardError.contains("describes functions QEMU cannot present: network-pf (15b3:a2d6)"), "\(result.standardError)")
        #expect(guests.left.isEmpty)
    }
}
