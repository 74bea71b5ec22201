/// The network faults' shaping of the DPU's uplinks (toward the peer): a token bucket
/// for `net-rate-limit`, a slow class for small TCP packets for `net-latency` (the
/// kernel here has no netem: delay is a queue behind a low rate), and random drops of
/// UDP for `net-loss`, each aimed so that it breaks one network check only.
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

    /// The `tc` commands (each run in the DPU's namespace) for `faults` on `uplinks`.
    static func shaping(_ faults: Set<LabFault>, uplinks: [String]) -> [[String]] {
        uplinks.flatMap { uplink -> [[String]] in
            if faults.contains(.netRateLimit) {
                return [["tc", "qdisc", "add", "dev", uplink, "root", "tbf", "rate", rateLimit, "burst", "256kb", "latency", "50ms"]]
            }
            if faults.contains(.netLatency) {
                return [["tc", "qdisc", "add", "dev", uplink, "root", "handle", "1:", "htb", "default", "10"],
                        ["tc", "class", "add", "dev", uplink, "parent", "1:", "classid", "1:10", "htb", "rate", "100gbit",
                         "quantum", "60000"],
                        ["tc", "class", "add", "dev", uplink, "parent", "1:", "classid", slowClass, "htb", "rate", smallPacketRate,
                         "ceil", smallPacketRate, "burst", "1600", "cburst", "1600", "quantum", "1514"]]
            }
            return []
        }
    }

    /// Bridge-family rules (forward hook) for `faults` on `uplinks`: what leaves toward the
    /// peer is dropped (`net-loss`) or steered into the slow class (`net-latency`).
    static func bridgeRules(_ faults: Set<LabFault>, uplinks: [String]) -> [String] {
        let out = "oifname { " + uplinks.map { "\"\($0)\"" }.joined(separator: ", ") + " }"
        var rules: [String] = []
        if faults.contains(.netLoss) {
            rules.append("\(out) meta l4proto udp numgen random mod 1000 < \(lossPerMille) drop")
        }
        if faults.contains(.netLatency) {
            rules.append("\(out) meta l4proto tcp meta length < \(smallPacketLength) meta priority set \(slowClass)")
        }
        return rules
    }
}
