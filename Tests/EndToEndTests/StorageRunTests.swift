import Foundation
import TestGates
import Testing

/// The storage suite through `dpucert run`: the emulated namespace (served through FUSE)
/// with each storage fault, and this machine's own disk with `--hardware`.
@Suite("The storage suite, end to end", .runsDpucert, .requires(.fuse), .serialized)
struct StorageRunTests {
    static let profile = "profiles/emulated-smartnic.yaml"

    @Test("each storage fault turns exactly its checks red", arguments: [
        ("storage-corruption", ["storage.integrity"]),
        ("storage-misdirected-write", ["storage.integrity"]),
        ("storage-slow", ["storage.seq-read", "storage.seq-write", "storage.rand-read"]),
        ("storage-lost-flush", ["storage.flush"]),
        ("storage-namespace-missing", ["storage.discovery"]),
    ])
    func fault(name: String, breaks: [String]) throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--profile", Self.profile, "--only", "storage.*", "--fault", name, "--out", folder.path,
                                  "--quiet"], timeout: 300)
        #expect(result.status == 1, "\(result.combined)")
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]])
        let failed = results.filter { $0["status"] as? String == "failed" }.compactMap { $0["id"] as? String }
        #expect(failed == breaks, "\(results.map { "\($0["id"] ?? "") \($0["status"] ?? ""): \($0["message"] ?? "")" })")
        // Without a block device the measuring checks have nothing to examine: error, never passed.
        let others = name == "storage-namespace-missing" ? ["error"] : ["passed"]
        #expect(results.filter { !breaks.contains($0["id"] as? String ?? "") }
            .allSatisfy { others.contains($0["status"] as? String ?? "") })
        #expect(!FileManager.default.fileExists(atPath: "/run/dpucert/namespaces/\(getpid())"))
    }

    @Test("the misdirected write is named as such, and a lost flush counts every block it lost")
    func findings() throws {
        let folder = OutputFolder()
        _ = try dpucert(["run", "--profile", Self.profile, "--only", "storage.integrity", "--fault", "storage-misdirected-write",
                         "--out", folder.path, "--quiet"], timeout: 300)
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]])
        let evidence = (results.first?["evidence"] as? [String] ?? []).joined(separator: "\n")
        #expect(evidence.contains("block at 24576: misdirected (holds the block for offset 28672"), "\(evidence)")
    }

    @Test("--hardware on this machine's virtio-blk disk: found, read on the device, written only in a scratch file on its file system")
    func hostDisk() throws {
        let folder = OutputFolder()
        let result = try dpucert(["run", "--hardware", "--profile", "Tests/EndToEndTests/Fixtures/virtio-blk-host.yaml",
                                  "--only", "storage.*", "--out", folder.path, "--verbose"], timeout: 300)
        let results = try #require(try loadReport(folder.path)["results"] as? [[String: Any]])
        let byID = Dictionary(uniqueKeysWithValues: results.compactMap { result in (result["id"] as? String).map { ($0, result) } })
        #expect(byID["storage.discovery"]?["status"] as? String == "passed", "\(result.combined)")
        for id in ["storage.seq-write", "storage.rand-write", "storage.integrity", "storage.flush"] {
            let evidence = (byID[id]?["evidence"] as? [String] ?? []).joined(separator: "\n")
            #expect(byID[id]?["status"] as? String == "passed", "\(id): \(byID[id]?["message"] ?? "")")
            #expect(evidence.contains("write tests run on a scratch file there"), "\(id): \(evidence)")
        }
        // Reads go to the device itself; where the machine does not let this process open it,
        // the check says so and concludes nothing.
        for id in ["storage.seq-read", "storage.rand-read"] {
            let status = byID[id]?["status"] as? String
            let message = byID[id]?["message"] as? String ?? ""
            #expect(status == "passed" || (status == "error" && message.contains("Operation not permitted")), "\(id): \(message)")
        }
        let root = try FileManager.default.contentsOfDirectory(atPath: "/")
        #expect(!root.contains { $0.hasPrefix("dpucert-scratch-") })
    }
}
