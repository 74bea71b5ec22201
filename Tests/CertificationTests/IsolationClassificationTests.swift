import Probes
import Reports
import Systems
import Testbed
import Testing
@testable import Certification

/// A small testbed written out in full: the classification of every isolation check runs
/// on the answers given here, so no lab (and no root) is needed.
enum SampleLab {
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    static let hostSite = ProbeSite.namespace("t-host")
    static let dpuSite = ProbeSite.namespace("t-dpu")
    static let oobSite = ProbeSite.namespace("t-oob")
    static let peerSite = ProbeSite.namespace("t-peer")
    static func tenantSite(_ index: Int) -> ProbeSite { .namespace("t-tenant\(index)") }

    static let management4 = ip("192.0.2.1")
    static let management6 = ip("2001:db8:1::1")
    static let data4 = ip("198.51.100.2")
    static let data6 = ip("2001:db8:2::2")
    static let dataLinkLocal = ip("fe80::2%pf0")
    static let peerLinkLocal = ip("fe80::3%pf0")
    static let oobHost4 = ip("192.0.2.2")
    static let channelDPU = ip("192.168.100.2")
    static let agentPort: UInt16 = 7471
    static let tenantAddresses = [[ip("10.0.0.1"), ip("fe80::10%vf0")], [ip("10.0.1.1"), ip("fe80::11%vf0")]]
    static let tenantPeers = [[ip("10.0.0.254"), ip("fe80::fe%vf0")], [ip("10.0.1.254"), ip("fe80::ff%vf0")]]

    static let firewall = DPUFirewall(location: FirewallLocation(site: dpuSite, family: "inet", table: "dpucert"),
                                      hostDropCounter: "host_drop", forwardDropCounter: "forward_drop")

    static func node(_ role: LabRole, _ site: ProbeSite, _ interfaces: [LabInterface] = []) -> LabNode {
        LabNode(role: role, site: site, interfaces: interfaces)
    }

    static func topology(channel: LabInterface? = LabInterface(name: "tmfifo_net0", mac: "02:00:00:00:00:01", isUp: false,
                                                                 addresses: [])) -> LabTopology {
        LabTopology(
            name: "t", host: node(.host, hostSite, channel.map { [$0] } ?? []), dpu: node(.dpu, dpuSite),
            oob: node(.oob, oobSite), peer: node(.peer, peerSite),
            tenants: (0..<2).map { index in
                TenantLink(index: index, node: node(.tenant(index), tenantSite(index)), interface: "vf0",
                           representor: "pf0vf\(index)", addresses: tenantAddresses[index], peerAddresses: tenantPeers[index])
            },
            management: ManagementPlane(dpuInterface: "oob_net0", dpuAddresses: [management4, management6, ip("fe80::1%oob0")],
                                        tcpPorts: [22, 443], udpPorts: [623], oobInterface: "oob0",
                                        oobHostAddresses: [oobHost4, ip("2001:db8:1::2")], networks: []),
            dataPlane: DataPlane(hostInterface: "pf0", hostAddresses: [ip("198.51.100.1"), ip("fe80::1%pf0")],
                                 dpuAddresses: [data4, data6, dataLinkLocal], peerAddresses: [ip("198.51.100.3"), peerLinkLocal],
                                 allowlist: [NetworkService(name: "agent", transport: .tcp, port: agentPort)], hostRoutesThroughDPU: []),
            hostChannel: HostChannel(interface: "tmfifo_net0", mustBeClosed: true, hostSideAddresses: [], dpuAddresses: [channelDPU]),
            agents: [AgentEndpoints(role: .peer, control: [SocketEndpoint(tenantPeers[0][0], agentPort)]),
                     AgentEndpoints(role: .oob, control: [SocketEndpoint(oobHost4, agentPort)])],
            agentTokenFile: "/dev/null", firewall: firewall)
    }

    /// How a sound testbed answers: everything answers from the OOB network and from the
    /// DPU, the host reaches only the allowlisted service, a tenant only its own peer.
    static func soundAnswer(_ site: ProbeSite, _ method: ProbeMethod) -> ProbeOutcome {
        switch site {
        case oobSite, dpuSite:
            return .open
        case hostSite:
            guard case .tcpConnect(let endpoint, _) = method else { return .dropped }
            return endpoint.port == agentPort && [data4, data6].contains(endpoint.address) ? .open : .dropped
        default:
            let tenant = (0..<2).first { tenantSite($0) == site }!
            return tenantPeers[tenant].contains(method.target) ? .open : .dropped
        }
    }

    static func results(_ batch: ProbeBatch, _ answers: Answers) -> [ProbeResult] {
        batch.requests.map { request in
            let outcome = answers.override(batch.site, request.method) ?? soundAnswer(batch.site, request.method)
            return ProbeResult(request: request, site: batch.site, outcome: outcome, detail: "testbed answer", elapsed: .zero)
        }
    }

    static func neighbours(_ site: ProbeSite, on interface: String, _ responders: [IPAddress]) -> MulticastEchoResult {
        MulticastEchoResult(site: site, interface: interface, responders: responders, window: .milliseconds(500))
    }

    static let discoveryFailure = ProbeFailure(probe: "neighbour discovery (all-nodes echo) on interface pf0 from netns t-host",
                                               error: "socket: Operation not permitted (EPERM)")

    /// What differs from the sound testbed: the first rule that speaks for a probe decides
    /// its outcome.
    struct Answers: Sendable {
        var rules: [@Sendable (ProbeSite, ProbeMethod) -> ProbeOutcome?]

        static let sound = Answers(rules: [])

        func override(_ site: ProbeSite, _ method: ProbeMethod) -> ProbeOutcome? {
            rules.lazy.compactMap { $0(site, method) }.first
        }

        /// Probes from `site` (any site when nil) at `address` (any when nil) of kind `kind` answer `outcome`.
        static func from(_ site: ProbeSite? = nil, to address: IPAddress? = nil, port: UInt16? = nil,
                         _ kind: Kind, _ outcome: ProbeOutcome) -> Answers {
            Answers(rules: [{ probeSite, method in
                guard site == nil || site == probeSite, address == nil || method.target.unscoped == address!.unscoped,
                      kind.matches(method, port: port) else { return nil }
                return outcome
            }])
        }

        static func + (lhs: Answers, rhs: Answers) -> Answers { Answers(rules: lhs.rules + rhs.rules) }

        enum Kind: Sendable {
            case tcp, udp, echo, neighbour, any

            func matches(_ method: ProbeMethod, port: UInt16?) -> Bool {
                switch (self, method) {
                case (.tcp, .tcpConnect(let endpoint, _)), (.udp, .udp(let endpoint, _)): port == nil || endpoint.port == port
                case (.echo, .icmpEcho), (.neighbour, .arp), (.neighbour, .ndp), (.any, _): true
                default: false
                }
            }
        }
    }
}

@Suite("Isolation classification, without a lab")
struct IsolationClassificationTests {

    /// A row of a classification table: the testbed's answers and what the check must conclude.
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var answers: SampleLab.Answers = .sound
        var dropsBefore: CounterReading = .packets(10)
        var dropsAfter: CounterReading = .packets(15)
        /// How many tenants were probed before the check was cancelled; all when nil.
        var tenantsProbed: Int?
        var status: TestStatus
        var message: String

        var testDescription: String { name }
    }

    // MARK: the verdict rule

    struct VerdictRow: Sendable, CustomTestStringConvertible {
        var name: String
        var findings: [String] = []
        var unexamined: [String] = []
        var controls: [Control.State]
        var status: TestStatus
        var message: String

        var testDescription: String { name }
    }

    @Test("one verdict rule: findings fail, anything unexamined or any failed control is error, a pass needs a control that held",
          arguments: [
              VerdictRow(name: "every control held", controls: [.held, .held], status: .passed, message: "pass"),
              VerdictRow(name: "a finding fails whatever the controls say", findings: ["tcp/22 → open"],
                         unexamined: ["a scan was cancelled"], controls: [.failed("down"), .unavailable("none")],
                         status: .failed, message: "heading: tcp/22 → open"),
              VerdictRow(name: "something planned was not examined", unexamined: ["a scan was cancelled"],
                         controls: [.held], status: .error, message: "incomplete: a scan was cancelled"),
              VerdictRow(name: "a failed control", controls: [.held, .failed("the OOB host is silent")],
                         status: .error, message: "positive control failed: the OOB host is silent"),
              VerdictRow(name: "a failed control beside one not offered", controls: [.unavailable("no counters"), .failed("silent")],
                         status: .error, message: "positive control failed: silent"),
              VerdictRow(name: "one control not offered, another held", controls: [.unavailable("no counters"), .held],
                         status: .passed, message: "pass"),
              VerdictRow(name: "no control offered", controls: [.unavailable("no counters"), .unavailable("no allowlist")],
                         status: .error, message: "no positive control ran: control 0: no counters; control 1: no allowlist"),
              VerdictRow(name: "no control at all", controls: [], status: .error, message: "no positive control ran: the check has none"),
          ])
    func verdictRule(row: VerdictRow) {
        let judgement = IsolationJudgement(
            findings: row.findings, findingsHeading: "heading: ",
            controls: row.controls.enumerated().map { Control(name: "control \($0.offset)", state: $0.element) },
            unexamined: row.unexamined, measurements: [], evidence: ["probed"],
            examined: Examined(1, "probes", as: "probes_sent"), passMessage: "pass")
        let outcome = judgement.outcome
        #expect(outcome.status == row.status)
        #expect(outcome.message == row.message)
        #expect(outcome.examined == Examined(1, "probes", as: "probes_sent"))
        // Every control's state is on record, those not offered included.
        for (index, state) in row.controls.enumerated() {
            if case .unavailable(let reason) = state {
                #expect(outcome.evidence.contains("positive control not offered by this testbed: control \(index): \(reason)"))
            }
        }
        #expect(outcome.evidence.filter { $0.hasPrefix("positive control ") }.count == row.controls.count)
    }

    struct CounterRow: Sendable, CustomTestStringConvertible {
        var name: String
        var before: CounterReading
        var after: CounterReading
        var state: Control.State

        var testDescription: String { name }
    }

    @Test("a drop counter holds when it rose; one that cannot be read is a failed control naming it", arguments: [
        CounterRow(name: "rose", before: .packets(10), after: .packets(11), state: .held),
        CounterRow(name: "stayed", before: .packets(10), after: .packets(10),
                   state: .failed("the probes never reached the DPU: host_drop stayed at 10")),
        CounterRow(name: "unreadable before", before: .unreadable("nft: no such table"), after: .packets(11),
                   state: .failed("the DPU firewall counter host_drop could not be read: nft: no such table")),
        CounterRow(name: "unreadable after", before: .packets(10), after: .unreadable("nft exited 1"),
                   state: .failed("the DPU firewall counter host_drop could not be read: nft exited 1")),
        CounterRow(name: "not offered", before: .notOffered("no agent on the DPU"), after: .notOffered("no agent on the DPU"),
                   state: .unavailable("no agent on the DPU")),
    ])
    func dropCounter(row: CounterRow) {
        let control = dropCounterControl("host_drop", before: row.before, after: row.after, counting: "the probes")
        #expect(control.state == row.state)
        #expect(control.name == "the DPU firewall counted the probes (host_drop)")
    }

    // MARK: isolation.mgmt-unreachable-from-host

    @Test("management plane: what the host and tenants reach decides", arguments: [
        Row(name: "nothing answers", status: .passed, message: "probes from the host and tenants: no answer from the management plane"),
        Row(name: "SSH refused on the management address",
            answers: .from(SampleLab.hostSite, to: SampleLab.management4, port: 22, .tcp, .answeredClosed),
            status: .failed, message: "the management plane answered 1 probe(s) from the host side: from netns t-host: tcp connect 192.0.2.1:22 (read banner) → answered-closed"),
        Row(name: "HTTPS open on the management IPv6 address",
            answers: .from(SampleLab.hostSite, to: SampleLab.management6, port: 443, .tcp, .open),
            status: .failed, message: "tcp connect [2001:db8:1::1]:443 → open"),
        Row(name: "a management port open on a data-plane address",
            answers: .from(SampleLab.hostSite, to: SampleLab.data4, port: 22, .tcp, .open),
            status: .failed, message: "tcp connect 198.51.100.2:22 → open"),
        Row(name: "a management port refused on a data-plane address",
            answers: .from(SampleLab.hostSite, to: SampleLab.data4, .tcp, .answeredClosed),
            status: .passed, message: "no answer from the management plane"),
        Row(name: "IPMI answers over UDP", answers: .from(SampleLab.hostSite, to: SampleLab.management4, .udp, .open),
            status: .failed, message: "udp 192.0.2.1:623"),
        Row(name: "echo to the management address refused", answers: .from(SampleLab.hostSite, to: SampleLab.management4, .echo, .answeredClosed),
            status: .failed, message: "icmp echo 192.0.2.1 → answered-closed"),
        Row(name: "echo to the management address not sent", answers: .from(SampleLab.hostSite, to: SampleLab.management4, .echo, .notSent),
            status: .passed, message: "no answer from the management plane"),
        Row(name: "the management address answers ARP", answers: .from(SampleLab.hostSite, .neighbour, .open),
            status: .failed, message: "arp who-has 192.0.2.1 on pf0 → open"),
        Row(name: "a tenant reaches SSH", answers: .from(SampleLab.tenantSite(1), to: SampleLab.management4, port: 22, .tcp, .open),
            status: .failed, message: "from netns t-tenant1: tcp connect 192.0.2.1:22 → open"),
        Row(name: "the management plane is silent from the OOB network", answers: .from(SampleLab.oobSite, .any, .dropped),
            status: .error, message: "positive control failed: the management plane does not answer from the OOB network"),
        Row(name: "no allowlisted service answers the host", answers: .from(SampleLab.hostSite, to: SampleLab.data4, port: SampleLab.agentPort, .tcp, .dropped)
            + .from(SampleLab.hostSite, to: SampleLab.data6, port: SampleLab.agentPort, .tcp, .dropped),
            status: .error, message: "positive control failed: no allowlisted DPU service answers the host"),
        Row(name: "the drop counter did not rise", dropsAfter: .packets(10),
            status: .error, message: "positive control failed: the host's probes never reached the DPU: host_drop stayed at 10"),
        Row(name: "the drop counter cannot be read", dropsAfter: .unreadable("nft table inet dpucert in netns t-dpu has no counter host_drop"),
            status: .error, message: "positive control failed: the DPU firewall counter host_drop could not be read: nft table inet dpucert in netns t-dpu has no counter host_drop"),
        Row(name: "drop counters not offered, the other controls held",
            dropsBefore: .notOffered("no agent on the DPU"), dropsAfter: .notOffered("no agent on the DPU"),
            status: .passed, message: "no answer from the management plane"),
        Row(name: "a finding with a failed control still fails", answers: .from(SampleLab.hostSite, to: SampleLab.management4, port: 22, .tcp, .open)
            + .from(SampleLab.oobSite, .any, .dropped), dropsAfter: .unreadable("nft exited 1"),
            status: .failed, message: "tcp connect 192.0.2.1:22 (read banner) → open"),
        Row(name: "cancelled before the tenants", tenantsProbed: 0,
            status: .error, message: "incomplete: probed from 0 of 2 tenants: the check was cancelled before netns t-tenant0"),
    ])
    func managementUnreachable(row: Row) {
        let plan = ManagementUnreachable.plan(SampleLab.topology())
        let readings = ManagementUnreachable.Readings(
            oobControl: SampleLab.results(plan.oobControl, row.answers),
            hostPathControl: SampleLab.results(plan.hostPathControl, row.answers),
            hostDropsBefore: row.dropsBefore, fromHost: SampleLab.results(plan.fromHost, row.answers), hostDropsAfter: row.dropsAfter,
            fromTenants: plan.fromTenants.prefix(row.tenantsProbed ?? plan.fromTenants.count).map { SampleLab.results($0, row.answers) })
        let outcome = ManagementUnreachable.classify(plan, readings).outcome
        #expect(outcome.status == row.status, "\(outcome.message)")
        #expect(outcome.message.contains(row.message), "\(outcome.message)")
    }

    @Test("management plane: the plan aims at every management address, port and protocol, never at link-local management")
    func managementPlan() {
        let plan = ManagementUnreachable.plan(SampleLab.topology())
        let hostTargets = Set(plan.fromHost.requests.map { $0.method.target })
        #expect(hostTargets == [SampleLab.management4, SampleLab.management6, SampleLab.data4, SampleLab.data6, SampleLab.dataLinkLocal])
        #expect(plan.fromHost.requests.contains(.arp(SampleLab.management4, on: "pf0", timeout: probeTimeout)))
        #expect(plan.fromHost.requests.contains(.ndp(SampleLab.management6, on: "pf0", timeout: probeTimeout)))
        #expect(plan.fromTenants.map(\.site) == [SampleLab.tenantSite(0), SampleLab.tenantSite(1)])
        #expect(plan.managementAddresses == [SampleLab.management4, SampleLab.management6])
        #expect(plan.hostDropCounter == "host_drop")
    }

    // MARK: isolation.dpu-attack-surface

    struct ScanRow: Sendable, CustomTestStringConvertible {
        var name: String
        var answers: SampleLab.Answers = .sound
        /// Ports that answer TCP on each address, beyond the sound testbed's (the allowlisted agent on data-plane addresses).
        var open: [IPAddress: [UInt16]] = [:]
        var refused: [IPAddress: [UInt16]] = [:]
        /// What the UDP sweep of each address drew (a sound testbed: nothing).
        var udp: [IPAddress: [UDPPortAnswer]] = [:]
        /// Link-local responders to all-nodes echo on the host link; a failed discovery when nil.
        var responders: [IPAddress]? = [SampleLab.dataLinkLocal, SampleLab.peerLinkLocal]
        /// How many planned addresses were scanned before the scan stopped; all when nil.
        var scanned: Int?
        var scanFailure: ProbeFailure?
        /// What the DPU lists as listening; its view unreadable when nil.
        var dpuSockets: [ListeningSocket]? = ScanRow.soundSockets
        /// Why the testbed offers no view of the DPU's sockets (no agent there); offered when nil.
        var dpuViewNotOffered: String?
        var status: TestStatus
        var message: String
        var planned = 5

        var testDescription: String { name }

        /// The allowlisted agent on every address, SSH on the management address, a resolver on loopback.
        static let soundSockets = [ListeningSocket(transport: .tcp, endpoint: SocketEndpoint(SampleLab.ip("::"), SampleLab.agentPort)),
                                   ListeningSocket(transport: .tcp, endpoint: SocketEndpoint(SampleLab.management4, 22), owner: "sshd[80]"),
                                   ListeningSocket(transport: .udp, endpoint: SocketEndpoint(SampleLab.ip("127.0.0.53"), 53))]

        static func answers(_ kind: UDPPortAnswer.Kind, _ ports: some Sequence<UInt16>) -> [UDPPortAnswer] {
            ports.map { UDPPortAnswer(port: $0, kind: kind, detail: kind == .reply ? "4-byte reply" : "ICMP destination unreachable: port unreachable") }
        }
    }

    @Test("attack surface: only allowlisted services may answer, and only a complete scan concludes", arguments: [
        ScanRow(name: "only the allowlisted service answers", status: .passed,
                message: "5 DPU addresses scanned (TCP and UDP 1-65535) and 3 sockets the DPU lists probed: only allowlisted services answer"),
        ScanRow(name: "data-plane addresses refuse every other port", refused: [SampleLab.data4: Array(1...1000)],
                status: .passed, message: "5 DPU addresses scanned"),
        ScanRow(name: "SSH open on a data-plane address", open: [SampleLab.data4: [22]],
                status: .failed, message: "the host reaches 1 DPU service(s) outside the allowlist (tcp/7471 agent): tcp/22 on 198.51.100.2 → open"),
        ScanRow(name: "a management address refuses a port", refused: [SampleLab.management6: [443]],
                status: .failed, message: "tcp/443 on 2001:db8:1::1 → answered-closed"),
        ScanRow(name: "the allowlisted port open on a management address", open: [SampleLab.management4: [SampleLab.agentPort]],
                status: .failed, message: "tcp/7471 on 192.0.2.1 → open"),
        ScanRow(name: "a UDP service on an unlisted port answers on a data-plane address",
                udp: [SampleLab.data4: ScanRow.answers(.reply, [6081])],
                status: .failed, message: "udp/6081 on 198.51.100.2 → reply: 4-byte reply"),
        ScanRow(name: "a firewall hole: port-unreachable on a data-plane address",
                udp: [SampleLab.data6: ScanRow.answers(.portUnreachable, [6082])], status: .failed,
                message: "udp/6082 on 2001:db8:2::2 → port-unreachable: the datagram passed the DPU firewall (ICMP destination unreachable: port unreachable)"),
        ScanRow(name: "no default-drop firewall: every port of a data-plane address unreachable",
                udp: [SampleLab.data4: ScanRow.answers(.portUnreachable, 1...65535)], status: .passed, message: "5 DPU addresses scanned"),
        ScanRow(name: "a rejecting firewall on a data-plane address", udp: [SampleLab.data4: [
                    UDPPortAnswer(port: 161, kind: .otherError, detail: "ICMP destination unreachable: administratively prohibited")]],
                status: .passed, message: "5 DPU addresses scanned"),
        ScanRow(name: "port-unreachable from a management address", udp: [SampleLab.management4: ScanRow.answers(.portUnreachable, [623])],
                status: .failed, message: "udp/623 on 192.0.2.1 → port-unreachable"),
        ScanRow(name: "ICMP answers as many as the DPU's rate limit lets through",
                udp: [SampleLab.management4: [], SampleLab.data4: ScanRow.answers(.otherError, 1...7)], status: .error,
                message: "incomplete: the UDP sweeps drew 7 ICMP errors in 0 ms, as many as the DPU's ICMP rate limit lets through"),
        ScanRow(name: "an unknown link-local neighbour is scanned too", open: [SampleLab.ip("fe80::99%pf0"): [22]],
                responders: [SampleLab.dataLinkLocal, SampleLab.ip("fe80::99%pf0")], status: .failed,
                message: "tcp/22 on fe80::99%pf0 → open", planned: 6),
        ScanRow(name: "the DPU lists a UDP service the host reaches on a data-plane address",
                answers: .from(SampleLab.hostSite, to: SampleLab.data4, port: 6081, .udp, .open),
                dpuSockets: ScanRow.soundSockets + [ListeningSocket(transport: .udp, endpoint: SocketEndpoint(SampleLab.ip("0.0.0.0"), 6081),
                                                                    owner: "vxland[91]")],
                status: .failed, message: "udp 198.51.100.2:6081 payload generic (14 bytes) → open (DPU socket udp 0.0.0.0:6081 (vxland[91]))"),
        ScanRow(name: "the DPU lists SSH, which answers the host on the management address",
                answers: .from(SampleLab.hostSite, to: SampleLab.management4, port: 22, .tcp, .open),
                status: .failed, message: "tcp connect 192.0.2.1:22 → open (DPU socket tcp 192.0.2.1:22 (sshd[80]))"),
        ScanRow(name: "no agent on the DPU: the sweeps find nothing, the white-box half is skipped",
                dpuViewNotOffered: "the testbed names no agent on the DPU", status: .skipped,
                message: "cannot conclude: the DPU's own view of its listening sockets (the testbed names no agent on the DPU): "
                    + "a service the sweeps cannot tell from silence stays unseen; what ran found nothing (5 DPU addresses scanned "
                    + "(TCP and UDP 1-65535): only allowlisted services answer)"),
        ScanRow(name: "no agent on the DPU, and the sweep finds a UDP service", udp: [SampleLab.data4: ScanRow.answers(.reply, [6081])],
                dpuViewNotOffered: "the testbed names no agent on the DPU", status: .failed, message: "udp/6081 on 198.51.100.2 → reply"),
        ScanRow(name: "the DPU's own view cannot be read", dpuSockets: nil, status: .error,
                message: "incomplete: reading the DPU's listening sockets at netns t-dpu failed: agent: LISTENING refused"),
        ScanRow(name: "neighbour discovery failed", responders: nil, status: .error,
                message: "incomplete: neighbour discovery (all-nodes echo) on interface pf0 from netns t-host failed: socket: Operation not permitted (EPERM)",
                planned: 5),
        ScanRow(name: "cancelled after two addresses", scanned: 2, status: .error,
                message: "incomplete: scanned 2 of 5 planned DPU addresses, not fe80::2%pf0, 192.0.2.1, 2001:db8:1::1: the scan was cancelled"),
        ScanRow(name: "cancelled before the first address", scanned: 0, status: .error,
                message: "incomplete: scanned 0 of 5 planned DPU addresses"),
        ScanRow(name: "a scan failed", scanned: 3,
                scanFailure: ProbeFailure(probe: "scanning 192.0.2.1 from netns t-host", error: "netns t-host: no such namespace"),
                status: .error, message: "scanned 3 of 5 planned DPU addresses, not 192.0.2.1, 2001:db8:1::1: scanning 192.0.2.1 from netns t-host failed"),
        ScanRow(name: "a finding before the scan was cancelled fails", open: [SampleLab.data4: [22]], scanned: 1, status: .failed,
                message: "tcp/22 on 198.51.100.2 → open"),
        ScanRow(name: "the management plane is silent from the OOB network", answers: .from(SampleLab.oobSite, .any, .dropped),
                status: .error, message: "positive control failed: the management plane does not answer from the OOB network"),
    ])
    func attackSurface(row: ScanRow) throws {
        let plan = AttackSurface.plan(SampleLab.topology())
        let neighbours: Result<MulticastEchoResult, ProbeFailure> = row.responders.map {
            .success(SampleLab.neighbours(SampleLab.hostSite, on: "pf0", $0))
        } ?? .failure(SampleLab.discoveryFailure)
        let targets = plan.targets(neighbours)
        #expect(targets.count == row.planned)
        let scans = targets.prefix(row.scanned ?? targets.count).map { target in
            let allowed: [UInt16] = [SampleLab.data4, SampleLab.data6, SampleLab.dataLinkLocal].contains(target) ? [SampleLab.agentPort] : []
            let udp = row.udp[target, default: []]
            return AttackSurface.AddressScan(
                tcp: PortScanResult(site: SampleLab.hostSite, target: target, ports: 1...65535, options: PortScanOptions(),
                                    open: (allowed + row.open[target, default: []]).sorted(), answeredClosed: row.refused[target, default: []],
                                    notSent: [], droppedCount: 0, elapsed: .zero),
                udp: UDPSweepResult(site: SampleLab.hostSite, target: target, ports: 1...65535, options: UDPSweepOptions(),
                                    answers: udp, notSent: 0, notSentReason: nil, localErrors: 0, elapsed: .zero))
        }
        let dpuView: AttackSurface.DPUViewReading = row.dpuViewNotOffered.map { .notOffered($0) } ?? row.dpuSockets.map { sockets in
            .read(AttackSurface.DPUView(sockets: sockets, probes: sockets.map { socket in
                SampleLab.results(ProbeBatch(site: SampleLab.hostSite, requests: plan.requests(reaching: socket, targets: targets)), row.answers)
            }))
        } ?? .failed(ProbeFailure(probe: "reading the DPU's listening sockets at netns t-dpu", error: "agent: LISTENING refused"))
        let readings = AttackSurface.Readings(
            oobControl: SampleLab.results(plan.oobControl, row.answers), hostPathControl: SampleLab.results(plan.hostPathControl, row.answers),
            neighbours: neighbours, scans: scans, scanFailure: row.scanFailure, scanDuration: .seconds(3), dpuView: dpuView)
        let outcome = AttackSurface.classify(plan, readings).outcome
        #expect(outcome.status == row.status, "\(outcome.message)")
        #expect(outcome.message.contains(row.message), "\(outcome.message)")
        // What was planned and what was scanned are both on record; a short scan never passes.
        let planned = try #require(outcome.measurements.first { $0.name == "addresses_planned" })
        let scanned = try #require(outcome.measurements.first { $0.name == "addresses_scanned" })
        #expect(planned.value == Double(row.planned))
        #expect(scanned.value == Double(scans.count))
        #expect(scanned.passed == (scans.count == row.planned))
        #expect(outcome.measurements.first { $0.name == "udp_ports_swept" }?.value == Double(scans.count * 65535))
        #expect(outcome.examined?.count == scans.count)
        if scans.count < row.planned { #expect(outcome.status != .passed) }
        // The DPU's own view sits in the evidence next to what the host reached.
        if let sockets = row.dpuSockets, row.dpuViewNotOffered == nil {
            #expect(outcome.evidence.contains("the DPU's own view: \(sockets.count) listening sockets, each as the host reached it:"))
            #expect(outcome.evidence.contains("  DPU socket udp 127.0.0.53:53 → bound to loopback, not reachable from the host"))
        }
    }

    @Test("attack surface: a DPU socket is probed where the host can reach it")
    func socketRequests() {
        let plan = AttackSurface.plan(SampleLab.topology())
        let targets = [SampleLab.data4, SampleLab.data6, SampleLab.dataLinkLocal, SampleLab.management4]
        func aimedAt(_ address: String, _ transport: TransportProtocol = .udp) -> [String] {
            plan.requests(reaching: ListeningSocket(transport: transport, endpoint: SocketEndpoint(SampleLab.ip(address), 4789)),
                          targets: targets).map { "\($0.method.target)" }
        }
        #expect(aimedAt("0.0.0.0") == ["198.51.100.2", "192.0.2.1"])
        #expect(aimedAt("::") == ["198.51.100.2", "2001:db8:2::2", "fe80::2%pf0", "192.0.2.1"])
        #expect(aimedAt("fe80::2") == ["fe80::2%pf0"])
        #expect(aimedAt("fe80::77") == ["fe80::77%pf0"])
        #expect(aimedAt("203.0.113.9", .tcp) == ["203.0.113.9"])
        #expect(aimedAt("127.0.0.1").isEmpty && aimedAt("::1").isEmpty)
        // What listens on the host management channel is the channel check's to examine.
        #expect(aimedAt(SampleLab.channelDPU.description, .tcp).isEmpty)
        #expect(plan.notProbed(ListeningSocket(transport: .tcp, endpoint: SocketEndpoint(SampleLab.channelDPU, 22)))
                == "bound to the host management channel (isolation.host-mgmt-channel-closed examines it)")
        let vxlan = plan.requests(reaching: ListeningSocket(transport: .udp, endpoint: SocketEndpoint(SampleLab.data4, 53)), targets: targets)
        #expect(vxlan.map(\.method.description) == ["udp 198.51.100.2:53 payload dns-query (39 bytes)"])
    }

    @Test("attack surface: the targets are the data-plane addresses, new link-local neighbours, then the management addresses")
    func attackSurfaceTargets() {
        let plan = AttackSurface.plan(SampleLab.topology())
        let stranger = SampleLab.ip("fe80::99%pf0")
        let found = plan.targets(.success(SampleLab.neighbours(SampleLab.hostSite, on: "pf0",
                                                              [SampleLab.ip("fe80::1%pf0"), SampleLab.dataLinkLocal, SampleLab.peerLinkLocal, stranger])))
        #expect(found == [SampleLab.data4, SampleLab.data6, SampleLab.dataLinkLocal, stranger, SampleLab.management4, SampleLab.management6])
        #expect(plan.targets(.failure(SampleLab.discoveryFailure))
                == [SampleLab.data4, SampleLab.data6, SampleLab.dataLinkLocal, SampleLab.management4, SampleLab.management6])
    }

    // MARK: isolation.no-route-to-oob

    @Test("route to the OOB network: any answer through the DPU is a finding", arguments: [
        Row(name: "nothing answers", status: .passed, message: "no path from the host into the OOB network (IPv4 and IPv6)"),
        Row(name: "the OOB agent answers the host", answers: .from(SampleLab.hostSite, to: SampleLab.oobHost4, .tcp, .open),
            status: .failed, message: "the host reached the OOB network through the DPU: tcp connect 192.0.2.2:7471 → open"),
        Row(name: "the OOB host answers echo", answers: .from(SampleLab.hostSite, .echo, .open),
            status: .failed, message: "icmp echo 192.0.2.2 → open"),
        Row(name: "the DPU answers ARP for the OOB host (proxy ARP)", answers: .from(SampleLab.hostSite, .neighbour, .open),
            status: .failed, message: "arp who-has 192.0.2.2 on pf0 → open"),
        Row(name: "the DPU refuses with ICMP unreachable", answers: .from(SampleLab.hostSite, .any, .answeredClosed),
            status: .passed, message: "no path from the host"),
        Row(name: "the OOB host is silent even from the DPU", answers: .from(SampleLab.dpuSite, .echo, .dropped),
            status: .error, message: "positive control failed: the OOB host does not answer even from the DPU"),
        Row(name: "the forward counter did not rise", dropsBefore: .packets(7), dropsAfter: .packets(7), status: .error,
            message: "positive control failed: the host's packets toward the OOB network never reached the DPU: forward_drop stayed at 7"),
        Row(name: "the forward counter cannot be read", dropsBefore: .unreadable("nft: netns t-dpu: no such namespace"),
            status: .error, message: "positive control failed: the DPU firewall counter forward_drop could not be read: nft: netns t-dpu: no such namespace"),
        Row(name: "counters not offered, the OOB host answers the DPU",
            dropsBefore: .notOffered("no agent on the DPU"), dropsAfter: .notOffered("no agent on the DPU"),
            status: .passed, message: "no path from the host"),
        Row(name: "counters not offered and the OOB host silent",
            answers: .from(SampleLab.dpuSite, .any, .dropped),
            dropsBefore: .notOffered("no agent on the DPU"), dropsAfter: .notOffered("no agent on the DPU"),
            status: .error, message: "positive control failed: the OOB host does not answer even from the DPU"),
    ])
    func noRouteToOOB(row: Row) {
        let plan = NoRouteToOOB.plan(SampleLab.topology())
        let readings = NoRouteToOOB.Readings(oobFromDPU: SampleLab.results(plan.oobFromDPU, row.answers), forwardDropsBefore: row.dropsBefore,
                                             fromHost: SampleLab.results(plan.fromHost, row.answers), forwardDropsAfter: row.dropsAfter)
        let outcome = NoRouteToOOB.classify(plan, readings).outcome
        #expect(outcome.status == row.status, "\(outcome.message)")
        #expect(outcome.message.contains(row.message), "\(outcome.message)")
    }

    @Test("route to the OOB network: with no OOB host to aim at, no control ran")
    func noRouteWithoutOOBHost() {
        let plan = NoRouteToOOB.plan(SampleLab.topology())
        let readings = NoRouteToOOB.Readings(oobFromDPU: [], forwardDropsBefore: .notOffered("no agent on the DPU"),
                                             fromHost: SampleLab.results(plan.fromHost, .sound), forwardDropsAfter: .notOffered("no agent on the DPU"))
        let outcome = NoRouteToOOB.classify(plan, readings).outcome
        #expect(outcome.status == .error)
        #expect(outcome.message.hasPrefix("no positive control ran: the OOB host answers the DPU: the topology names no OOB host service or address"))
    }

    @Test("route to the OOB network: with no agent on the DPU, the control from the DPU is not offered, and says why")
    func noRouteWithoutDPUAgent() {
        var topology = SampleLab.topology()
        topology.dpu.site = .unavailable("the testbed names no agent on the DPU (dpu.agent)")
        let plan = NoRouteToOOB.plan(topology)
        let readings = NoRouteToOOB.Readings(oobFromDPU: [], forwardDropsBefore: .notOffered("no agent on the DPU"),
                                             fromHost: SampleLab.results(plan.fromHost, .sound), forwardDropsAfter: .notOffered("no agent on the DPU"))
        let outcome = NoRouteToOOB.classify(plan, readings).outcome
        #expect(outcome.status == .error)
        #expect(outcome.message.hasPrefix(
            "no positive control ran: the OOB host answers the DPU: the testbed names no agent on the DPU (dpu.agent)"))
    }

    // MARK: isolation.host-mgmt-channel-closed

    struct ChannelRow: Sendable, CustomTestStringConvertible {
        var name: String
        var interface: LabInterface?
        var answers: SampleLab.Answers = .sound
        var status: TestStatus
        var message: String

        var testDescription: String { name }
    }

    static let closedChannel = LabInterface(name: "tmfifo_net0", mac: "02:00:00:00:00:01", isUp: false, addresses: [])

    @Test("host management channel: down, unaddressed and serving nothing", arguments: [
        ChannelRow(name: "down and silent", interface: closedChannel, status: .passed, message: "the management channel is closed to the host"),
        ChannelRow(name: "absent on the host", interface: nil, status: .passed, message: "the management channel is closed to the host"),
        ChannelRow(name: "up", interface: LabInterface(name: "tmfifo_net0", mac: "02:00:00:00:00:01", isUp: true, addresses: []),
                   status: .failed, message: "host tmfifo_net0: expected down and without addresses, observed up, addresses: none"),
        ChannelRow(name: "addressed", interface: LabInterface(name: "tmfifo_net0", mac: "02:00:00:00:00:01", isUp: false,
                                                               addresses: [InterfaceAddress("192.168.100.1/30")!]),
                   status: .failed, message: "observed down, addresses: 192.168.100.1/30"),
        ChannelRow(name: "SSH open on the channel", interface: closedChannel,
                   answers: .from(SampleLab.hostSite, to: SampleLab.channelDPU, port: 22, .tcp, .open),
                   status: .failed, message: "the management channel is open to the host: tcp connect 192.168.100.2:22 (read banner) → open"),
        ChannelRow(name: "refused on the channel", interface: closedChannel,
                   answers: .from(SampleLab.hostSite, to: SampleLab.channelDPU, .tcp, .answeredClosed),
                   status: .passed, message: "closed to the host"),
        ChannelRow(name: "the management plane is silent from the OOB network", interface: closedChannel,
                   answers: .from(SampleLab.oobSite, .tcp, .answeredClosed),
                   status: .error, message: "positive control failed: the management plane does not answer from the OOB network"),
    ])
    func hostChannelClosed(row: ChannelRow) {
        let plan = HostChannelClosed.plan(SampleLab.topology(channel: row.interface))
        let readings = HostChannelClosed.Readings(oobControl: SampleLab.results(plan.oobControl, row.answers), hostInterface: row.interface,
                                                  fromHost: SampleLab.results(plan.fromHost, row.answers))
        let outcome = HostChannelClosed.classify(plan, readings).outcome
        #expect(outcome.status == row.status, "\(outcome.message)")
        #expect(outcome.message.contains(row.message), "\(outcome.message)")
    }

    // MARK: isolation.tenant-separation

    struct TenantRow: Sendable, CustomTestStringConvertible {
        var name: String
        var answers: SampleLab.Answers = .sound
        /// All-nodes echo responders per tenant, beyond its own peer; a failed discovery when nil.
        var strangers: [[IPAddress]?] = [[], []]
        var tenantsProbed = 2
        var status: TestStatus
        var message: String

        var testDescription: String { name }
    }

    @Test("tenant separation: a tenant reaches its peer and nothing of another tenant", arguments: [
        TenantRow(name: "separated", status: .passed, message: "2 tenants reach their peers and nothing of each other"),
        TenantRow(name: "TCP refused by the other tenant", answers: .from(SampleLab.tenantSite(0), to: SampleLab.tenantAddresses[1][0], .tcp, .answeredClosed),
                  status: .failed, message: "tenants reach one another: tenant 0: tcp connect 10.0.1.1:7471 → answered-closed"),
        TenantRow(name: "the other tenant answers echo", answers: .from(SampleLab.tenantSite(1), .echo, .open),
                  status: .failed, message: "tenant 1: icmp echo 10.0.0.1 → open"),
        TenantRow(name: "the other tenant answers ARP", answers: .from(SampleLab.tenantSite(0), .neighbour, .open),
                  status: .failed, message: "tenant 0: arp who-has 10.0.1.1 on vf0 → open"),
        TenantRow(name: "the other tenant answers all-nodes echo", strangers: [[SampleLab.tenantAddresses[1][1]], []],
                  status: .failed, message: "tenant 0: all-nodes echo answered by fe80::11%vf0"),
        TenantRow(name: "a tenant cannot reach its own peer", answers: .from(SampleLab.tenantSite(1), to: SampleLab.tenantPeers[1][0], .echo, .dropped),
                  status: .error, message: "positive control failed: tenant 1 cannot reach its own peer, so its silence toward other tenants proves nothing"),
        TenantRow(name: "neighbour discovery failed", strangers: [[], nil], status: .error,
                  message: "incomplete: tenant 1: neighbour discovery (all-nodes echo) on interface vf0 from netns t-tenant1 failed: socket: Operation not permitted"),
        TenantRow(name: "cancelled after the first tenant", tenantsProbed: 1, status: .error,
                  message: "incomplete: probed from 1 of 2 tenants: the check was cancelled before tenant 1"),
        TenantRow(name: "a leak found before cancellation fails", answers: .from(SampleLab.tenantSite(0), .echo, .open), tenantsProbed: 1,
                  status: .failed, message: "tenant 0: icmp echo 10.0.1.1 → open"),
    ])
    func tenantSeparation(row: TenantRow) {
        let plan = TenantSeparation.plan(SampleLab.topology())
        let readings = TenantSeparation.Readings(tenants: plan.tenants.prefix(row.tenantsProbed).map { tenant in
            let neighbours: Result<MulticastEchoResult, ProbeFailure> = row.strangers[tenant.index].map {
                .success(SampleLab.neighbours(tenant.site, on: tenant.interface, [SampleLab.tenantPeers[tenant.index][1]] + $0))
            } ?? .failure(ProbeFailure(probe: "neighbour discovery (all-nodes echo) on interface vf0 from \(tenant.site)",
                                       error: "socket: Operation not permitted (EPERM)"))
            return TenantSeparation.TenantReadings(
                results: SampleLab.results(ProbeBatch(site: tenant.site, requests: tenant.ownPeer + tenant.otherTenants), row.answers),
                neighbours: neighbours)
        })
        let outcome = TenantSeparation.classify(plan, readings).outcome
        #expect(outcome.status == row.status, "\(outcome.message)")
        #expect(outcome.message.contains(row.message), "\(outcome.message)")
    }

    @Test("tenant separation: a tenant without a peer address offers no control; another tenant's control carries the check")
    func tenantWithoutPeer() {
        var plan = TenantSeparation.plan(SampleLab.topology())
        plan.tenants[1].ownPeer = []
        let control = TenantSeparation.peerControl(plan.tenants[1], [])
        #expect(control.state == .unavailable("the topology gives tenant 1 no peer address"))
        let readings = TenantSeparation.Readings(tenants: plan.tenants.map { tenant in
            TenantSeparation.TenantReadings(
                results: SampleLab.results(ProbeBatch(site: tenant.site, requests: tenant.ownPeer + tenant.otherTenants), .sound),
                neighbours: .success(SampleLab.neighbours(tenant.site, on: tenant.interface, [])))
        })
        #expect(TenantSeparation.classify(plan, readings).outcome.status == .passed)
        plan.tenants[0].ownPeer = []
        let peers = Set(SampleLab.tenantPeers.joined())
        let withoutPeers = TenantSeparation.Readings(tenants: readings.tenants.map { tenant in
            TenantSeparation.TenantReadings(results: tenant.results.filter { !peers.contains($0.request.method.target) },
                                            neighbours: tenant.neighbours)
        })
        let unbacked = TenantSeparation.classify(plan, withoutPeers).outcome
        #expect(unbacked.status == .error)
        #expect(unbacked.message.hasPrefix("no positive control ran: tenant 0 reaches its own peer: the topology gives tenant 0 no peer address"))
    }
}
