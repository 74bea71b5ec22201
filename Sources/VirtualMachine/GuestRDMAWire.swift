import Systems

/// The VM testbed's RDMA wire, inside the guest: a veth pair with a Soft-RoCE device
/// (the kernel's rdma_rxe) on each end, the host's end under test and the peer's end
/// where the guest's agent runs the responder. rxe in kernel 6.1 works only in the
/// initial network namespace, so both ends live there, and routing sends traffic
/// between their addresses across the pair instead of through loopback: policy rules
/// ahead of the `local` table for what the guest sends (`iif lo`), and for the lookup
/// the CM makes to check that a connect request's sender is reached through the port it
/// came in on (`oif`); neighbours are permanent, and each end accepts packets from the
/// other's local address.
public enum GuestRDMAWire {
    public static let hostInterface = "roce0"
    public static let peerInterface = "roce1"
    public static let hostDevice = "rxe0"
    public static let peerDevice = "rxe1"
    public static let hostAddress = IPAddress("198.19.250.1")!
    public static let peerAddress = IPAddress("198.19.250.2")!
    /// What `rdma-slow` limits each direction of the wire to.
    public static let slowRate = "2mbit"

    /// The guest's agent (the responder's control channel), as a run inside the guest reaches it.
    public static var peerControl: SocketEndpoint {
        SocketEndpoint(IPAddress(QEMUCommand.guestControlAddress)!, UInt16(QEMUCommand.guestAgentPort))
    }
    /// The agent's token, as a run inside the guest reads it.
    public static let peerTokenFile = GuestScripts.share + "/agent.token"

    /// The boot script's lines that lay the wire, with `faults` applied to it.
    static func setUp(faults: [VMFault]) -> String {
        let (host, peer) = (hostAddress.description, peerAddress.description)
        var lines = [
            "ip link add \(hostInterface) type veth peer name \(peerInterface) || exit 1",
            "ip addr add \(host)/30 dev \(hostInterface) noprefixroute && ip addr add \(peer)/30 dev \(peerInterface) noprefixroute || exit 1",
            "ip link set \(hostInterface) up && ip link set \(peerInterface) up || exit 1",
            // A veth hands each packet to the backlog of the receiving CPU: bursts of RDMA READ
            // responses must not overflow it (rxe recovers lost READ responses poorly).
            "echo 100000 > /proc/sys/net/core/netdev_max_backlog",
            "for conf in all \(hostInterface) \(peerInterface); do echo 0 > /proc/sys/net/ipv4/conf/$conf/rp_filter; done",
            "for conf in \(hostInterface) \(peerInterface); do echo 1 > /proc/sys/net/ipv4/conf/$conf/accept_local; done",
            "ip route add \(peer) dev \(hostInterface) src \(host) table 101 && ip route add \(host) dev \(peerInterface) src \(peer) table 102 || exit 1",
            "ip rule add pref 100 to \(peer) iif lo lookup 101 && ip rule add pref 101 to \(host) iif lo lookup 102 || exit 1",
            "ip rule add pref 102 to \(peer) oif \(hostInterface) lookup 101 && ip rule add pref 103 to \(host) oif \(peerInterface) lookup 102 || exit 1",
            "ip rule add pref 1000 lookup local && ip rule del pref 0 || exit 1",
            "ip neigh replace \(peer) lladdr $(cat /sys/class/net/\(peerInterface)/address) dev \(hostInterface) nud permanent || exit 1",
            "ip neigh replace \(host) lladdr $(cat /sys/class/net/\(hostInterface)/address) dev \(peerInterface) nud permanent || exit 1",
            "rdma link add \(hostDevice) type rxe netdev \(hostInterface) && rdma link add \(peerDevice) type rxe netdev \(peerInterface) || exit 1",
        ]
        if faults.contains(.rdmaSlow) {
            lines.append("tc qdisc add dev \(hostInterface) root netem rate \(slowRate) && tc qdisc add dev \(peerInterface) root netem rate \(slowRate) || exit 1")
        }
        if faults.contains(.rdmaPortDown) {
            lines.append("ip link set \(peerInterface) down || exit 1")
        }
        return lines.joined(separator: "\n")
    }
}
