import Foundation
import Glibc
import Probes
import Systems

/// An authenticated control session with an agent, opened from a probe site on this
/// machine. One command at a time; not for concurrent use. Probe results it returns
/// name the agent (`ProbeSite.agent`) as the site they ran from.
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
        if case .agent = site {
            throw AgentError(context, "a session is opened from this machine or one of its namespaces, not from another agent")
        }
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
        let greeting = try client.readLine(timeLimit: timeout)
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
        try exchange(command, timeLimit: timeout)
    }

    /// Sends one command line, allowing `timeLimit` for sending it and again for the reply.
    private func exchange(_ command: String, timeLimit: Duration) throws -> String {
        let verb = command.prefix { $0 != " " }
        guard !command.contains(where: \.isNewline) else {
            throw AgentError("agent \(endpoint)", "\"\(verb)\" not sent: a command is one line")
        }
        do {
            try channel.writeLine(command, timeout: timeLimit)
        } catch {
            throw AgentError("agent \(endpoint)", "sending \"\(verb)\": \(error)")
        }
        return try readLine(timeLimit: timeLimit)
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

    /// Every listening socket on the agent's machine, with its owner where visible.
    public func listeningSockets() throws -> [ListeningSocket] {
        try payloadExchange("LISTENING", answer: [ListeningSocket].self, work: .seconds(10))
    }

    /// Starts an echo peer on the address this session reached (`port` 0: any free port);
    /// it lasts as long as this session.
    public func startEcho(_ transport: TransportProtocol, port: UInt16) throws -> SocketEndpoint {
        try startTrafficPeer(transport == .tcp ? .echoTCP : .echoUDP, port: port)
    }

    /// Starts a traffic peer on the address this session reached (`port` 0: any free
    /// port); it lasts as long as this session.
    public func startTrafficPeer(_ kind: TrafficPeerKind, port: UInt16) throws -> SocketEndpoint {
        let fields = try okFields(exchange("\(kind.rawValue) \(port)"))
        guard fields.count == 1, let endpoint = SocketEndpoint(fields[0]) else {
            throw AgentError("agent \(endpoint)", "expected one endpoint, found \"\(fields.joined(separator: " "))\"")
        }
        return endpoint
    }

    /// Runs a traffic measurement from the agent's machine.
    public func measure(_ measurement: TrafficMeasurement) throws -> TrafficMeasurement.Result {
        let payload: String
        do {
            payload = try ControlPayload.encode(measurement)
        } catch {
            throw AgentError("agent \(endpoint)", "MEASURE: the request cannot be encoded: \(error)")
        }
        return try payloadExchange("MEASURE \(payload)", answer: TrafficMeasurement.Result.self,
                                   work: measurement.longestDuration).restamped(agentSite)
    }

    /// How long a TCP scan may take on the agent: seconds as a rule; this also covers an
    /// agent whose descriptor limit cuts the scan window to about a thousand, and a scan
    /// queued behind another (an agent runs one at a time).
    public static let scanTimeLimit = Duration.seconds(120)

    /// The site the agent's probes ran from, as this side names it.
    private var agentSite: ProbeSite { .agent(endpoint) }

    /// Runs `requests` on the agent's machine, from its probe sources; the results come
    /// back in request order.
    public func probe(_ requests: [ProbeRequest]) throws -> [ProbeResult] {
        let payload: String
        do {
            payload = try ControlPayload.encode(requests)
        } catch {
            throw AgentError("agent \(endpoint)", "PROBE: the requests cannot be encoded: \(error)")
        }
        let results = try payloadExchange("PROBE \(payload)", answer: [ProbeResult].self,
                                          work: Prober.longestDuration(of: requests))
        guard results.map(\.request) == requests else {
            throw AgentError("agent \(endpoint)", "PROBE: expected results for the \(requests.count) requests sent, "
                             + "found \(results.count) for other requests")
        }
        return results.map(stamped)
    }

    /// A TCP connect scan of `ports` of `address` from the agent's machine.
    public func scanTCP(_ address: IPAddress, ports: ClosedRange<UInt16> = 1...65535,
                        timeLimit: Duration = AgentClient.scanTimeLimit) throws -> PortScanResult {
        var result = try payloadExchange("SCAN-TCP \(address) \(ports.lowerBound)-\(ports.upperBound)",
                                         answer: PortScanResult.self, work: timeLimit)
        result.site = agentSite
        return result
    }

    /// A UDP sweep of `ports` of `address` from the agent's machine, at the pace of
    /// `options` (its linger is the agent's default).
    public func sweepUDP(_ address: IPAddress, ports: ClosedRange<UInt16> = 1...65535,
                         options: UDPSweepOptions = UDPSweepOptions()) throws -> UDPSweepResult {
        let rate = min(max(options.packetsPerSecond, ControlProtocol.sweepRates.lowerBound), ControlProtocol.sweepRates.upperBound)
        let work = Duration.seconds(Double(ports.count) / Double(rate)) + .seconds(10)
        var result = try payloadExchange("SWEEP-UDP \(address) \(ports.lowerBound)-\(ports.upperBound) \(rate)",
                                         answer: UDPSweepResult.self, work: work)
        result.site = agentSite
        return result
    }

    /// Who answers all-nodes echo on `interface` of the agent's machine.
    public func discoverLinkNeighbours(on interface: String) throws -> MulticastEchoResult {
        var result = try payloadExchange("NEIGHBOURS \(interface)", answer: MulticastEchoResult.self,
                                         work: Prober.linkNeighbourWindow)
        result.site = agentSite
        return result
    }

    /// Ends the session politely.
    public func close() {
        _ = try? exchange("QUIT")
        channel.socket.close()
    }

    private func readLine(timeLimit: Duration) throws -> String {
        do {
            return try channel.readLine(timeout: timeLimit, limit: ControlProtocol.maximumLineLength)
        } catch LineChannel.ReadError.closed {
            throw AgentError("agent \(endpoint)", "connection closed by the agent")
        } catch {
            throw AgentError("agent \(endpoint)", "reading a reply: \(error)")
        }
    }

    /// Sends a command answered `OK <payload>` and decodes the payload, allowing the
    /// agent `work` beyond the session's timeout to carry the command out.
    private func payloadExchange<Answer: Decodable>(_ command: String, answer: Answer.Type,
                                                    work: Duration) throws -> Answer {
        let verb = command.prefix { $0 != " " }
        let reply = try exchange(command, timeLimit: timeout + work)
        guard reply.hasPrefix("OK ") else { throw AgentError("agent \(endpoint)", "\(verb) refused: \(reply)") }
        do {
            return try ControlPayload.decode(answer, from: reply.dropFirst(3))
        } catch {
            throw AgentError("agent \(endpoint)", "\(verb): unreadable answer: \(error)")
        }
    }

    /// A result the agent stamped with its own view (`current`), restamped with the agent.
    private func stamped(_ result: ProbeResult) -> ProbeResult {
        var result = result
        result.site = agentSite
        return result
    }

    private func okFields(_ reply: String) throws -> [String] {
        let words = reply.split(separator: " ").map(String.init)
        guard words.first == "OK" else { throw AgentError("agent \(endpoint)", "refused: \(reply)") }
        return Array(words.dropFirst())
    }
}
