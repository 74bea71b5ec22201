import Foundation
import Glibc
import Systems
import Testing

@Suite("Command runner")
struct CommandRunnerTests {
    @Test("Output and status are captured; input reaches the command")
    func capture() throws {
        let result = try CommandRunner.run(["sh", "-c", "cat; echo oops >&2"], input: "hello\n")
        #expect(result.standardOutput == "hello\n")
        #expect(result.standardError == "oops\n")
        #expect(result.status == 0)
    }

    @Test("A failing command throws with its status and standard error")
    func failure() {
        #expect {
            try CommandRunner.run(["sh", "-c", "echo bad >&2; exit 3"])
        } throws: { error in
            guard let error = error as? CommandError, case .failed(let status) = error.reason else { return false }
            return status == 3 && error.description.contains("bad")
        }
        #expect((try? CommandRunner.run(["sh", "-c", "exit 4"], allowFailure: true))?.status == 4)
    }

    @Test("A command past its time limit is killed")
    func timeout() {
        let started = ContinuousClock.now
        #expect {
            try CommandRunner.run(["sleep", "5"], timeout: .milliseconds(200))
        } throws: { error in
            guard let error = error as? CommandError, case .timedOut = error.reason else { return false }
            return true
        }
        #expect(started.duration(to: .now) < .seconds(2))
    }

    @Test("A missing program cannot start")
    func missing() {
        #expect {
            try CommandRunner.run(["dpucert-no-such-program"])
        } throws: { error in
            guard let error = error as? CommandError, case .couldNotStart = error.reason else { return false }
            return true
        }
    }
}

@Suite("Descriptors a child inherits")
struct InheritedDescriptorTests {
    /// The child's own descriptors, listed by the shell's glob, which holds the lowest
    /// free descriptor (3) on /proc/PID/fd while it reads it.
    private static let listDescriptors = #"printf descriptors; for f in /proc/$$/fd/*; do printf ' %s' "${f##*/}"; done; echo"#

    @Test("Only stdio reaches a child, whichever way it is started, while this process holds open pipes",
          arguments: [false, true])
    func onlyStandardDescriptors(announcing: Bool) throws {
        // A pipe made without close-on-exec is the leak a child must still not see.
        var heldOpen: [Int32] = [-1, -1]
        try #require(pipe(&heldOpen) == 0)
        defer { heldOpen.forEach { close($0) } }
        let line: String
        if announcing {
            let log = "/tmp/dpucert-descriptors-\(getpid()).log"
            defer { unlink(log) }
            let child = try CommandRunner.spawnDetachedAnnouncing(["sh", "-c", Self.listDescriptors], logPath: log)
            defer { close(child.output) }
            guard case .found(let found) = CommandRunner.awaitLine(startingWith: "descriptors", from: child.output,
                                                                   timeout: .seconds(10)) else {
                Issue.record("no descriptor listing")
                return
            }
            line = found
            _ = CommandRunner.waitForExit(child.pid, timeout: .seconds(5))
        } else {
            line = try CommandRunner.run(["sh", "-c", Self.listDescriptors]).standardOutput.trimmingCharacters(in: .newlines)
        }
        #expect(line.split(separator: " ").dropFirst().sorted() == ["0", "1", "2", "3"], "\(line)")
    }
}
