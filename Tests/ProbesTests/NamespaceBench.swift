import Foundation
import Synchronization
import Systems
import Testing

/// Two namespaces joined by a veth pair, for probing real kernels:
/// `a` (va: 198.18.200.1/24, 2001:db8:200::1/64) probes `b` (vb: .2 and ::2, plus
/// 198.18.200.3 whose echo requests are dropped). In `b`: TCP listener on 8080, UDP
/// echo on 7, nothing on 8081/UDP 11, TCP 10 rejected with ICMP admin-prohibited,
/// TCP/UDP 9 dropped and counted (`inet bench` counter `dropped`).
final class NamespaceBench {
    let a: String
    let b: String
    let listener: Socket
    let echo: Socket
    private let echoThreadDone = DispatchSemaphore(value: 0)

    static let bAddress = IPAddress("198.18.200.2")!
    static let bSilentAddress = IPAddress("198.18.200.3")!
    static let bAddress6 = IPAddress("2001:db8:200::2")!

    init() throws {
        let prefix = "p" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
        a = prefix + "-a"
        b = prefix + "-b"
        for namespace in [a, b] {
            try CommandRunner.run(["ip", "netns", "add", namespace])
            try CommandRunner.run(["ip", "netns", "exec", namespace, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
                                   "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.router_solicitations=0"])
        }
        try CommandRunner.run(["ip", "-n", a, "-batch", "-"], input: """
            link set lo up
            link add va type veth peer name vb netns \(b)
            link set va up
            address add 198.18.200.1/24 dev va
            address add 2001:db8:200::1/64 dev va

            """)
        try CommandRunner.run(["ip", "-n", b, "-batch", "-"], input: """
            link set lo up
            link set vb up
            address add 198.18.200.2/24 dev vb
            address add 198.18.200.3/24 dev vb
            address add 2001:db8:200::2/64 dev vb

            """)
        try CommandRunner.run(["ip", "netns", "exec", b, "nft", "-f", "-"], input: """
            table inet bench {
                counter dropped { }
                chain input {
                    type filter hook input priority 0; policy accept;
                    tcp dport 9 counter name dropped drop
                    udp dport 9 counter name dropped drop
                    ip daddr 198.18.200.3 icmp type echo-request drop
                    tcp dport 10 reject with icmpx type admin-prohibited
                }
            }

            """)
        listener = try NetworkNamespace.run(in: .namespace(b)) {
            let socket = try Socket(family: .ipv4, type: Int32(SOCK_STREAM.rawValue), label: "bench listener")
            try socket.setReuseAddress()
            try socket.bind(SocketEndpoint(NamespaceBench.bAddress, 8080))
            try socket.listen()
            return socket
        }
        echo = try NetworkNamespace.run(in: .namespace(b)) {
            let socket = try Socket(family: .ipv4, type: Int32(SOCK_DGRAM.rawValue), label: "bench echo")
            try socket.bind(SocketEndpoint(NamespaceBench.bAddress, 7))
            return socket
        }
        let echo = echo, done = echoThreadDone
        Thread.detachNewThread {
            let end = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < end, echo.descriptor >= 0 {
                guard (try? echo.waitReadable(timeout: .milliseconds(100))) == true,
                      let (bytes, sender) = try? echo.receiveFrom(), let sender else { continue }
                _ = try? echo.send(bytes, to: sender)
            }
            done.signal()
        }
    }

    func tearDown() {
        listener.close()
        echo.close()
        _ = echoThreadDone.wait(timeout: .now() + 2)
        for namespace in [a, b] { _ = try? CommandRunner.run(["ip", "netns", "delete", namespace]) }
    }

    var siteA: ProbeSite { .namespace(a) }

    /// The MAC and link-local address of `vb`.
    func peerLink() throws -> (mac: String, linkLocal: IPAddress) {
        struct Link: Decodable {
            struct Address: Decodable { var local: String; var scope: String }
            var address: String
            var addr_info: [Address]
        }
        let json = try CommandRunner.run(["ip", "-n", b, "-j", "address", "show", "dev", "vb"]).standardOutput
        let link = try #require(try JSONDecoder().decode([Link].self, from: Data(json.utf8)).first)
        let local = try #require(link.addr_info.first { $0.scope == "link" && $0.local.hasPrefix("fe80") })
        return (link.address, try #require(IPAddress(local.local + "%va")))
    }

    /// Runs `body` with a fresh bench, always tearing it down.
    static func with<Result>(_ body: (NamespaceBench) throws -> Result) throws -> Result {
        let bench = try NamespaceBench()
        defer { bench.tearDown() }
        return try body(bench)
    }
}
