import Foundation
import Lab
import Probes
import Systems
import Testbed

enum LabSupport {
    /// The stand-in agent, built beside the test bundle.
    static let fixture = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("dpucert-lab-fixture").path

    /// `t` + five hex digits: short, and unlikely to meet another run's lab.
    static func uniqueName() -> String { "t" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16) }

    static func spec(name: String = uniqueName(), tenants: Int = 2) -> LabSpec {
        LabSpec(name: name, agent: AgentLauncher(executable: fixture, arguments: ["agent"]), tenantCount: tenants)
    }

    /// Brings a lab up for `body` and always takes it down.
    static func with<Result>(faults: [LabFault] = [], tenants: Int = 2, _ body: (Lab) throws -> Result) throws -> Result {
        let lab = try Lab.up(spec(tenants: tenants), faults: faults)
        defer { try? lab.down() }
        return try body(lab)
    }
}

extension LabTopology {
    var mgmt4: IPAddress { management.dpuAddresses[0] }
    var mgmt6: IPAddress { management.dpuAddresses[1] }
    var data4: IPAddress { dataPlane.dpuAddresses[0] }
    var data6: IPAddress { dataPlane.dpuAddresses[1] }
    var dataLinkLocal: IPAddress { dataPlane.dpuAddresses[2] }
    var controlPort: UInt16 { agent(.dpu)!.control[0].port }
}

/// Runs requests from one site and pairs each with its result, for readable failures.
func probe(_ requests: [ProbeRequest], from site: ProbeSite) throws -> [ProbeResult] {
    try Prober.run(requests, from: site)
}
