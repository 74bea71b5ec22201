import Profiles

/// The network faults' shaping of the DPU's uplinks (toward the peer): a token bucket
/// for `net-rate-limit` (on every uplink) and `net-vf-unfair` (on tenant 1's), a slow
/// class for small TCP packets for `net-latency` (the kernel here has no netem: delay
/// is a queue behind a low rate), random drops of UDP for `net-loss`, and the segment
/// size clamp that keeps TCP working across `net-mtu-clamp`'s smaller uplinks; each
/// aimed so that it breaks its own network check and no other.
enum LabTraffic {
    /// Well under the emulated profile's 1 Gbit/s TCP minimum, and three times its
    /// 0.2 Gbit/s UDP rate, so the UDP check still passes under it.
    static let rateLimit = "600mbit"
    /// A 64-byte request (about 120 bytes on the wire) waits about 15 ms for its tokens.
    static let smallPacketRate = "64kbit"
    /// What counts as a small TCP packet (bytes from the IP header on).
    static let smallPacketLength = 256
    /// Dropped UDP datagrams per thousand.
    static let lossPerMille = 20
    /// The htb class small TCP packets are put in (`meta priority`).
    static let slowClass = "1:20"
    /// Tenant 1's share under `net-vf-unfair`: over the emulated profile's 1 Gbit/s
    /// minimum, so each VF alone still passes, far under what the other VF gets beside it.
    static let unfairRate = "1200mbit"

    /// The MTU of the uplinks under `net-mtu-clamp` and of the host PF under
    /// `net-host-mtu`: Ethernet's standard under a jumbo MTU, else IPv6's minimum (a lab
    /// at that minimum has nothing smaller to fall to, and refuses those faults).
    static func reducedMTU(below mtu: Int) -> Int { mtu > 1500 ? 1500 : Profile.NetworkRequirements.mtuRange.lowerBound }

    /// The `tc` commands (each run in the DPU's namespace) for `faults` on `uplinks`: one
    /// root qdisc per uplink at most, the first fault in this order that shapes it.
    static func shaping(_ faults: Set<LabFault>, uplinks: [String]) -> [[String]] {
        uplinks.flatMap { uplink -> [[String]] in
            func tokenBucket(_ rate: String, burst: String) -> [[String]] {
                [["tc", "qdisc", "add", "dev", uplink, "root", "tbf", "rate", rate, "burst", burst, "latency", "50ms"]]
            }
            if faults.contains(.netRateLimit) { return tokenBucket(rateLimit, burst: "256kb") }
            if faults.contains(.netLatency) {
                return [["tc", "qdisc", "add", "dev", uplink, "root", "handle", "1:", "htb", "default", "10"],
                        ["tc", "class", "add", "dev", uplink, "parent", "1:", "classid", "1:10", "htb", "rate", "100gbit",
                         "quantum", "60000"],
                        ["tc", "class", "add", "dev", uplink, "parent", "1:", "classid", slowClass, "htb", "rate", smallPacketRate,
                         "ceil", smallPacketRate, "burst", "1600", "cburst", "1600", "quantum", "1514"]]
            }
            if faults.contains(.netVFUnfair) && uplink == LabAddressPlan.dpuTenantUplink(1) { return tokenBucket(unfairRate, burst: "1mb") }
            return []
        }
    }

    /// Bridge-family rules (forward hook) for `faults` on `uplinks`: what leaves toward the
    /// peer is dropped (`net-loss`) or steered into the slow class (`net-latency`).
    static func bridgeRules(_ faults: Set<LabFault>, uplinks: [String], mtu: Int) -> [String] {
        let out = "oifname { " + uplinks.map { "\"\($0)\"" }.joined(separator: ", ") + " }"
        var rules: [String] = []
        if faults.contains(.netLoss) {
            rules.append("\(out) meta l4proto udp numgen random mod 1000 < \(lossPerMille) drop")
        }
        if faults.contains(.netLatency) {
            rules.append("\(out) meta l4proto tcp meta length < \(smallPacketLength) meta priority set \(slowClass)")
        }
        if faults.contains(.netMTUClamp) {
            // Both ways: the segment size fits the clamped uplink over IPv6 (60 bytes of headers) too.
            rules.append("meta l4proto tcp tcp flags & syn == syn tcp option maxseg size set \(reducedMTU(below: mtu) - 60)")
        }
        return rules
    }
}
