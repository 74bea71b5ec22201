import Probes
import Reports
import Systems
import Testbed
import Testing
@testable import Certification

/// Results of the traffic engines written out, so each network check's verdict rule runs
/// without a lab.
enum SampleTraffic {
    static let pf = NetworkPath(name: "pf", site: .namespace("t-host"), interface: "ens1f0np0",
                                peerControl: SocketEndpoint("198.51.100.3:7471"))
    static let vf0 = NetworkPath(name: "vf0", site: .namespace("t-tenant0"), interface: "eth0",
                                 peerControl: SocketEndpoint("10.0.0.254:7471"))
    static let vf1 = NetworkPath(name: "vf1", site: .namespace("t-tenant1"), interface: "eth0",
                                 peerControl: SocketEndpoint("10.0.1.254:7471"))

    static func path(_ path: NetworkPath) -> TrafficPath {
        TrafficPath(site: path.site, source: IPAddress("198.51.100.1"), target: SocketEndpoint(path.peerControl!.address, 5201))
    }

    static func throughput(_ on: NetworkPath, gbit: Double) -> ThroughputResult {
        let bytes = Int(gbit * 1e9 / 8 * 3)
        return ThroughputResult(path: path(on), options: TCPThroughput.options, bytes: bytes, measured: .seconds(3),
                                intervals: [gbit, gbit, gbit], sentTotal: bytes + 1000, receivedTotal: bytes + 1000, cpuSeconds: 0.3)
    }

    static func latency(_ on: NetworkPath, p99: Double) -> LatencyResult {
        let summary = zip(LatencyResult.summaryPercentiles, [30, 40, p99, p99 * 2, p99 * 3]).map {
            LatencyPercentile(percentile: $0, microseconds: $1)
        }
        return LatencyResult(path: path(on), options: TCPLatency.options, exchanges: 20_000, summary: summary,
                             distribution: [LatencyPercentile(percentile: 0, microseconds: 20), LatencyPercentile(percentile: 90, microseconds: 40),
                                            LatencyPercentile(percentile: 99, microseconds: p99), LatencyPercentile(percentile: 100, microseconds: p99 * 3)],
                             meanMicroseconds: 35)
    }

    static func udp(_ on: NetworkPath, sent: Int, received: Int) -> UDPRateResult {
        UDPRateResult(path: path(on), options: UDPRateOptions(gbitPerSecond: 0.2), sent: sent, received: received,
                      sendingTime: .seconds(2), jitterMicroseconds: 12)
    }

    static func link(_ on: NetworkPath, up: Bool = true, carrier: Bool? = true, mtu: Int = 9000, speed: Int? = 10000) -> LinkState {
        LinkState(interface: on.interface, site: on.site, exists: true, isUp: up, isOperational: up && carrier != false, carrier: carrier,
                  mtu: mtu, speedMbps: speed)
    }

    static func pathMTU(_ on: NetworkPath, largest: Int?) -> PathMTUResult {
        PathMTUResult(path: path(on), options: PathMTUOptions(expected: 9000), largestCrossing: largest,
                      trials: [PathMTUTrial(size: 9000, crossed: largest == 9000, detail: largest == 9000 ? "echoed" : "no echo")])
    }

    static let unreachable = ProbeFailure(probe: "measuring vf0 (netns t-tenant0)", error: "agent 10.0.0.254:7471: connection refused")
}

@Suite("Network classification, without a lab")
struct NetworkClassificationTests {
    @Test("the paths are the PF and each VF, each to the peer agent on its own network")
    func paths() {
        let paths = NetworkSuite.paths(SampleLab.topology())
        #expect(paths.map(\.name) == ["pf", "vf0", "vf1"])
        #expect(paths.map(\.site) == [SampleLab.hostSite, SampleLab.tenantSite(0), SampleLab.tenantSite(1)])
        // The sample peer agent listens on tenant 0's network only: the others have no far end.
        #expect(paths.map(\.peerControl) == [nil, SocketEndpoint(SampleLab.tenantPeers[0][0], SampleLab.agentPort), nil])
        #expect(paths[0].measurement("tcp_throughput") == "tcp_throughput" && paths[1].measurement("tcp_throughput") == "tcp_throughput_vf0")
    }

    @Test("throughput: every path against the minimum, its intervals charted per function")
    func throughput() {
        let clean = TCPThroughput.classify([(SampleTraffic.pf, .success(SampleTraffic.throughput(SampleTraffic.pf, gbit: 9.5))),
                                            (SampleTraffic.vf0, .success(SampleTraffic.throughput(SampleTraffic.vf0, gbit: 4)))],
                                           planned: 2, minimum: 1).outcome.withEvidenceRule()
        #expect(clean.status == .passed && clean.message == "pf 9.5 Gbit/s, vf0 4.0 Gbit/s: every path at least 1 Gbit/s", "\(clean.message)")
        #expect(clean.series.map(\.name) == ["pf", "vf0"] && clean.series[0].points.map(\.x) == [1, 2, 3])
        #expect(clean.measurements.contains { $0.name == "streams" && $0.value == 4 })
        #expect(clean.measurements.contains { $0.name == "duration_s" && $0.value == 3 })

        let slowVF = TCPThroughput.classify([(SampleTraffic.pf, .success(SampleTraffic.throughput(SampleTraffic.pf, gbit: 9.5))),
                                             (SampleTraffic.vf0, .success(SampleTraffic.throughput(SampleTraffic.vf0, gbit: 0.4)))],
                                            planned: 2, minimum: 1).outcome.withEvidenceRule()
        #expect(slowVF.status == .failed)
        #expect(slowVF.message == "tcp_throughput_vf0: expected >= 1 Gbit/s, observed 0.4 Gbit/s", "\(slowVF.message)")
    }

    @Test("an unmeasured path leaves the check unconcluded, unless a measured one already fails it")
    func unmeasured() {
        let partial = TCPThroughput.classify([(SampleTraffic.pf, .success(SampleTraffic.throughput(SampleTraffic.pf, gbit: 9.5))),
                                              (SampleTraffic.vf0, .failure(SampleTraffic.unreachable))],
                                             planned: 2, minimum: 1).outcome.withEvidenceRule()
        #expect(partial.status == .error)
        #expect(partial.message.hasPrefix("measured 1 of 2 paths: measuring vf0 (netns t-tenant0) failed: agent 10.0.0.254:7471"))
        let failing = TCPThroughput.classify([(SampleTraffic.pf, .success(SampleTraffic.throughput(SampleTraffic.pf, gbit: 0.2))),
                                              (SampleTraffic.vf0, .failure(SampleTraffic.unreachable))],
                                             planned: 2, minimum: 1).outcome.withEvidenceRule()
        #expect(failing.status == .failed && failing.evidence.contains("not measured: \(SampleTraffic.unreachable)"))
        let nothing = TCPThroughput.classify([], planned: 0, minimum: 1).outcome.withEvidenceRule()
        #expect(nothing.status == .error && nothing.message.hasPrefix("nothing to examine"), "\(nothing.message)")
    }

    @Test("latency: the p99 of every path against the maximum; the percentile plot on the 1/(1-p) axis")
    func latency() {
        let outcome = TCPLatency.classify([(SampleTraffic.pf, .success(SampleTraffic.latency(SampleTraffic.pf, p99: 60))),
                                           (SampleTraffic.vf0, .success(SampleTraffic.latency(SampleTraffic.vf0, p99: 16000)))],
                                          planned: 2, maximumP99: 5000).outcome.withEvidenceRule()
        #expect(outcome.status == .failed)
        #expect(outcome.message == "tcp_rr_latency_p99_vf0: expected <= 5000 us, observed 16000 us", "\(outcome.message)")
        #expect(outcome.measurements.map(\.name).prefix(5) == ["tcp_rr_latency_p50", "tcp_rr_latency_p90", "tcp_rr_latency_p99",
                                                                 "tcp_rr_latency_p999", "tcp_rr_latency_max"])
        #expect(outcome.series[0].x.scale == .log && outcome.series[0].points.map(\.x) == [1, 10, 100])
    }

    @Test("UDP: loss and delivered rate on every path")
    func udp() {
        let clean = UDPLoss.classify([(SampleTraffic.pf, .success(SampleTraffic.udp(SampleTraffic.pf, sent: 36_000, received: 36_000)))],
                                     planned: 1, rate: 0.2).outcome.withEvidenceRule()
        #expect(clean.status == .passed, "\(clean.message)")
        let lossy = UDPLoss.classify([(SampleTraffic.pf, .success(SampleTraffic.udp(SampleTraffic.pf, sent: 36_000, received: 35_280)))],
                                     planned: 1, rate: 0.2).outcome.withEvidenceRule()
        #expect(lossy.status == .failed)
        #expect(lossy.message.contains("udp_loss: expected <= 0.5 %, observed 2 %"), "\(lossy.message)")
    }

    @Test("link state: present, up with carrier, at the MTU; the PF at least the port speed, where reported")
    func linkState() {
        let clean = LinkStateCheck.classify([(SampleTraffic.pf, .success(SampleTraffic.link(SampleTraffic.pf))),
                                             (SampleTraffic.vf0, .success(SampleTraffic.link(SampleTraffic.vf0, speed: nil)))],
                                            planned: 2, mtu: 9000, minimumPFSpeedMbps: 10000).outcome.withEvidenceRule()
        #expect(clean.status == .passed && clean.message == "pf ens1f0np0, vf0 eth0: up with carrier, MTU 9000", "\(clean.message)")
        #expect(clean.measurements.map(\.name).starts(with: ["link_mtu", "link_speed", "link_mtu_vf0"]))

        let broken: [(LinkState, String)] = [
            (SampleTraffic.link(SampleTraffic.vf0, carrier: false), "vf0 eth0: expected up with carrier, observed up, no carrier"),
            (SampleTraffic.link(SampleTraffic.vf0, up: false, carrier: nil), "vf0 eth0: expected up with carrier, observed down, no carrier"),
            (SampleTraffic.link(SampleTraffic.vf0, mtu: 1500), "link_mtu_vf0: expected == 9000 bytes, observed 1500 bytes"),
            (LinkState(interface: "eth0", site: SampleTraffic.vf0.site, exists: false),
             "vf0 netdev eth0: expected present, observed none at netns t-tenant0"),
        ]
        for (link, message) in broken {
            let outcome = LinkStateCheck.classify([(SampleTraffic.vf0, .success(link))], planned: 1, mtu: 9000,
                                                  minimumPFSpeedMbps: nil).outcome.withEvidenceRule()
            #expect(outcome.status == .failed && outcome.message == message, "\(outcome.message)")
        }
        let slow = LinkStateCheck.classify([(SampleTraffic.pf, .success(SampleTraffic.link(SampleTraffic.pf, speed: 25000)))],
                                           planned: 1, mtu: 9000, minimumPFSpeedMbps: 100_000).outcome
        #expect(slow.status == .failed && slow.message == "link_speed: expected >= 100000 Mb/s, observed 25000 Mb/s", "\(slow.message)")
        let unread = LinkStateCheck.classify([(SampleTraffic.vf0, .failure(SampleTraffic.unreachable))], planned: 1, mtu: 9000,
                                             minimumPFSpeedMbps: nil).outcome.withEvidenceRule()
        #expect(unread.status == .error)
    }

    @Test("path MTU: the largest packet crossing must be the profile's MTU, neither less nor more")
    func pathMTU() {
        let clean = PathMTUCheck.classify([(SampleTraffic.pf, .success(SampleTraffic.pathMTU(SampleTraffic.pf, largest: 9000)))],
                                          planned: 1, mtu: 9000).outcome.withEvidenceRule()
        #expect(clean.status == .passed && clean.message == "largest packet crossing: pf 9000 bytes, the profile's 9000", "\(clean.message)")
        for largest in [1500, 9216] {
            let outcome = PathMTUCheck.classify([(SampleTraffic.vf0, .success(SampleTraffic.pathMTU(SampleTraffic.vf0, largest: largest)))],
                                                planned: 1, mtu: 9000).outcome.withEvidenceRule()
            #expect(outcome.status == .failed && outcome.message == "path_mtu_vf0: expected == 9000 bytes, observed \(largest) bytes",
                    "\(outcome.message)")
        }
        // Nothing came back at all: the path is down, which proves nothing about its MTU.
        let down = PathMTUCheck.classify([(SampleTraffic.vf0, .success(SampleTraffic.pathMTU(SampleTraffic.vf0, largest: nil)))],
                                         planned: 1, mtu: 9000).outcome.withEvidenceRule()
        #expect(down.status == .error && down.message.contains("no size came back, so the path itself is down"), "\(down.message)")
    }

    @Test("VF fairness: the spread of VFs sending at once against the profile's bound; one VF alone proves nothing")
    func vfFairness() {
        let fair = VFFairness.classify([(SampleTraffic.vf0, .success(SampleTraffic.throughput(SampleTraffic.vf0, gbit: 10))),
                                        (SampleTraffic.vf1, .success(SampleTraffic.throughput(SampleTraffic.vf1, gbit: 8)))],
                                       planned: 2, maximumSpreadPercent: 50).outcome.withEvidenceRule()
        #expect(fair.status == .passed, "\(fair.message)")
        #expect(fair.measurements.first { $0.name == "vf_throughput_spread" }?.value == 22.222)
        #expect(fair.series.map(\.name) == ["vf0", "vf1"])
        let starved = VFFairness.classify([(SampleTraffic.vf0, .success(SampleTraffic.throughput(SampleTraffic.vf0, gbit: 10))),
                                           (SampleTraffic.vf1, .success(SampleTraffic.throughput(SampleTraffic.vf1, gbit: 1)))],
                                          planned: 2, maximumSpreadPercent: 50).outcome.withEvidenceRule()
        #expect(starved.status == .failed && starved.message == "vf_throughput_spread: expected <= 50 %, observed 163.636 %",
                "\(starved.message)")
        let alone = VFFairness.classify([(SampleTraffic.vf0, .success(SampleTraffic.throughput(SampleTraffic.vf0, gbit: 10))),
                                         (SampleTraffic.vf1, .failure(SampleTraffic.unreachable))],
                                        planned: 2, maximumSpreadPercent: 50).outcome.withEvidenceRule()
        #expect(alone.status == .error, "\(alone.message)")
    }
}
