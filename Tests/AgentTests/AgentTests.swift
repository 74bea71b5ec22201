@testable import Agent
import Foundation
import Probes
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
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen", "nowhere"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--token-file", "/x"]) }
        #expect(throws: AgentError.self) { try AgentConfiguration(commandLine: ["--listen", "127.0.0.1:1", "--serve", "telnet@127.0.0.1:23"]) }
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

    init() throws {
        tokenPath = try tokenFile(Self.token)
        let loopback = IPAddress("127.0.0.1")!
        server = try AgentServer(configuration: AgentConfiguration(
            controlEndpoints: [SocketEndpoint(loopback, 0), SocketEndpoint(IPAddress("::1")!, 0)],
            tokenFile: tokenPath,
            services: [.ssh, .http, .rmcp, .tcp, .udp].map { ManagementService(kind: $0, endpoint: SocketEndpoint(loopback, 0)) }))
        try server.start()
    }

    var control: SocketEndpoint { server.controlEndpoints[0] }

    func service(_ kind: ManagementServiceKind) throws -> SocketEndpoint {
        try #require(server.services.first { $0.kind == kind }).endpoint
    }

    static func with(_ body: (LoopbackAgent) throws -> Void) throws {
        let agent = try LoopbackAgent()
        defer { agent.server.stop() }
        try body(agent)
    }
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
            #expect(listening.contains(ListeningSocket(transport: .tcp, endpoint: tcp)))
            #expect(listening.contains(ListeningSocket(transport: .udp, endpoint: udp)))
            #expect(listening.contains(ListeningSocket(transport: .tcp, endpoint: agent.control)))
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
            String(describing: error).contains("192.0.2.77:7471") && String(describing: error).contains("EADDRNOTAVAIL")
        }
    }
}
