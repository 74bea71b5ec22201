import Probes
import Systems
import Testbed

/// One reading of a named DPU firewall counter.
enum CounterReading: Sendable, Hashable {
    case packets(UInt64)
    /// The testbed offers the counter but it could not be read: what failed.
    case unreadable(String)
    /// The testbed offers no firewall counters (its file names no DPU firewall): why.
    /// The emulated lab always offers them.
    case notOffered(String)

    /// Reads counter `name` of the testbed's DPU firewall (nil: the testbed names none).
    static func read(_ name: String?, in testbed: any Testbed) -> CounterReading {
        guard let name, let location = testbed.topology.firewall?.location else {
            return .notOffered("\(testbed.summary) names no DPU firewall counters")
        }
        let counters: [String: FirewallCounter]
        do {
            guard let read = try testbed.firewallCounters() else {
                return .notOffered("\(testbed.summary) names no DPU firewall counters")
            }
            counters = read
        } catch {
            return .unreadable("reading \(location) failed: \(error)")
        }
        guard let counter = counters[name] else {
            return .unreadable("\(location) has no counter \(name) (it has: "
                               + (counters.isEmpty ? "none" : counters.keys.sorted().joined(separator: ", ")) + ")")
        }
        return .packets(counter.packets)
    }
}

/// The control that the DPU firewall counted the probes it refused: counter `name`
/// rose between the readings taken before and after them.
func dropCounterControl(_ name: String?, before: CounterReading, after: CounterReading, counting what: String) -> Control {
    let control = "the DPU firewall counted \(what)" + (name.map { " (\($0))" } ?? "")
    let name = name ?? "counter"
    switch (before, after) {
    case let (.packets(before), .packets(after)):
        return Control(name: control,
                       state: after > before ? .held : .failed("\(what) never reached the DPU: \(name) stayed at \(before)"),
                       evidence: ["DPU firewall \(name): \(before) → \(after) packets"])
    case (.unreadable(let reason), _), (_, .unreadable(let reason)):
        return Control(name: control, state: .failed("the DPU firewall counter \(name) could not be read: \(reason)"))
    case (.notOffered(let reason), _), (_, .notOffered(let reason)):
        return Control(name: control, state: .unavailable(reason))
    }
}

/// The management plane answers from the OOB side: every address and port (and echo).
/// Without it, nothing the host cannot reach proves anything.
enum ManagementFromOOB {
    static func plan(_ topology: LabTopology, tcpOnly: Bool = false) -> ProbeBatch {
        let management = topology.management
        var requests: [ProbeRequest] = []
        for address in management.dpuAddresses {
            requests += management.tcpPorts.map { .tcp(SocketEndpoint(address, $0), readsBanner: $0 == 22) }
            if !tcpOnly {
                requests += management.udpPorts.map { .udp(SocketEndpoint(address, $0), payload: .wellKnown(port: $0)) }
                requests.append(.icmpEcho(address))
            }
        }
        return ProbeBatch(site: topology.oob.site, requests: requests)
    }

    static func control(_ results: [ProbeResult]) -> Control {
        .everyProbeAnswered("the management plane answers from the OOB network", results,
                            notOffered: "the topology names no management service to reach",
                            failure: "the management plane does not answer from the OOB network, so its silence toward the host proves nothing: ",
                            heading: "positive control, management from the OOB network:")
    }
}

/// An allowlisted data-plane service on the DPU answers the host: the host's probe path works.
enum HostProbePath {
    static func plan(_ topology: LabTopology) -> ProbeBatch {
        let endpoints = topology.dataPlane.allowedEndpoints(.tcp).filter { !$0.address.isLinkLocal }
        return ProbeBatch(site: topology.host.site, requests: endpoints.map { .tcp($0) })
    }

    static func control(_ results: [ProbeResult]) -> Control {
        let name = "an allowlisted DPU service answers the host"
        guard !results.isEmpty else {
            return Control(name: name, state: .unavailable("the profile allowlists no TCP service on the DPU"))
        }
        return Control(name: name,
                       state: results.contains { $0.outcome == .open } ? .held
                           : .failed("no allowlisted DPU service answers the host, so the host's probe path is unproven"),
                       evidence: ["positive control, allowlisted services from the host:"] + evidenceLines(results))
    }
}
