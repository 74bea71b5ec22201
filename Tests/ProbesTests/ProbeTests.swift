import Foundation
import Probes
import Systems
import TestGates
import Testing

@Suite("Probes against a real kernel", .serialized, .requires(.networkNamespaces))
struct ProbeTests {
    @Test("TCP connect: open, RST, ICMP refusal, drop and no route are told apart")
    func tcp() throws {
        try NamespaceBench.with { bench in
            let b = NamespaceBench.bAddress
            let results = try Prober.run([
                .tcp(SocketEndpoint(b, 8080)),
                .tcp(SocketEndpoint(b, 8081)),
                .tcp(SocketEndpoint(b, 10)),
                .tcp(SocketEndpoint(b, 9), timeout: .milliseconds(300)),
                .tcp(SocketEndpoint(IPAddress("192.0.2.1")!, 80)),
            ], from: bench.siteA)
            #expect(results.map(\.outcome) == [.open, .answeredClosed, .answeredClosed, .dropped, .notSent])
            #expect(results[1].detail == "connection refused (RST)")
            #expect(results[2].detail.contains("administratively prohibited"))
            #expect(results[2].answeredBy == b.description)
            #expect(results[3].elapsed >= .milliseconds(300))
            #expect(results[4].detail.contains("ENETUNREACH"))
            #expect(results.allSatisfy { $0.site == bench.siteA })
            #expect(results[3].description.hasPrefix("from netns \(bench.a): tcp connect 198.18.200.2:9, timeout 300 ms → dropped"))
        }
    }

    @Test("UDP: a reply is open, port unreachable is answered-closed, silence is dropped")
    func udp() throws {
        try NamespaceBench.with { bench in
            let b = NamespaceBench.bAddress
            let results = try Prober.run([
                .udp(SocketEndpoint(b, 7)),
                .udp(SocketEndpoint(b, 11)),
                .udp(SocketEndpoint(b, 9), timeout: .milliseconds(300)),
            ], from: bench.siteA)
            #expect(results.map(\.outcome) == [.open, .answeredClosed, .dropped])
            #expect(results[0].detail.contains("dpucert-probe"))
            #expect(results[1].detail == "ICMP destination unreachable: port unreachable")
            #expect(results[1].answeredBy == b.description)
        }
    }

    @Test("ICMP echo over IPv4, IPv6 and link-local; dropped echo is silent")
    func icmp() throws {
        try NamespaceBench.with { bench in
            let linkLocal = try bench.peerLink().linkLocal
            let results = try Prober.run([
                .icmpEcho(NamespaceBench.bAddress),
                .icmpEcho(NamespaceBench.bAddress6),
                .icmpEcho(linkLocal),
                .icmpEcho(NamespaceBench.bSilentAddress, timeout: .milliseconds(300)),
            ], from: bench.siteA)
            #expect(results.map(\.outcome) == [.open, .open, .open, .dropped])
            #expect(results[2].answeredBy == linkLocal.description)
        }
    }

    @Test("ARP and NDP resolve present neighbours with their MAC and not absent ones")
    func neighbours() throws {
        try NamespaceBench.with { bench in
            let mac = try bench.peerLink().mac
            let results = try Prober.run([
                .arp(NamespaceBench.bAddress, on: "va"),
                .arp(IPAddress("198.18.200.9")!, on: "va", timeout: .milliseconds(300)),
                .ndp(NamespaceBench.bAddress6, on: "va"),
                .ndp(IPAddress("2001:db8:200::9")!, on: "va", timeout: .milliseconds(300)),
                .arp(NamespaceBench.bAddress, on: "nosuch0"),
            ], from: bench.siteA)
            #expect(results.map(\.outcome) == [.open, .dropped, .open, .dropped, .notSent])
            #expect(results[0].answeredBy == mac)
            #expect(results[2].answeredBy == mac)
        }
    }

    @Test("All-nodes echo finds the neighbour's link-local address")
    func multicastNeighbours() throws {
        try NamespaceBench.with { bench in
            let found = try Prober.discoverLinkNeighbours(on: "va", from: bench.siteA)
            #expect(found.responders == [try bench.peerLink().linkLocal])
        }
    }

    @Test("Port scan finds exactly the listener and counts drops and refusals")
    func scan() throws {
        try NamespaceBench.with { bench in
            let result = try Prober.scanTCP(NamespaceBench.bAddress, ports: 1...9000, from: bench.siteA)
            #expect(result.open == [8080])
            #expect(result.droppedCount == 1)
            #expect(result.answeredClosed.count == 8998)
            #expect(result.answeredClosed.contains(10) && result.answeredClosed.contains(8081))
        }
    }

    @Test("A full scan of a silent address is bounded by window and timeout")
    func fullScanTiming() throws {
        try NamespaceBench.with { bench in
            // Every port of .3 answers except 9 (dropped); drop all of them to measure the worst case.
            try CommandRunner.run(["ip", "netns", "exec", bench.b, "nft", "insert", "rule", "inet", "bench", "input",
                                   "ip", "daddr", "198.18.200.3", "drop"])
            let options = PortScanOptions(window: 8192, timeout: .milliseconds(300))
            let result = try Prober.scanTCP(NamespaceBench.bSilentAddress, from: bench.siteA, options: options)
            #expect(result.droppedCount == 65535)
            #expect(result.open.isEmpty)
            // 8 windows × 300 ms, plus socket set-up: seconds, not minutes.
            #expect(result.elapsed < .seconds(8), "full scan took \(result.elapsed)")
        }
    }

    @Test("Listening sockets and firewall counters are read inside a namespace")
    func namespaceState() throws {
        try NamespaceBench.with { bench in
            let sockets = try Prober.listeningSockets(at: .namespace(bench.b))
            // Each with the process holding it: this one.
            let owner = "[\(getpid())]"
            #expect(sockets.map(\.description).contains { $0.hasPrefix("tcp \(NamespaceBench.bAddress):8080 (") && $0.hasSuffix("\(owner))") })
            #expect(sockets.map(\.description).contains { $0.hasPrefix("udp \(NamespaceBench.bAddress):7 (") && $0.hasSuffix("\(owner))") })
            let location = FirewallLocation(site: .namespace(bench.b), family: "inet", table: "bench")
            let before = try #require(try FirewallCounters.read(location)["dropped"])
            _ = try Prober.run([.tcp(SocketEndpoint(NamespaceBench.bAddress, 9), timeout: .milliseconds(200)),
                                .udp(SocketEndpoint(NamespaceBench.bAddress, 9), timeout: .milliseconds(200))], from: bench.siteA)
            let after = try #require(try FirewallCounters.read(location)["dropped"])
            #expect(after.packets >= before.packets + 2)
        }
    }

    @Test("Entering a namespace that does not exist is an error, not an outcome")
    func missingNamespace() {
        #expect(throws: SystemCallError.self) {
            try Prober.run(.tcp(SocketEndpoint(NamespaceBench.bAddress, 80)), from: .namespace("dpucert-no-such-namespace"))
        }
    }
}
