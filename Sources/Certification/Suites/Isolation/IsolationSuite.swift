import Probes
import Profiles
import Systems
import Testbed

/// The isolation suite: a compromised host must not reach the DPU's management plane,
/// route through the DPU, or reach another tenant. Every "blocked" reading is backed by
/// positive controls: the same service answers from where it is allowed, the host's
/// probe path works (an allowlisted service answers), and the DPU firewall counted the
/// refused probes. Each check plans its probes from the topology, runs them, and
/// classifies the results with the verdict rule of `IsolationJudgement`.
public enum IsolationSuite {
    public static func tests(for profile: Profile) -> [any CertificationTest] {
        guard let isolation = profile.isolation else { return [] }
        let channelClosed = isolation.hostManagementChannel?.mode == .restricted
        return [ManagementUnreachable(), AttackSurface(), NoRouteToOOB()] + (channelClosed ? [HostChannelClosed()] : [])
            + [TenantSeparation()]
    }
}

/// Probes are short: a dropped probe costs its timeout, and probes run side by side.
let probeTimeout = Duration.milliseconds(700)

/// Probes to send from one site.
struct ProbeBatch: Sendable, Hashable {
    var site: ProbeSite
    var requests: [ProbeRequest]

    /// Runs the batch; an infrastructure failure (namespace gone, agent unreachable) ends
    /// the check as an error.
    func run(on testbed: any Testbed) throws -> [ProbeResult] {
        do {
            return try testbed.probe(requests, from: site)
        } catch {
            throw PositiveControlFailure("probing from \(site) failed: \(error)")
        }
    }
}

/// A probe that could not be carried out at all (as opposed to a probe outcome): what it
/// was and the error. What it would have examined is then unexamined.
struct ProbeFailure: Error, Sendable, Hashable, CustomStringConvertible {
    var probe: String
    var error: String

    var description: String { "\(probe) failed: \(error)" }
}

/// Who answers all-nodes echo on `interface` seen from `site`, or what kept the
/// discovery from running.
func discoverNeighbours(on interface: String, from site: ProbeSite, in testbed: any Testbed)
    -> Result<MulticastEchoResult, ProbeFailure>
{
    Result { try testbed.discoverLinkNeighbours(on: interface, from: site) }
        .mapError { ProbeFailure(probe: "neighbour discovery (all-nodes echo) on interface \(interface) from \(site)",
                                 error: "\($0)") }
}

/// A neighbour (ARP for IPv4, NDP for IPv6) probe for `address` on `interface`.
func neighbourProbe(_ address: IPAddress, on interface: String) -> ProbeRequest {
    address.family == .ipv4 ? .arp(address, on: interface, timeout: probeTimeout)
                            : .ndp(address, on: interface, timeout: probeTimeout)
}

/// Probe results as evidence lines, indented under their heading.
func evidenceLines(_ results: [ProbeResult]) -> [String] { results.map { "  " + $0.description } }
