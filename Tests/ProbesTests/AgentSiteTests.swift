import Foundation
import Probes
import Systems
import Testing

@Suite("An agent's site is never probed from here")
struct AgentSiteTests {
    static let site = ProbeSite.agent(SocketEndpoint("198.18.0.2:7471")!)
    static let refusal = "probes from an agent go through its control channel (the testbed routes them)"

    /// Whether `body` threw the agent-site refusal for `site`.
    private static func refuses(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as ProbeError {
            return error == ProbeError(site: site, refusal)
        } catch {
            return false
        }
    }

    @Test("The site names the agent and survives encoding")
    func description() throws {
        #expect(Self.site.description == "agent 198.18.0.2:7471")
        #expect(ProbeError(site: Self.site, Self.refusal).description == "agent 198.18.0.2:7471: \(Self.refusal)")
        let decoded = try JSONDecoder().decode(ProbeSite.self, from: JSONEncoder().encode(Self.site))
        #expect(decoded == Self.site)
    }

    @Test("Probes, scans, sweeps and neighbour discovery refuse it")
    func probes() {
        let target = IPAddress("198.19.0.2")!
        #expect(Self.refuses { _ = try Prober.run(.tcp(SocketEndpoint(target, 22)), from: Self.site) })
        #expect(Self.refuses { _ = try Prober.run([.icmpEcho(target)], from: Self.site) })
        #expect(Self.refuses { _ = try Prober.scanTCP(target, ports: 22...22, from: Self.site) })
        #expect(Self.refuses { _ = try Prober.sweepUDP(target, from: Self.site) })
        #expect(Self.refuses { _ = try Prober.discoverLinkNeighbours(on: "eth0", from: Self.site) })
    }

    @Test("Namespace runners, socket and counter readers and command prefixes refuse it")
    func stateReaders() {
        #expect(Self.refuses { _ = try NetworkNamespace.run(in: Self.site) { 1 } })
        #expect(Self.refuses { _ = try NetworkNamespace.runAll(in: Self.site, concurrency: 4, [{ @Sendable in 1 }]) })
        #expect(Self.refuses { _ = try Prober.listeningSockets(at: Self.site) })
        #expect(Self.refuses { _ = try FirewallCounters.read(FirewallLocation(site: Self.site, family: "inet", table: "dpu")) })
        #expect(Self.refuses { _ = try Self.site.commandPrefix })
    }

    @Test("A site nothing runs on refuses everything, with its reason")
    func unavailableSite() {
        let site = ProbeSite.unavailable("no agent on the DPU")
        let expected = ProbeError(site: site, "no agent on the DPU")
        #expect(site.description == "no site (no agent on the DPU)" && site.unavailableReason == "no agent on the DPU")
        #expect(ProbeSite.current.unavailableReason == nil && Self.site.unavailableReason == nil)
        #expect(throws: expected) { _ = try NetworkNamespace.run(in: site) { 1 } }
        #expect(throws: expected) { _ = try NetworkNamespace.runAll(in: site, concurrency: 1, [{ @Sendable in 1 }]) }
        #expect(throws: expected) { _ = try Prober.listeningSockets(at: site) }
        #expect(throws: expected) { _ = try site.commandPrefix }
    }

    @Test("Local sites keep their command prefixes")
    func localPrefixes() throws {
        #expect(try ProbeSite.current.commandPrefix == [])
        #expect(try ProbeSite.namespace("lab-dpu").commandPrefix == ["ip", "netns", "exec", "lab-dpu"])
    }
}
