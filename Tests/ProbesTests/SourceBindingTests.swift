import Glibc
import Probes
import Systems
import TestGates
import Testing

extension Requirement {
    /// Raw ICMP sockets (echo probes): root or CAP_NET_RAW.
    static let rawSockets = Requirement(name: "raw ICMP sockets", remedy: "run the tests as root (CAP_NET_RAW)") {
        do {
            try Socket(family: .ipv4, type: Int32(SOCK_RAW.rawValue), protocol: Int32(IPPROTO_ICMP), label: "raw socket check").close()
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// A TCP listener or UDP socket on a loopback address that tells where traffic came from.
struct LoopbackReceiver {
    /// A loopback address of its own, so scans of 127.0.0.1 elsewhere in the test run
    /// never reach a receiver first.
    static let address = IPAddress("127.0.0.7")!

    let transport: TransportProtocol
    let socket: Socket
    let endpoint: SocketEndpoint

    init(_ transport: TransportProtocol, on address: IPAddress = LoopbackReceiver.address) throws {
        self.transport = transport
        socket = try Socket(family: address.family, type: Int32((transport == .tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue),
                            label: "loopback \(transport) receiver")
        if address.family == .ipv6 { try socket.setIPv6Only() }
        try socket.bind(SocketEndpoint(address, 0))
        if transport == .tcp { try socket.listen() }
        endpoint = try #require(try socket.localEndpoint())
    }

    /// The address the first connection or datagram came from; nil when none came within 2 s.
    func sender() throws -> IPAddress? {
        guard try socket.waitReadable(timeout: .seconds(2)) else { return nil }
        switch transport {
        case .tcp: return try socket.accept(label: "accepted probe").1?.address
        case .udp: return try socket.receiveFrom().1?.address
        }
    }
}

@Suite("Probes leave from the source address they are given", .serialized)
struct SourceBindingTests {
    static let source = IPAddress("127.0.0.9")!

    @Test("TCP and UDP probes bind to the source of their family", arguments: TransportProtocol.allCases)
    func boundSource(transport: TransportProtocol) throws {
        let receiver = try LoopbackReceiver(transport)
        let request: ProbeRequest = transport == .tcp ? .tcp(receiver.endpoint) : .udp(receiver.endpoint, timeout: .milliseconds(100))
        _ = try Prober.run([request], from: .current, sources: [IPAddress("::1")!, Self.source])
        #expect(try receiver.sender() == Self.source)
    }

    @Test("Without a source of the destination's family the route picks it")
    func otherFamilyIgnored() throws {
        let receiver = try LoopbackReceiver(.tcp)
        let result = try Prober.run(.tcp(receiver.endpoint), from: .current, sources: [IPAddress("::1")!])
        #expect(result.outcome == .open)
        // The preferred source of the loopback route (`local 127.0.0.0/8 dev lo ... src 127.0.0.1`).
        #expect(try receiver.sender() == IPAddress("127.0.0.1"))
    }

    @Test("IPv6 probes bind to an IPv6 source")
    func ipv6Source() throws {
        let receiver = try LoopbackReceiver(.tcp, on: IPAddress("::1")!)
        #expect(try Prober.run(.tcp(receiver.endpoint), from: .current, sources: [Self.source, IPAddress("::1")!]).outcome == .open)
        #expect(try receiver.sender() == IPAddress("::1"))
    }

    @Test("A scan's connects leave from the source")
    func scanSource() throws {
        let receiver = try LoopbackReceiver(.tcp)
        let port = receiver.endpoint.port
        let result = try Prober.scanTCP(receiver.endpoint.address, ports: port...port, from: .current, sources: [Self.source])
        #expect(result.open == [port])
        #expect(try receiver.sender() == Self.source)
    }

    @Test("A source this machine lacks is an error naming the address and errno, not an outcome")
    func missingSource() throws {
        let receiver = try LoopbackReceiver(.tcp)
        let absent = IPAddress("192.0.2.77")!
        for probe in [{ _ = try Prober.run(.tcp(receiver.endpoint), from: .current, sources: [absent]) },
                      { _ = try Prober.scanTCP(receiver.endpoint.address, ports: 1...2, from: .current, sources: [absent]) }] {
            #expect(performing: probe, throws: { error in
                let text = String(describing: error)
                return error is SystemCallError && text.contains("192.0.2.77") && text.contains("EADDRNOTAVAIL")
            })
        }
    }

    @Test("Two sources of one family are refused")
    func conflictingSources() {
        let sources = [Self.source, IPAddress("127.0.0.10")!]
        #expect(Prober.sourceConflict(in: sources) == "at most one source address per family, found 127.0.0.9 and 127.0.0.10")
        #expect(Prober.sourceConflict(in: [Self.source, IPAddress("::1")!]) == nil)
        #expect(throws: ProbeError.self) { try Prober.run([.icmpEcho(Self.source)], from: .current, sources: sources) }
    }

    @Test("Echo requests leave from the source", .requires(.rawSockets))
    func echoSource() throws {
        let results = try Prober.run([.icmpEcho(IPAddress("127.0.0.1")!), .icmpEcho(IPAddress("::1")!)], from: .current,
                                     sources: [Self.source, IPAddress("::1")!])
        #expect(results.map(\.outcome) == [.open, .open])
        #expect(throws: SystemCallError.self) {
            try Prober.run(.icmpEcho(IPAddress("127.0.0.1")!), from: .current, sources: [IPAddress("192.0.2.77")!])
        }
    }
}
