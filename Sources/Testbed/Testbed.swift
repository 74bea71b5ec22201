// Testbed: the one thing suites see of the world. A testbed names the sites of a DPU
// set-up (host under test, DPU OS, OOB management network, peer, tenants) with their
// addresses and agents, and carries a probe to where its site is: this process, a
// network namespace on this machine (the emulated lab), or a `dpucert agent` on another
// machine (real hardware). Two testbeds exist: the emulated lab (Emulator) and a
// hardware testbed read from a testbed file (`HardwareTestbed`). Suites never learn which.
import Agent
import Probes
import Systems

/// A DPU test set-up that probes can be run in.
public protocol Testbed: Sendable {
    /// The sites, addresses and agents of the set-up.
    var topology: LabTopology { get }
    /// What it is, in words, for the console and the report (`emulated lab dc1a2b3`).
    var summary: String { get }
}

extension Testbed {
    /// Runs `requests` from `site`: locally, in a namespace, or through the site's agent.
    public func probe(_ requests: [ProbeRequest], from site: ProbeSite) throws -> [ProbeResult] {
        guard !requests.isEmpty else { return [] }
        return try atSite(site, local: { try Prober.run(requests, from: site) }, agent: { try $0.probe(requests) })
    }

    /// A TCP connect scan of every port of `address`, from `site`.
    public func scanTCP(_ address: IPAddress, from site: ProbeSite) throws -> PortScanResult {
        try atSite(site, local: { try Prober.scanTCP(address, from: site) }, agent: { try $0.scanTCP(address) })
    }

    /// A datagram to every UDP port of `address`, from `site`, at the pace of `options`.
    public func sweepUDP(_ address: IPAddress, from site: ProbeSite, options: UDPSweepOptions) throws -> UDPSweepResult {
        try atSite(site, local: { try Prober.sweepUDP(address, from: site, options: options) },
                   agent: { try $0.sweepUDP(address, options: options) })
    }

    /// What listens at `site` as that machine sees it: every listening TCP socket and
    /// bound, unconnected UDP socket, with its owner where visible.
    public func listeningSockets(at site: ProbeSite) throws -> [ListeningSocket] {
        try atSite(site, local: { try Prober.listeningSockets(at: site) }, agent: { try $0.listeningSockets() })
    }

    /// Who answers all-nodes echo on `interface` at `site`.
    public func discoverLinkNeighbours(on interface: String, from site: ProbeSite) throws -> MulticastEchoResult {
        try atSite(site, local: { try Prober.discoverLinkNeighbours(on: interface, from: site) },
                   agent: { try $0.discoverLinkNeighbours(on: interface) })
    }

    /// The DPU firewall's named counters; nil where this testbed offers none (the
    /// topology names no firewall).
    public func firewallCounters() throws -> [String: FirewallCounter]? {
        guard let firewall = topology.firewall else { return nil }
        let location = firewall.location
        return try atSite(location.site, local: { try FirewallCounters.read(location) },
                          agent: { try $0.counters(family: location.family, table: location.table) })
    }

    /// Runs `body` with a traffic peer of `kind` on the agent whose control endpoint is
    /// `control`, bound to that address; the peer lasts while `body` runs. The session is
    /// opened from `site` where it is on this machine (so it crosses the path measured),
    /// else from this process.
    public func withTrafficPeer<Result>(_ kind: TrafficPeerKind, at control: SocketEndpoint, reachedFrom site: ProbeSite,
                                        _ body: (SocketEndpoint) throws -> Result) throws -> Result {
        let from: ProbeSite = if case .agent = site { .current } else { site }
        let client = try AgentClient.connect(to: control, from: from, tokenFile: topology.agentTokenFile)
        defer { client.close() }
        return try body(try client.startTrafficPeer(kind, port: 0))
    }

    /// Runs a traffic measurement from `site`: here, in a namespace, or on the site's
    /// agent. `progress` hears each throughput interval of a run on this machine.
    public func measure(_ measurement: TrafficMeasurement, from site: ProbeSite,
                        progress: (@Sendable (Double) -> Void)? = nil) throws -> TrafficMeasurement.Result {
        try atSite(site, local: { try measurement.run(from: site, progress: progress) }, agent: { try $0.measure(measurement) })
    }

    /// Runs `local` for a site on this machine, or `agent` with an authenticated session
    /// to the agent the site names (closed afterwards).
    private func atSite<Result>(_ site: ProbeSite, local: () throws -> Result,
                                agent: (AgentClient) throws -> Result) throws -> Result {
        guard case .agent(let endpoint) = site else { return try local() }
        let client = try AgentClient.connect(to: endpoint, tokenFile: topology.agentTokenFile)
        defer { client.close() }
        return try agent(client)
    }
}
