import Probes
import Profiles
import Reports
import Testbed

/// `isolation.dpu-attack-surface`: every TCP port and a UDP probe list on every DPU
/// address the host can see; what answers must be on the allowlist.
struct AttackSurface: IsolationCheck {
    let id = "isolation.dpu-attack-surface"
    let title = "The DPU exposes only allowlisted services to the host"
    let requirement = "isolation.allowlist"

    func covers(_ profile: Profile) -> [String] { ["isolation.allowlist"] }

    struct Plan: Sendable, Hashable {
        var oobControl: ProbeBatch
        var hostPathControl: ProbeBatch
        /// Where the scans run from: the host.
        var site: ProbeSite
        /// The host's link to the DPU, where link-local neighbours are discovered.
        var hostLink: String
        var dataPlaneAddresses: [IPAddress]
        /// Management addresses as the host aims at them through its routes via the DPU.
        var managementAddresses: [IPAddress]
        /// Addresses on the host link that are known already (the peer's, the host's,
        /// the DPU's data-plane ones), unscoped: a neighbour answering from one is no new target.
        var knownOnLink: Set<IPAddress>
        var allowlist: [NetworkService]

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
    }

    /// One address as scanned: every TCP port and the UDP probe list.
    struct AddressScan: Sendable, Hashable {
        var tcp: PortScanResult
        var udp: [ProbeResult]
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
    }

    func run(_ context: TestContext) throws -> TestOutcome {
        let testbed = try testbed(context)
        let plan = Self.plan(testbed.topology)
        return Self.classify(plan, try Self.probe(plan, testbed: testbed, context: context)).outcome
    }

    static func plan(_ topology: LabTopology) -> Plan {
        let dataPlane = topology.dataPlane
        return Plan(oobControl: ManagementFromOOB.plan(topology, tcpOnly: true), hostPathControl: HostProbePath.plan(topology),
                    site: topology.host.site, hostLink: dataPlane.hostInterface, dataPlaneAddresses: dataPlane.dpuAddresses,
                    managementAddresses: topology.management.dpuAddresses.filter { !$0.isLinkLocal },
                    knownOnLink: Set((dataPlane.peerAddresses + dataPlane.hostAddresses + dataPlane.dpuAddresses).map(\.unscoped)),
                    allowlist: dataPlane.allowlist)
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
            context.progress("scanning \(target) (\(index + 1)/\(targets.count)): TCP 1-65535 and the UDP list")
            do {
                scans.append(AddressScan(tcp: try testbed.scanTCP(target, from: plan.site),
                                         udp: try testbed.sweepUDP(target, from: plan.site, timeout: probeTimeout)))
            } catch {
                scanFailure = ProbeFailure(probe: "scanning \(target) from \(plan.site)", error: "\(error)")
                break
            }
        }
        return Readings(oobControl: oobControl, hostPathControl: hostPathControl, neighbours: neighbours, scans: scans,
                        scanFailure: scanFailure, scanDuration: started.duration(to: .now))
    }

    static func classify(_ plan: Plan, _ readings: Readings) -> IsolationJudgement {
        let targets = plan.targets(readings.neighbours)
        let managementSet = Set(plan.managementAddresses.map(\.unscoped))
        let allowed = Set(plan.allowlist.map { "\($0.transport)/\($0.port)" })
        var evidence: [String] = []
        var unexamined: [String] = []
        switch readings.neighbours {
        case .success(let found): evidence.append(found.description)
        case .failure(let failure): unexamined.append("\(failure), so the DPU's link-local addresses on it are unknown")
        }

        var exposed: [String] = []
        for scan in readings.scans {
            let target = scan.tcp.target
            evidence.append(scan.tcp.description)
            evidence += evidenceLines(scan.udp.filter { $0.outcome != .dropped })
            let isManagement = managementSet.contains(target.unscoped)
            // A management address must not answer at all; elsewhere only open ports count.
            exposed += scan.tcp.open.filter { isManagement || !allowed.contains("tcp/\($0)") }
                .map { "tcp/\($0) on \(target) → open" }
            if isManagement {
                exposed += scan.tcp.answeredClosed.map { "tcp/\($0) on \(target) → answered-closed" }
            }
            exposed += scan.udp.filter { result in
                guard case .udp(let endpoint, _) = result.request.method else { return false }
                let answered = result.outcome == .open || (isManagement && result.outcome == .answeredClosed)
                return answered && (isManagement || !allowed.contains("udp/\(endpoint.port)"))
            }.map { "\($0.request.method) → \($0.outcome.rawValue)" }
        }

        let scanned = Set(readings.scans.map(\.tcp.target))
        let notScanned = targets.filter { !scanned.contains($0) }
        if !notScanned.isEmpty {
            let why = readings.scanFailure?.description ?? "the scan was cancelled"
            unexamined.append("scanned \(readings.scans.count) of \(targets.count) planned DPU addresses, not "
                              + notScanned.map(\.description).joined(separator: ", ") + ": \(why)")
        }
        return IsolationJudgement(
            findings: exposed,
            findingsHeading: "the host reaches \(exposed.count) DPU service(s) outside the allowlist "
                + "(\(plan.allowlist.map(\.description).joined(separator: ", "))): ",
            controls: [ManagementFromOOB.control(readings.oobControl), HostProbePath.control(readings.hostPathControl)],
            unexamined: unexamined,
            measurements: [
                MeasuredValue(name: "exposed_services", value: Double(exposed.count), unit: "count", threshold: Threshold(.equal, 0)),
                MeasuredValue(name: "addresses_planned", value: Double(targets.count), unit: "count"),
                MeasuredValue(name: "addresses_scanned", value: Double(readings.scans.count), unit: "count",
                              threshold: Threshold(.equal, Double(targets.count))),
                MeasuredValue(name: "scan_duration", value: (readings.scanDuration.seconds * 1000).rounded() / 1000, unit: "s"),
            ],
            evidence: evidence,
            examined: Examined(readings.scans.count, "DPU addresses scanned", as: "addresses_examined"),
            passMessage: "\(readings.scans.count) DPU addresses scanned: only allowlisted services answer")
    }
}
