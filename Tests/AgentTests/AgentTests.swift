@testable import Agent
import Foundation
import Glibc
import Probes
import Systems
import Testing

/// A token file in a fresh temporary directory.
private func tokenFile(_ token: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-agent-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("token").path
    try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite("Agent configuration and token")
struct AgentConfigurationTests {
    @Test("Tokens match only exactly")
    func tokenComparison() {
        let token = AgentToken(bytes: Array("0123456789abcdef0123".utf8))
        #expect(token.matches(Array("0123456789abcdef0123".utf8)))
        #expect(!token.matches(Array("0123456789abcdef012".utf8)))
        #expect(!token.matches(Array("0123456789abcdef01234".utf8)))
        #expect(!token.matches(Array("1123456789abcdef0123".utf8)))
        #expect(!token.matches([]))
    }

    @Test("Token files must hold one token of at least 16 characters")
    func tokenFiles() throws {
        #expect(try AgentToken.load(from: tokenFile("  0123456789abcdef  ")).bytes == Array("0123456789abcdef".utf8))
        #expect(throws: AgentError.self) { try AgentToken.load(from: tokenFile("short")) }
        #expect(throws: AgentError.self) { try AgentToken.load(from: tokenFile("0123456789 abcdef")) }
        #expect(throws: AgentError.self) { try AgentToken.load(from: "/nonexistent/dpucert/token") }
    }

    @Test("Command-line arguments round-trip")
    func commandLine() throws {
        let configuration = AgentConfiguration(
            controlEndpoints: [SocketEndpoint("198.18.0.2:7471")!, SocketEndpoint("[2001:db8:1::2]:7471")!],
            tokenFile: "/run/dpucert/labs/t1.token",
            services: [ManagementService("ssh@198.19.0.2:22")!, ManagementService("rmcp@[fe80::1%oob_net0]:623")!])
        #expect(try AgentConfiguration(commandLine: configuration.commandLineArguments) == configuration)
        var sourced = configuration
        sourced.probeSources = [IPAddress("198.18.0.2")!, IPAddress("2001:db8:1::2")!]
        #expect(try AgentConfiguration(commandLine: sourced.commandLineArguments) == sourced)
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen", "nowhere"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--token-file", "/x"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen", "127.0.0.1:1", "--serve", "telnet@127.0.0.1:23"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen", "127.0.0.1:1", "--probe-source", "eth0"]) }
        #expect {
            try AgentConfiguration(commandLine: ["--listen", "127.0.0.1:1", "--probe-source", "10.0.0.1", "--probe-source", "10.0.0.2"])
        } throws: { error in
            String(describing: error) == "--probe-source: at most one source address per family, found 10.0.0.1 and 10.0.0.2"
        }
    }

    @Test("An agent with two probe sources of one family does not start")
    func conflictingProbeSources() throws {
        let configuration = AgentConfiguration(controlEndpoints: [SocketEndpoint("127.0.0.1:0")!], tokenFile: try tokenFile(LoopbackAgent.token),
                                               probeSources: [IPAddress("127.0.0.9")!, IPAddress("127.0.0.10")!])
        #expect(throws: AgentError.self) { try AgentServer(configuration: configuration) }
    }

    @Test("Management ports map to the services they usually carry", arguments: [
        (TransportProtocol.tcp, UInt16(22), ManagementServiceKind.ssh), (.tcp, 443, .http), (.tcp, 80, .http),
        (.udp, 623, .rmcp), (.tcp, 830, .tcp), (.udp, 161, .udp),
    ])
    func wellKnown(transport: TransportProtocol, port: UInt16, kind: ManagementServiceKind) {
        #expect(ManagementServiceKind.wellKnown(transport: transport, port: port) == kind)
        #expect(kind.transport == transport)
    }
}

/// An agent running in this process on loopback, with every service on a free port.
private final class LoopbackAgent {
    static let token = "loopback-token-0123456789"
    let server: AgentServer
    let tokenPath: String

    init(probeSources: [IPAddress] = []) throws {
        tokenPath = try tokenFile(Self.token)
        let loopback = IPAddress("127.0.0.1")!
        server = try AgentServer(configuration: AgentConfiguration(
            controlEndpoints: [SocketEndpoint(loopback, 0), SocketEndpoint(IPAddress("::1")!, 0)],
            tokenFile: tokenPath,
            services: [.ssh, .http, .rmcp, .tcp, .udp].map { ManagementService(kind: $0, endpoint: SocketEndpoint(loopback, 0)) },
            probeSources: probeSources))
        try server.start()
    }

    var control: SocketEndpoint { server.controlEndpoints[0] }

    /// How this side names the site of the agent's probes.
    var site: ProbeSite { .agent(control) }

    func connect() throws -> AgentClient {
        try AgentClient.connect(to: control, token: Self.token)
    }

    func service(_ kind: ManagementServiceKind) throws -> SocketEndpoint {
        try #require(server.services.first { $0.kind == kind }).endpoint
    }

    static func with(probeSources: [IPAddress] = [], _ body: (LoopbackAgent) throws -> Void) throws {
        let agent = try LoopbackAgent(probeSources: probeSources)
        defer { agent.server.stop() }
        try body(agent)
    }
}

/// A TCP listener on `address` (a loopback address of the test's own, so that no other
/// test's scan or probe connects to it), on a free port.
private func loopbackListener(on address: String) throws -> (socket: Socket, endpoint: SocketEndpoint) {
    let socket = try Socket(family: .ipv4, type: Int32(SOCK_STREAM.rawValue), label: "test listener on \(address)")
    try socket.bind(SocketEndpoint(try #require(IPAddress(address)), 0))
    try socket.listen()
    return (socket, try #require(try socket.localEndpoint()))
}

/// A loopback TCP port nothing listens on (bound once for a free number, then closed).
private func closedLoopbackPort() throws -> SocketEndpoint {
    let socket = try Socket(family: .ipv4, type: Int32(SOCK_STREAM.rawValue), label: "free port")
    defer { socket.close() }
    try socket.bind(SocketEndpoint(IPAddress("127.0.0.1")!, 0))
    return try #require(try socket.localEndpoint())
}

/// Connects a plain TCP socket (blocking reads with a timeout through LineChannel).
private func rawConnection(_ endpoint: SocketEndpoint) throws -> LineChannel {
    let socket = try Socket(family: endpoint.address.family, type: Int32(SOCK_STREAM.rawValue), label: "test client")
    _ = try socket.connect(endpoint)
    return LineChannel(socket)
}

@Suite("Agent server on loopback", .serialized)
struct AgentServerTests {
    @Test("The right token is accepted and the wrong one refused")
    func authentication() throws {
        try LoopbackAgent.with { agent in
            let client = try AgentClient.connect(to: agent.control, token: LoopbackAgent.token)
            try client.ping()
            client.close()
            let v6 = try AgentClient.connect(to: agent.server.controlEndpoints[1], tokenFile: agent.tokenPath)
            try v6.ping()
            #expect {
                try AgentClient.connect(to: agent.control, token: "loopback-token-0123456788")
            } throws: { error in
                String(describing: error).contains("ERR authentication failed")
            }
        }
    }

    @Test("Commands before authentication end the session")
    func authenticationRequired() throws {
        try LoopbackAgent.with { agent in
            let channel = try rawConnection(agent.control)
            #expect(try channel.readLine(timeout: .seconds(2)) == ControlProtocol.greeting)
            try channel.writeLine("PING")
            #expect(try channel.readLine(timeout: .seconds(2)) == "ERR authentication required")
            #expect(throws: LineChannel.ReadError.closed) { try channel.readLine(timeout: .seconds(2)) }
        }
    }

    @Test("Unknown commands are answered with an error and the session goes on")
    func unknownCommand() throws {
        try LoopbackAgent.with { agent in
            let client = try AgentClient.connect(to: agent.control, token: LoopbackAgent.token)
            #expect(try client.exchange("REBOOT now").hasPrefix("ERR unknown command"))
            #expect(try client.exchange("ECHO-TCP notaport").hasPrefix("ERR expected a port"))
            #expect(try client.exchange("COUNTERS inet bad;name").hasPrefix("ERR family and table"))
            try client.ping()
        }
    }

    @Test("RDMA commands: malformed ones and ones before a responder are refused; where the kernel has no RDMA, the responder says so")
    func rdmaRefusals() throws {
        try LoopbackAgent.with { agent in
            let client = try AgentClient.connect(to: agent.control, token: LoopbackAgent.token)
            #expect(try client.exchange("RDMA-RESPONDER not-an-address").hasPrefix("ERR expected RDMA-RESPONDER <address>"))
            #expect(try client.exchange("RDMA-REGISTER 0 4096 remote-write").hasPrefix("ERR no RDMA responder"))
            let started = try client.exchange("RDMA-RESPONDER 127.0.0.1")
            if !FileManager.default.fileExists(atPath: "/sys/class/infiniband") {
                #expect(started.hasPrefix("ERR") && started.contains("no RDMA subsystem"), "\(started)")
            }
            try client.ping()
        }
    }

    @Test("Echo peers start on the session's address and echo")
    func echoPeers() throws {
        try LoopbackAgent.with { agent in
            let client = try AgentClient.connect(to: agent.control, token: LoopbackAgent.token)
            let tcp = try client.startEcho(.tcp, port: 0)
            #expect(tcp.address == agent.control.address && tcp.port != 0)
            let channel = try rawConnection(tcp)
            try channel.writeLine("hello echo")
            #expect(try channel.readLine(timeout: .seconds(2)) == "hello echo")
            let udp = try client.startEcho(.udp, port: 0)
            let reply = try Prober.run(.udp(udp, payload: UDPPayload(name: "text", bytes: Array("ping-udp".utf8))), from: .current)
            #expect(reply.outcome == .open)
            #expect(reply.detail.contains("\"ping-udp\""))
            let listening = try client.listeningSockets()
            let seen = Set(listening.map { "\($0.transport) \($0.endpoint)" })
            #expect(seen.isSuperset(of: ["tcp \(tcp)", "udp \(udp)", "tcp \(agent.control)"]))
            // The agent holds its sockets, and the DPU's view names it.
            let owner = listening.first { $0.transport == .tcp && $0.endpoint == agent.control }?.owner
            #expect(owner?.hasSuffix("]") == true, "\(String(describing: owner))")
        }
    }

    @Test("Management services: SSH banner, Redfish root, RMCP pong, plain TCP and UDP")
    func services() throws {
        try LoopbackAgent.with { agent in
            let ssh = try Prober.run(.tcp(agent.service(.ssh), readsBanner: true), from: .current)
            #expect(ssh.outcome == .open)
            #expect(ssh.detail.contains("SSH-2.0-dpucert_emulated_dpu"))

            let http = try rawConnection(agent.service(.http))
            try http.writeLine("GET /redfish/v1 HTTP/1.1\r\nHost: dpu\r\n\r")
            #expect(try http.readLine(timeout: .seconds(2)) == "HTTP/1.1 200 OK")
            var lines: [String] = []
            while let line = try? http.readLine(timeout: .seconds(2)) { lines.append(line) }
            let body = try #require(lines.last)
            let root = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(root?["RedfishVersion"] as? String == "1.15.0")
            let missing = try rawConnection(agent.service(.http))
            try missing.writeLine("GET /admin HTTP/1.1\r\n\r")
            #expect(try missing.readLine(timeout: .seconds(2)) == "HTTP/1.1 404 Not Found")

            let rmcp = try agent.service(.rmcp)
            let socket = try Socket(family: .ipv4, type: Int32(SOCK_DGRAM.rawValue), label: "rmcp test")
            try socket.send(RMCP.presencePing(tag: 7), to: rmcp)
            #expect(try socket.waitReadable(timeout: .seconds(2)))
            let pong = try socket.receive()
            #expect(RMCP.isPresencePong(pong) && pong[9] == 7)

            let results = try Prober.run([.tcp(agent.service(.tcp)), .udp(agent.service(.udp))], from: .current)
            #expect(results.map(\.outcome) == [.open, .open])
        }
    }

    @Test("A stopped agent no longer answers")
    func stop() throws {
        let agent = try LoopbackAgent()
        let control = agent.control
        try AgentClient.connect(to: control, token: LoopbackAgent.token).ping()
        agent.server.stop()
        let after = try Prober.run(.tcp(control), from: .current)
        #expect(after.outcome == .answeredClosed, "\(after)")
    }

    @Test("Binding an address this machine lacks is reported with the endpoint")
    func bindFailure() throws {
        let server = try AgentServer(configuration: AgentConfiguration(
            controlEndpoints: [SocketEndpoint("192.0.2.77:7471")!], tokenFile: tokenFile(LoopbackAgent.token)))
        #expect {
            try server.start()
        } throws: { error in
            let text = String(describing: error)
            // Whoever waits for the ready line `dpucert agent: control on ...` must not take this for it.
            return text.contains("192.0.2.77:7471") && text.contains("EADDRNOTAVAIL") && !text.hasPrefix("control on")
        }
    }
}

@Suite("Probes run by the agent over its control channel", .serialized)
struct AgentProbeTests {
    @Test("PROBE runs the requests on the agent and names the agent as their site")
    func probe() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            let requests: [ProbeRequest] = [.tcp(try agent.service(.ssh), readsBanner: true), .tcp(try closedLoopbackPort())]
            let results = try client.probe(requests)
            #expect(results.map(\.request) == requests)
            #expect(results.map(\.outcome) == [.open, .answeredClosed])
            #expect(results[0].detail.contains(ManagementServices.sshIdentification))
            #expect(results[1].detail == "connection refused (RST)")
            #expect(results.allSatisfy { $0.site == agent.site })
            #expect(results[1].description.hasPrefix("from agent \(agent.control): tcp connect"))
            #expect(try client.probe([]).isEmpty)
        }
    }

    @Test("PROBE lines far longer than the pre-authentication limit carry")
    func longProbeLine() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            let closed = try closedLoopbackPort()
            let requests = Array(repeating: ProbeRequest.tcp(closed, timeout: .milliseconds(500)), count: 300)
            let results = try client.probe(requests)
            #expect(results.count == 300 && results.allSatisfy { $0.outcome == .answeredClosed && $0.site == agent.site })
        }
    }

    @Test("SCAN-TCP scans a port range from the agent, all 65535 ports in one answer")
    func scan() throws {
        let listener = try loopbackListener(on: "127.0.0.6")
        defer { listener.socket.close() }
        let open = listener.endpoint.port
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            for ports in [max(1, open - 3)...min(UInt16.max, open + 3), 1...UInt16.max] {
                let result = try client.scanTCP(listener.endpoint.address, ports: ports)
                #expect(result.site == agent.site)
                #expect(result.target == listener.endpoint.address && result.ports == ports)
                #expect(result.open.contains(open))
                #expect(result.open.count + result.answeredClosed.count + result.notSent.count + result.droppedCount == ports.count)
                #expect(result.description.hasPrefix("from agent \(agent.control): tcp connect scan 127.0.0.6"))
            }
        }
    }

    @Test("Traffic peers: a sink counts a throughput run, echo peers time round trips and datagrams; MEASURE runs on the agent")
    func traffic() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            let sink = try client.startTrafficPeer(.sinkTCP, port: 0)
            let shape = ThroughputOptions(streams: 2, warmUp: .milliseconds(200), duration: .milliseconds(600), interval: .milliseconds(200))
            let throughput = try Prober.measureTCPThroughput(to: sink, from: .current, options: shape)
            #expect(throughput.gbitPerSecond > 0 && throughput.bytes > 0 && throughput.bytes <= throughput.sentTotal)
            // The sink saw every byte the streams handed to the kernel.
            #expect(throughput.receivedTotal == throughput.sentTotal, "\(throughput)")
            #expect(throughput.intervals.count >= 3 && throughput.cpuSeconds > 0, "\(throughput)")
            #expect(throughput.path.target == sink && throughput.path.source != nil)

            let echo = try client.startTrafficPeer(.echoTCP, port: 0)
            let latency = try Prober.measureTCPLatency(to: echo, from: .current,
                                                       options: LatencyOptions(warmUpExchanges: 10, exchanges: 500))
            #expect(latency.exchanges == 500)
            let values = latency.summary.map(\.microseconds)
            #expect(latency.summary.map(\.percentile) == [50, 90, 99, 99.9, 100])
            #expect(values.first! > 0 && values == values.sorted(), "\(latency)")
            #expect(!latency.distribution.isEmpty && latency.distribution.map(\.microseconds) == latency.distribution.map(\.microseconds).sorted())

            let datagrams = try client.startTrafficPeer(.echoUDP, port: 0)
            let udp = try Prober.measureUDPRate(to: datagrams, from: .current,
                                                options: UDPRateOptions(gbitPerSecond: 0.02, duration: .milliseconds(500)))
            #expect(udp.sent > 400 && udp.loss < 0.05, "\(udp)")

            let remote = try client.measure(.tcpLatency(echo: echo, LatencyOptions(warmUpExchanges: 5, exchanges: 100)))
            guard case .tcpLatency(let onAgent) = remote else {
                Issue.record("expected a latency result, got \(remote)")
                return
            }
            #expect(onAgent.path.site == agent.site && onAgent.exchanges == 100)
            #expect(try client.exchange("MEASURE not-base64!").hasPrefix("ERR the payload is not base64"))

            // Peers end with the session that started them.
            client.close()
            let deadline = ContinuousClock.now + .seconds(2)
            var refused = false
            while !refused && ContinuousClock.now < deadline {
                refused = try Prober.run(.tcp(sink, timeout: .milliseconds(200)), from: .current).outcome == .answeredClosed
                if !refused { Thread.sleep(forTimeInterval: 0.1) }
            }
            #expect(refused, "the sink outlived its session")
        }
    }

    @Test("SWEEP-UDP sweeps a port range from the agent: a reply where a service answers, port-unreachable elsewhere")
    func sweep() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            let echo = try client.startEcho(.udp, port: 0)
            let ports = (echo.port - 3)...(echo.port + 3)
            let result = try client.sweepUDP(echo.address, ports: ports, options: UDPSweepOptions(packetsPerSecond: 1000))
            #expect(result.site == agent.site && result.ports == ports)
            #expect(result.answers(.reply).map(\.port) == [echo.port])
            // Loopback answers every closed port (no ICMP rate limit on loopback).
            #expect(result.answers(.portUnreachable).count == ports.count - 1)
            #expect(result.description.hasPrefix("from agent \(agent.control): udp sweep \(echo.address) ports \(ports.lowerBound)-"))
        }
    }

    @Test("NEIGHBOURS runs all-nodes echo on the agent's interface")
    func neighbours() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            let rawSocketsAllowed = (try? Socket(family: .ipv6, type: Int32(SOCK_RAW.rawValue), protocol: Int32(IPPROTO_ICMPV6),
                                                 label: "raw socket check")) != nil
            if rawSocketsAllowed {
                let result = try client.discoverLinkNeighbours(on: "lo")
                #expect(result.site == agent.site && result.interface == "lo")
            } else {
                #expect(throws: AgentError.self) { try client.discoverLinkNeighbours(on: "lo") }
            }
            #expect {
                try client.discoverLinkNeighbours(on: "no/such")
            } throws: { error in
                String(describing: error) == "agent \(agent.control): NEIGHBOURS refused: ERR expected an interface name, found no/such"
            }
            try client.ping()
        }
    }

    @Test("Malformed probe commands are refused and the session goes on")
    func malformed() throws {
        try LoopbackAgent.with { agent in
            let client = try agent.connect()
            defer { client.close() }
            #expect(try client.exchange("PROBE not-base64!").hasPrefix("ERR the payload is not base64"))
            #expect(try client.exchange("PROBE \(Data("{}".utf8).base64EncodedString())").hasPrefix("ERR "))
            #expect(try client.exchange("SCAN-TCP 127.0.0.1 20-10").hasPrefix("ERR expected a port range"))
            #expect(try client.exchange("SCAN-TCP localhost 1-10").hasPrefix("ERR expected an IP address"))
            #expect(try client.exchange("SWEEP-UDP 127.0.0.1 1-10 5").hasPrefix("ERR expected datagrams per second"))
            #expect(try client.exchange("SWEEP-UDP 127.0.0.1 10-1 1000").hasPrefix("ERR expected a port range"))
            let slow = Array(repeating: ProbeRequest.tcp(try closedLoopbackPort(), timeout: .seconds(60)), count: 64 * 11)
            #expect(throws: AgentError.self) { try client.probe(slow) }
            #expect(throws: AgentError.self) { try client.discoverLinkNeighbours(on: "lo\nQUIT") }
            try client.ping()
        }
    }

    @Test("A line over the pre-authentication limit ends the session before authentication")
    func oversizePreAuthentication() throws {
        try LoopbackAgent.with { agent in
            let channel = try rawConnection(agent.control)
            #expect(try channel.readLine(timeout: .seconds(2)) == ControlProtocol.greeting)
            try channel.writeLine("AUTH " + String(repeating: "x", count: ControlProtocol.maximumUnauthenticatedLineLength + 100))
            // The agent closes without a reply; the unread rest of the line turns the close into a reset.
            #expect {
                try channel.readLine(timeout: .seconds(2))
            } throws: { error in
                error as? LineChannel.ReadError == .closed || (error as? SystemCallError)?.code == ECONNRESET
            }
        }
    }

    @Test("The agent's probes leave from its probe source")
    func probeSource() throws {
        let source = IPAddress("127.0.0.9")!
        let listener = try loopbackListener(on: "127.0.0.8")
        defer { listener.socket.close() }
        try LoopbackAgent.with(probeSources: [source]) { agent in
            let client = try agent.connect()
            defer { client.close() }
            let result = try #require(try client.probe([.tcp(listener.endpoint)]).first)
            #expect(result.outcome == .open)
            #expect(try listener.socket.waitReadable(timeout: .seconds(2)))
            #expect(try listener.socket.accept(label: "probe from the agent").1?.address == source)
        }
    }

    @Test("A session is opened from this machine, not from another agent")
    func connectFromAgentSite() throws {
        try LoopbackAgent.with { agent in
            #expect {
                try AgentClient.connect(to: agent.control, from: agent.site, token: LoopbackAgent.token)
            } throws: { error in
                error is AgentError && String(describing: error).contains("not from another agent")
            }
        }
    }
}
