import Foundation
import Glibc
import Probes

/// An authenticated control session with an agent, opened from a probe site. One
/// command at a time; not for concurrent use.
public final class AgentClient {
    public let endpoint: SocketEndpoint
    public let site: ProbeSite
    private let channel: LineChannel
    private let timeout: Duration

    /// Connects from `site`, reads the greeting and authenticates with the token in `tokenFile`.
    public static func connect(to endpoint: SocketEndpoint, from site: ProbeSite = .current, tokenFile: String,
                               timeout: Duration = .seconds(3)) throws -> AgentClient {
        let token = try AgentToken.load(from: tokenFile)
        return try connect(to: endpoint, from: site, token: String(decoding: token.bytes, as: UTF8.self), timeout: timeout)
    }

    /// Connects from `site`, reads the greeting and authenticates with `token`.
    public static func connect(to endpoint: SocketEndpoint, from site: ProbeSite = .current, token: String,
                               timeout: Duration = .seconds(3)) throws -> AgentClient {
        let context = "agent \(endpoint) from \(site)"
        let socket = try NetworkNamespace.run(in: site) { () throws -> Socket in
            let socket = try Socket(family: endpoint.address.family,
                                    type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), label: context)
            if try !socket.connect(endpoint), try !socket.waitWritable(timeout: timeout) {
                throw AgentError(context, "no connection within \(timeout.evidenceText)")
            }
            let code = try socket.pendingError()
            if code != 0 { throw AgentError(context, "connect failed: \(String(cString: strerror(code)))") }
            return socket
        }
        let client = AgentClient(endpoint: endpoint, site: site, channel: LineChannel(socket), timeout: timeout)
        let greeting = try client.readLine()
        guard greeting == ControlProtocol.greeting else {
            throw AgentError(context, "expected greeting \"\(ControlProtocol.greeting)\", found \"\(greeting)\"")
        }
        let answer = try client.exchange("AUTH \(token)")
        guard answer == "OK authenticated" else { throw AgentError(context, "authentication refused: \(answer)") }
        return client
    }

    private init(endpoint: SocketEndpoint, site: ProbeSite, channel: LineChannel, timeout: Duration) {
        self.endpoint = endpoint
        self.site = site
        self.channel = channel
        self.timeout = timeout
    }

    deinit { channel.socket.close() }

    /// Sends one command line and returns the reply line.
    public func exchange(_ command: String) throws -> String {
        do {
            try channel.writeLine(command, timeout: timeout)
        } catch {
            throw AgentError("agent \(endpoint)", "sending \"\(command.split(separator: " ").first ?? "")\": \(error)")
        }
        return try readLine()
    }

    public func ping() throws {
        let reply = try exchange("PING")
        guard reply == "PONG" else { throw AgentError("agent \(endpoint)", "expected PONG, found \"\(reply)\"") }
    }

    /// The named counters of an nftables table on the agent's machine.
    public func counters(family: String, table: String) throws -> [String: FirewallCounter] {
        var counters: [String: FirewallCounter] = [:]
        for field in try okFields(exchange("COUNTERS \(family) \(table)")) {
            let parts = field.split(separator: "=")
            let numbers = parts.count == 2 ? parts[1].split(separator: "/") : []
            guard numbers.count == 2, let packets = UInt64(numbers[0]), let bytes = UInt64(numbers[1]) else {
                throw AgentError("agent \(endpoint)", "expected NAME=PACKETS/BYTES, found \"\(field)\"")
            }
            counters[String(parts[0])] = FirewallCounter(name: String(parts[0]), packets: packets, bytes: bytes)
        }
        return counters
    }

    /// Every listening socket on the agent's machine.
    public func listeningSockets() throws -> [ListeningSocket] {
        try okFields(exchange("LISTENING")).map { field in
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let transport = TransportProtocol(rawValue: String(parts[0])),
                  let endpoint = SocketEndpoint(String(parts[1])) else {
                throw AgentError("agent \(endpoint)", "expected PROTOCOL:ENDPOINT, found \"\(field)\"")
            }
            return ListeningSocket(transport: transport, endpoint: endpoint)
        }
    }

    /// Starts an echo peer on the address this session reached (`port` 0: any free port).
    public func startEcho(_ transport: TransportProtocol, port: UInt16) throws -> SocketEndpoint {
        let fields = try okFields(exchange("ECHO-\(transport.rawValue.uppercased()) \(port)"))
        guard fields.count == 1, let endpoint = SocketEndpoint(fields[0]) else {
            throw AgentError("agent \(endpoint)", "expected one endpoint, found \"\(fields.joined(separator: " "))\"")
        }
        return endpoint
    }

    /// Ends the session politely.
    public func close() {
        _ = try? exchange("QUIT")
        channel.socket.close()
    }

    private func readLine() throws -> String {
        do {
            return try channel.readLine(timeout: timeout)
        } catch LineChannel.ReadError.closed {
            throw AgentError("agent \(endpoint)", "connection closed by the agent")
        } catch {
            throw AgentError("agent \(endpoint)", "reading a reply: \(error)")
        }
    }

    private func okFields(_ reply: String) throws -> [String] {
        let words = reply.split(separator: " ").map(String.init)
        guard words.first == "OK" else { throw AgentError("agent \(endpoint)", "refused: \(reply)") }
        return Array(words.dropFirst())
    }
}
