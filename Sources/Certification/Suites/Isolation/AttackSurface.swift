import Probes
import Profiles
import Reports
import Systems
import Testbed

/// `isolation.dpu-attack-surface`: from the host, every TCP port and every UDP port of
/// every DPU address the host can aim at (the black-box half), and every socket the DPU
/// itself lists as listening, probed as the host would reach it (the white-box half);
/// what answers must be on the allowlist.
struct AttackSurface: TestbedCheck {
    let id = "isolation.dpu-attack-surface"
    let title = "The DPU exposes only allowlisted services to the host"
    let requirement = "isolation.allowlist"

    func covers(_ profile: Profile) -> [String] { ["isolation.allowlist"] }

    /// ICMP error rate a Linux DPU allows toward one host when nothing says otherwise
    /// (net.ipv4.icmp_ratelimit and net.ipv6.icmp.ratelimit 1000 ms, a burst of 6): more
    /// ICMP answers than this in a sweep means some may have been suppressed.
    static let icmpBurst = 6.0
    static let icmpPerSecond = 1.0

    struct Plan: Sendable, Hashable {
        var oobControl: ProbeBatch
        var hostPathControl: ProbeBatch
        /// Where the scans run from: the host.
        var site: ProbeSite
        /// Where the DPU's own view of its listening sockets is read.
        var dpuSite: ProbeSite
        /// The host's link to the DPU, where link-local neighbours are discovered.
        var hostLink: String
        var dataPlaneAddresses: [IPAddress]
        /// Management addresses as the host aims at them through its routes via the DPU.
        var managementAddresses: [IPAddress]
        /// Addresses on the host link that are known already (the peer's, the host's,
        /// the DPU's data-plane ones), unscoped: a neighbour answering from one is no new target.
        var knownOnLink: Set<IPAddress>
        var allowlist: [NetworkService]
        var udpSweep: UDPSweepOptions
        /// The DPU's addresses on the host management channel: what listens there is
        /// `isolation.host-mgmt-channel-closed`'s to examine.
        var channelAddresses: [IPAddress]

        /// Every DPU address the host can aim at: its data-plane addresses, the link-local
        /// neighbours that answered all-nodes echo (other than known ones), and the
        /// management addresses.
        func targets(_ neighbours: Result<MulticastEchoResult, ProbeFailure>) -> [IPAddress] {
            var discovered: [IPAddress] = []
            if case .success(let found) = neighbours {
                discovered = found.responders.filter { !knownOnLink.contains($0.unscoped) }
            }
            return dataPlaneAddresses + discovered + managementAddresses
        }

        func isManagement(_ address: IPAddress) -> Bool {
            managementAddresses.contains { $0.unscoped == address.unscoped }
        }

        func isAllowed(_ transport: TransportProtocol, _ port: UInt16) -> Bool {
            allowlist.contains { $0.transport == transport && $0.port == port }
        }

        /// Why the host does not aim at `socket` here, or nil when it does.
        func notProbed(_ socket: ListeningSocket) -> String? {
            let bound = socket.endpoint.address
            if bound.isLoopback { return "bound to loopback, not reachable from the host" }
            if channelAddresses.contains(where: { $0.unscoped == bound.unscoped }) {
                return "bound to the host management channel (isolation.host-mgmt-channel-closed examines it)"
            }
            return nil
        }

        /// The probes that reach `socket` as the host would: at its own address when it
        /// is bound to one (scoped to the host link when link-local), at every target of
        /// its family when it is bound to the wildcard (every target for `::`, which also
        /// takes IPv4 unless it is IPv6-only); none when `notProbed` says why.
        func requests(reaching socket: ListeningSocket, targets: [IPAddress]) -> [ProbeRequest] {
            let bound = socket.endpoint.address
            let addresses: [IPAddress]
            if notProbed(socket) != nil {
                addresses = []
            } else if bound.isUnspecified {
                addresses = bound.family == .ipv6 ? targets : targets.filter { $0.family == .ipv4 }
            } else {
                addresses = [targets.first { $0.unscoped == bound.unscoped } ?? (bound.isLinkLocal ? bound.scoped(to: hostLink) : bound)]
            }
            return addresses.map { address in
                let endpoint = SocketEndpoint(address, socket.endpoint.port)
                return socket.transport == .tcp ? .tcp(endpoint, timeout: probeTimeout)
                    : .udp(endpoint, payload: .wellKnown(port: endpoint.port), timeout: probeTimeout)
            }
        }
    }

    /// One address as scanned: every TCP port and every UDP port.
    struct AddressScan: Sendable, Hashable {
        var tcp: PortScanResult
        var udp: UDPSweepResult
    }

    /// The DPU's own view: its listening sockets, and how each answered the host.
    struct DPUView: Sendable, Hashable {
        var sockets: [ListeningSocket]
        /// The host's probes of each socket, in socket order.
        var probes: [[ProbeResult]]
    }

    /// The DPU's own view as read: the sockets and probes, what kept it from being read,
    /// or why this testbed offers none (no agent on the DPU).
    enum DPUViewReading: Sendable, Hashable {
        case read(DPUView)
        case failed(ProbeFailure)
        case notOffered(String)
    }

    struct Readings: Sendable, Hashable {
        var oobControl: [ProbeResult]
        var hostPathControl: [ProbeResult]
        var neighbours: Result<MulticastEchoResult, ProbeFailure>
        /// In target order; fewer than planned when the scan was cancelled or failed.
        var scans: [AddressScan]
        /// What stopped the scan before its last target, when something did.
        var scanFailure: ProbeFailure?
        var scanDuration: Duration
        var dpuView: DPUViewReading
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, testbed: testbed, context: context)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let dataPlane = topology.dataPlane
        return Plan(oobControl: ManagementFromOOB.plan(topology, tcpOnly: true), hostPathControl: HostProbePath.plan(topology),
                    site: topology.host.site, dpuSite: topology.dpu.site, hostLink: dataPlane.hostInterface,
                    dataPlaneAddresses: dataPlane.dpuAddresses,
                    managementAddresses: topology.management.dpuAddresses.filter { !$0.isLinkLocal },
                    knownOnLink: Set((dataPlane.peerAddresses + dataPlane.hostAddresses + dataPlane.dpuAddresses).map(\.unscoped)),
                    allowlist: dataPlane.allowlist, udpSweep: UDPSweepOptions(),
                    channelAddresses: topology.hostChannel.dpuAddresses)
    }

    static func probe(_ plan: Plan, testbed: any Testbed, context: TestContext) throws -> Readings {
        let oobControl = try plan.oobControl.run(on: testbed)
        let hostPathControl = try plan.hostPathControl.run(on: testbed)
        let neighbours = discoverNeighbours(on: plan.hostLink, from: plan.site, in: testbed)
        let targets = plan.targets(neighbours)
        var scans: [AddressScan] = []
        var scanFailure: ProbeFailure?
        let started = ContinuousClock.now
        for (index, target) in targets.enumerated() {
            if context.isCancelled { break }
            context.progress("scanning \(target) (\(index + 1)/\(targets.count)): TCP and UDP 1-65535")
            do {
                scans.append(AddressScan(tcp: try testbed.scanTCP(target, from: plan.site),
                                         udp: try testbed.sweepUDP(target, from: plan.site, options: plan.udpSweep)))
            } catch {
                scanFailure = ProbeFailure(probe: "scanning \(target) from \(plan.site)", error: "\(error)")
                break
            }
        }
        let scanDuration = started.duration(to: .now)
        if let reason = plan.dpuSite.unavailableReason {
            return Readings(oobControl: oobControl, hostPathControl: hostPathControl, neighbours: neighbours, scans: scans,
                            scanFailure: scanFailure, scanDuration: scanDuration, dpuView: .notOffered(reason))
        }
        let dpuView: DPUViewReading
        do {
            context.progress("reading the DPU's listening sockets at \(plan.dpuSite) and probing each from the host")
            let sockets = try testbed.listeningSockets(at: plan.dpuSite)
            let requests = sockets.map { plan.requests(reaching: $0, targets: targets) }
            let results = try testbed.probe(requests.flatMap { $0 }, from: plan.site)
            var probes: [[ProbeResult]] = []
            var next = results[...]
            for batch in requests {
                probes.append(Array(next.prefix(batch.count)))
                next = next.dropFirst(batch.count)
            }
            dpuView = .read(DPUView(sockets: sockets, probes: probes))
        } catch {
            dpuView = .failed(ProbeFailure(probe: "reading the DPU's listening sockets at \(plan.dpuSite)", error: "\(error)"))
        }
        return Readings(oobControl: oobControl, hostPathControl: hostPathControl, neighbours: neighbours, scans: scans,
                        scanFailure: scanFailure, scanDuration: scanDuration, dpuView: dpuView)
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        let targets = plan.targets(readings.neighbours)
        var evidence: [String] = []
        var unexamined: [String] = []
        switch readings.neighbours {
        case .success(let found): evidence.append(found.description)
        case .failure(let failure): unexamined.append("\(failure), so the DPU's link-local addresses on it are unknown")
        }

        var exposed: [String] = []
        var icmpAnswers = 0
        var udpSweepTime = Duration.zero
        for scan in readings.scans {
            let target = scan.tcp.target
            evidence.append(scan.tcp.description)
            evidence.append(scan.udp.description)
            let isManagement = plan.isManagement(target)
            // A management address must not answer at all; elsewhere only open ports count.
            exposed += scan.tcp.open.filter { isManagement || !plan.isAllowed(.tcp, $0) }
                .map { "tcp/\($0) on \(target) → open" }
            if isManagement {
                exposed += scan.tcp.answeredClosed.map { "tcp/\($0) on \(target) → answered-closed" }
            }
            exposed += udpFindings(scan.udp, isManagement: isManagement, plan: plan)
            icmpAnswers += scan.udp.answers.count { $0.kind != .reply }
            udpSweepTime += scan.udp.elapsed
        }
        // Silence is only evidence while the DPU was allowed to send every ICMP error: as
        // many as its rate limit lets through may hide more, unless a sweep that drew
        // that many answered on every port (then no limit throttled the answers).
        let icmpAllowance = icmpBurst + udpSweepTime.seconds * icmpPerSecond
        let unthrottled = readings.scans.contains { scan in
            scan.udp.silentCount == 0 && Double(scan.udp.answers.count { $0.kind != .reply }) >= icmpAllowance
        }
        if exposed.isEmpty, Double(icmpAnswers) >= icmpAllowance, !unthrottled {
            unexamined.append("the UDP sweeps drew \(icmpAnswers) ICMP errors in \(udpSweepTime.evidenceText), as many as the "
                              + "DPU's ICMP rate limit lets through (Linux default: \(Int(icmpBurst)) at once, then "
                              + "\(Int(icmpPerSecond)) per second), so silent ports may have passed the firewall unseen")
        }

        let scanned = Set(readings.scans.map(\.tcp.target))
        let notScanned = targets.filter { !scanned.contains($0) }
        if !notScanned.isEmpty {
            let why = readings.scanFailure?.description ?? "the scan was cancelled"
            unexamined.append("scanned \(readings.scans.count) of \(targets.count) planned DPU addresses, not "
                              + notScanned.map(\.description).joined(separator: ", ") + ": \(why)")
        }

        var socketsListed = 0
        var socketsProbed = 0
        var notOffered: [String] = []
        switch readings.dpuView {
        case .read(let view):
            socketsListed = view.sockets.count
            evidence.append("the DPU's own view: \(view.sockets.count) listening sockets, each as the host reached it:")
            for (socket, probes) in zip(view.sockets, view.probes) {
                if let reason = plan.notProbed(socket) {
                    evidence.append("  DPU socket \(socket) → \(reason)")
                    continue
                }
                socketsProbed += 1
                evidence.append("  DPU socket \(socket) → host: "
                                + probes.map { "\($0.request.method) \($0.outcome.rawValue)" }.joined(separator: "; "))
                exposed += probes.filter { result in
                    let isManagement = plan.isManagement(result.request.method.target)
                    return result.outcome == .open ? isManagement || !plan.isAllowed(socket.transport, socket.endpoint.port)
                        : isManagement && result.outcome == .answeredClosed
                }.map { "\($0.request.method) → \($0.outcome.rawValue) (DPU socket \(socket))" }
            }
        case .failed(let failure):
            unexamined.append("\(failure), so the DPU's own view of what listens is missing")
        case .notOffered(let reason):
            notOffered.append("the DPU's own view of its listening sockets (\(reason)): a service the sweeps cannot "
                              + "tell from silence stays unseen")
        }

        let udpPorts = readings.scans.reduce(0) { $0 + $1.udp.portCount }
        return IsolationJudgement(
            findings: exposed,
            findingsHeading: "the host reaches \(exposed.count) DPU service(s) outside the allowlist "
                + "(\(plan.allowlist.map(\.description).joined(separator: ", "))): ",
            controls: [ManagementFromOOB.control(readings.oobControl), HostProbePath.control(readings.hostPathControl)],
            unexamined: unexamined,
            notOffered: notOffered,
            measurements: [
                MeasuredValue(name: "exposed_services", value: Double(exposed.count), unit: "count", threshold: Threshold(.equal, 0)),
                MeasuredValue(name: "addresses_planned", value: Double(targets.count), unit: "count"),
                MeasuredValue(name: "addresses_scanned", value: Double(readings.scans.count), unit: "count",
                              threshold: Threshold(.equal, Double(targets.count))),
                MeasuredValue(name: "scan_duration", value: rounded(readings.scanDuration), unit: "s"),
                MeasuredValue(name: "udp_ports_swept", value: Double(udpPorts), unit: "count"),
                MeasuredValue(name: "udp_sweep_duration", value: rounded(udpSweepTime), unit: "s"),
                MeasuredValue(name: "dpu_sockets_listed", value: Double(socketsListed), unit: "count"),
                MeasuredValue(name: "dpu_sockets_probed", value: Double(socketsProbed), unit: "count"),
            ],
            evidence: evidence,
            examined: Examined(readings.scans.count, "DPU addresses scanned", as: "addresses_examined"),
            passMessage: "\(readings.scans.count) DPU addresses scanned (TCP and UDP 1-65535)"
                + (notOffered.isEmpty ? " and \(socketsListed) sockets the DPU lists probed" : "")
                + ": only allowlisted services answer")
    }

    /// What a UDP sweep of one address found. A reply outside the allowlist is a service
    /// the host reaches. ICMP port-unreachable means the datagram passed the DPU's
    /// firewall: a finding on a management address, and a hole elsewhere unless the
    /// address answers most ports that way (then it is not behind a default-drop
    /// firewall and the answer says only that nothing listens).
    static func udpFindings(_ sweep: UDPSweepResult, isManagement: Bool, plan: Plan) -> [String] {
        let target = sweep.target
        let replies = sweep.answers(.reply).filter { isManagement || !plan.isAllowed(.udp, $0.port) }
        var findings = replies.map { "udp/\($0.port) on \(target) → reply: \($0.detail)" }
        let unreachable = sweep.answers(.portUnreachable)
        let defaultDrop = unreachable.count * 2 < sweep.portCount
        let holes = unreachable.filter { isManagement || (defaultDrop && !plan.isAllowed(.udp, $0.port)) }
        let rejected = isManagement ? sweep.answers(.otherError) : []
        for (answers, what) in [(holes, "port-unreachable: the datagram passed the DPU firewall"),
                                (rejected, "ICMP error: the management address answers")] where !answers.isEmpty {
            let ports = answers.prefix(8).map { "udp/\($0.port)" }.joined(separator: ", ")
                + (answers.count > 8 ? " and \(answers.count - 8) more ports" : "")
            findings.append("\(ports) on \(target) → \(what) (\(answers[0].detail))")
        }
        return findings
    }

    private static func rounded(_ duration: Duration) -> Double { (duration.seconds * 1000).rounded() / 1000 }
}
