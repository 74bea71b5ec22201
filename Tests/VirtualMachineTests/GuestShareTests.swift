import Foundation
import Systems
import Testing
@testable import VirtualMachine

@Suite("What the host puts in the guest's share")
struct GuestShareTests {
    @Test("a dynamic executable is staged with every library ldd names and started through the copied loader")
    func payload() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-payload-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let libraries = try GuestPayload.sharedLibraries(of: "/bin/ls")
        #expect(libraries.contains { $0.hasSuffix("/libc.so.6") })
        #expect(libraries.contains { $0.contains("ld-linux") })
        let payload = try GuestPayload.stage(executable: "/bin/ls", into: folder, guestFolder: "/dpucert/runs/1")
        #expect(payload.guestCommand.first == "/dpucert/runs/1/lib/ld-linux-x86-64.so.2")
        #expect(Array(payload.guestCommand.dropFirst()) == ["--library-path", "/dpucert/runs/1/lib", "/dpucert/runs/1/bin/dpucert"])
        #expect(FileManager.default.isExecutableFile(atPath: folder + "/bin/dpucert"))
        for library in libraries {
            #expect(FileManager.default.fileExists(atPath: folder + "/lib/" + URL(fileURLWithPath: library).lastPathComponent))
        }
        // The staged copy runs, through its own loader and libraries, as it will in the guest.
        let output = try Systems.CommandRunner.run([folder + "/lib/ld-linux-x86-64.so.2", "--library-path", folder + "/lib",
                                                    folder + "/bin/dpucert", "/"]).standardOutput
        #expect(output.split(separator: "\n").contains("proc"))
    }

    @Test("shell words survive quotes and spaces")
    func quoting() {
        #expect(GuestScripts.quoted("a b") == "'a b'")
        #expect(GuestScripts.quoted("it's") == "'it'\\''s'")
        let job = GuestScripts.job(["/x/dpucert", "run", "--only", "pci.*"], in: "/dpucert/runs/1")
        #expect(job.contains("cd '/dpucert/runs/1' || exit 125\nexec '/x/dpucert' 'run' '--only' 'pci.*'\n"))
    }

    @Test("a growing log is handed on line by line, a partial line only once it is whole")
    func follower() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-log-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var follower = LogFollower(path: path)
        var lines: [String] = []
        follower.poll { lines.append($0) }
        #expect(lines.isEmpty)
        try Data("one\ntw".utf8).write(to: URL(fileURLWithPath: path))
        follower.poll { lines.append($0) }
        #expect(lines == ["one"])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("o\nthree".utf8))
        try handle.close()
        follower.poll { lines.append($0) }
        follower.flush { lines.append($0) }
        #expect(lines == ["one", "two", "three"])
    }
}
