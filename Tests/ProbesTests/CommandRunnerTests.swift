import Probes
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
