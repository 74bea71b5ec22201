import CNetShims
import Fabric
import Foundation
import Glibc
import Probes
import Synchronization
import Systems

/// The agent: control channel listeners, management services and echo peers, each
/// on its own thread. Every loop polls with a short timeout so `stop()` ends it.
public final class AgentServer: Sendable {
    public let configuration: AgentConfiguration
    private let token: AgentToken
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex(State())

    /// Connections served at once (control, services, echo); more are closed on arrival.
    static let maximumConnections = 64
    /// Traffic peers (echo, sink) open at once; each lives as long as the session that
    /// started it.
    static let maximumEchoPeers = 32
    /// How often loops look at the stop flag.
    static let pollInterval = Duration.milliseconds(200)

    private struct State {
        var sockets: [Socket] = []
        var loops = 0
        var connections = 0
        var echoPeers = 0
        var controlEndpoints: [SocketEndpoint] = []
        var services: [ManagementService] = []
    }

    public init(configuration: AgentConfiguration) throws(AgentError) {
        if let conflict = Prober.sourceConflict(in: configuration.probeSources) {
            throw AgentError("probe sources", conflict)
        }
        self.configuration = configuration
        self.token = try AgentToken.load(from: configuration.tokenFile)
    }

    /// The control endpoints as bound (port 0 resolved).
    public var controlEndpoints: [SocketEndpoint] { state.withLock { $0.controlEndpoints } }

    /// The management services as bound (port 0 resolved).
    public var services: [ManagementService] { state.withLock { $0.services } }

    /// Binds every control endpoint and service, then serves them on background threads.
    public func start() throws(AgentError) {
        do {
            for endpoint in configuration.controlEndpoints {
                let listener = try listen(.tcp, endpoint, purpose: "control")
                let bound = (try? listener.localEndpoint()) ?? endpoint
                state.withLock { $0.controlEndpoints.append(bound) }
                loop("control \(bound)") { self.acceptLoop(listener) { self.serveControl($0) } }
            }
            for service in configuration.services {
                let socket = try listen(service.kind.transport, service.endpoint, purpose: service.kind.rawValue)
                let bound = ManagementService(kind: service.kind, endpoint: (try? socket.localEndpoint()) ?? service.endpoint)
                state.withLock { $0.services.append(bound) }
                switch service.kind {
                case .ssh: loop("\(service)") { self.acceptLoop(socket, ManagementServices.ssh) }
                case .http: loop("\(service)") { self.acceptLoop(socket, ManagementServices.http) }
                case .tcp: loop("\(service)") { self.acceptLoop(socket) { $0.close() } }
                case .rmcp: loop("\(service)") { self.datagramLoop(socket, ManagementServices.rmcp) }
                case .udp: loop("\(service)") { self.datagramLoop(socket) { $0 } }
                }
            }
        } catch {
            stop()
            throw error
        }
    }

    /// Closes the listeners at once (nothing answers afterwards), then waits up to
    /// 2 s for the loops to notice (within about one poll interval).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        let sockets = state.withLock { state in
            defer { state.sockets = [] }
            return state.sockets
        }
        // A closed Socket reads as descriptor -1, so a loop still polling it cannot touch a reused descriptor.
        for socket in sockets { socket.close() }
        let deadline = ContinuousClock.now + .seconds(2)
        while state.withLock({ $0.loops }) > 0 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    // MARK: sockets and threads

    private func listen(_ transport: TransportProtocol, _ endpoint: SocketEndpoint, purpose: String) throws(AgentError) -> Socket {
        do {
            let type = (transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)) | Int32(SOCK_NONBLOCK.rawValue)
            let socket = try Socket(family: endpoint.address.family, type: type, label: "\(purpose) \(transport) \(endpoint)")
            try socket.setReuseAddress()
            if endpoint.address.family == .ipv6 { try socket.setIPv6Only() }
            try socket.bind(endpoint)
            if transport == .tcp { try socket.listen() }
            state.withLock { $0.sockets.append(socket) }
            return socket
        } catch {
            throw AgentError("\(purpose) listener on \(transport) \(endpoint)", error.description)
        }
    }

    /// Runs `body` on a new thread counted as a loop (stop waits for loops).
    private func loop(_ name: String, _ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.loops += 1 }
        let thread = Thread {
            body()
            self.state.withLock { $0.loops -= 1 }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `body` for one connection on its own thread, unless too many are open.
    private func serveConnection(_ socket: Socket, _ body: @escaping @Sendable (Socket) -> Void) {
        let admitted = state.withLock { state -> Bool in
            guard state.connections < Self.maximumConnections else { return false }
            state.connections += 1
            return true
        }
        guard admitted else {
            socket.close()
            return
        }
        Thread.detachNewThread {
            body(socket)
            socket.close()
            self.state.withLock { $0.connections -= 1 }
        }
    }

    /// Accepts connections until the agent stops or `session` (when given) ends.
    private func acceptLoop(_ listener: Socket, until session: Session? = nil, _ handler: @escaping @Sendable (Socket) -> Void) {
        while !isStopping && !(session?.hasEnded ?? false) {
            guard (try? listener.waitReadable(timeout: Self.pollInterval)) == true else { continue }
            do {
                let (connection, _) = try listener.accept(label: "\(listener.label) connection")
                serveConnection(connection, handler)
            } catch {
                if error.code == EAGAIN || error.code == ECONNABORTED { continue }
                if isStopping { return }
                FileHandle.standardError.write(Data("dpucert agent: \(error)\n".utf8))
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Answers each datagram with what `reply` returns (nil: no answer), until the agent
    /// stops or `session` (when given) ends.
    private func datagramLoop(_ socket: Socket, until session: Session? = nil, _ reply: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
        while !isStopping && !(session?.hasEnded ?? false) {
            guard (try? socket.waitReadable(timeout: Self.pollInterval)) == true,
                  let (datagram, sender) = try? socket.receiveFromIfReady(limit: 65536),
                  let sender, let answer = reply(datagram) else { continue }
            _ = try? socket.send(answer, to: sender)
        }
    }

    // MARK: control channel

    /// One control session; what it started ends with it.
    private final class Session: Sendable {
        private let ended = Atomic<Bool>(false)
        /// The session's RDMA responder, stopped when the session ends.
        let rdma = Mutex<RDMAResponder?>(nil)
        var hasEnded: Bool { ended.load(ordering: .acquiring) }
        func end() {
            ended.store(true, ordering: .releasing)
            rdma.withLock { responder in
                responder?.stop()
                responder = nil
            }
        }
    }

    private func serveControl(_ socket: Socket) {
        let channel = LineChannel(socket)
        let session = Session()
        defer { session.end() }
        do {
            try channel.writeLine(ControlProtocol.greeting)
            let first = try channel.readLine(timeout: ControlProtocol.authenticationTimeout)
            guard first.hasPrefix("AUTH ") else {
                try channel.writeLine("ERR authentication required")
                return
            }
            guard token.matches(Array(first.dropFirst(5).utf8)) else {
                try channel.writeLine("ERR authentication failed")
                return
            }
            try channel.writeLine("OK authenticated")
            let local = try socket.localEndpoint()
            while !isStopping {
                let line = try channel.readLine(timeout: ControlProtocol.idleTimeout, limit: ControlProtocol.maximumLineLength)
                let (reply, ends) = respond(to: line, localAddress: local?.address, session: session)
                try channel.writeLine(reply, timeout: ControlProtocol.idleTimeout)
                if ends { return }
            }
        } catch {
            // The session ends: timeouts, resets and oversized lines all close it.
        }
    }

    /// The reply line to one command and whether the session ends after it.
    private func respond(to line: String, localAddress: IPAddress?, session: Session) -> (String, Bool) {
        let words = line.split(separator: " ").map(String.init)
        switch (words.first ?? "", words.count) {
        case ("PING", 1):
            return ("PONG", false)
        case ("QUIT", 1):
            return ("BYE", true)
        case ("COUNTERS", 3):
            guard words[1...].allSatisfy(Self.isIdentifier) else { return ("ERR family and table must be identifiers", false) }
            do {
                let counters = try FirewallCounters.read(FirewallLocation(site: .current, family: words[1], table: words[2]))
                let fields = counters.values.sorted { $0.name < $1.name }.map { "\($0.name)=\($0.packets)/\($0.bytes)" }
                return ((["OK"] + fields).joined(separator: " "), false)
            } catch {
                return (Self.refusal(error), false)
            }
        case ("LISTENING", 1):
            return (Self.payloadReply { try Prober.listeningSockets(at: .current) }, false)
        case ("ECHO-TCP", 2), ("ECHO-UDP", 2), ("SINK-TCP", 2):
            guard let port = UInt16(words[1]) else { return ("ERR expected a port number 0-65535, found \(words[1])", false) }
            guard let localAddress else { return ("ERR the session's local address is unknown", false) }
            guard let peer = TrafficPeerKind(rawValue: words[0]) else { return ("ERR unknown traffic peer \(words[0])", false) }
            do {
                let endpoint = try startPeer(peer, SocketEndpoint(localAddress, port), for: session)
                return ("OK \(endpoint)", false)
            } catch {
                return (Self.refusal(error), false)
            }
        case ("MEASURE", 2):
            return (Self.payloadReply { () throws -> TrafficMeasurement.Result in
                let request = try ControlPayload.decode(TrafficMeasurement.self, from: words[1])
                guard request.longestDuration <= ControlProtocol.maximumCommandDuration else {
                    throw AgentError("MEASURE", "a run of \(request.longestDuration.evidenceText) is longer than the "
                                     + "\(ControlProtocol.maximumCommandDuration.evidenceText) one command may take")
                }
                return try request.run(from: .current, sources: configuration.probeSources)
            }, false)
        case ("PROBE", 2):
            return (Self.payloadReply { () throws -> [ProbeResult] in
                let requests = try ControlPayload.decode([ProbeRequest].self, from: words[1])
                let longest = Prober.longestDuration(of: requests)
                guard longest <= ControlProtocol.maximumCommandDuration else {
                    throw AgentError("PROBE", "\(requests.count) probes could take \(longest.evidenceText), "
                                     + "more than the \(ControlProtocol.maximumCommandDuration.evidenceText) one command may take")
                }
                return try Prober.run(requests, from: .current, sources: configuration.probeSources)
            }, false)
        case ("SCAN-TCP", 3):
            guard let address = IPAddress(words[1]) else { return ("ERR expected an IP address, found \(Self.oneLine(words[1]))", false) }
            guard let ports = Self.portRange(words[2]) else {
                return ("ERR expected a port range FIRST-LAST within 0-65535, found \(Self.oneLine(words[2]))", false)
            }
            return (Self.payloadReply {
                try Prober.scanTCP(address, ports: ports, from: .current, sources: configuration.probeSources)
            }, false)
        case ("SWEEP-UDP", 4):
            guard let address = IPAddress(words[1]) else { return ("ERR expected an IP address, found \(Self.oneLine(words[1]))", false) }
            guard let ports = Self.portRange(words[2]) else {
                return ("ERR expected a port range FIRST-LAST within 0-65535, found \(Self.oneLine(words[2]))", false)
            }
            let rates = ControlProtocol.sweepRates
            guard let rate = Int(words[3]), rates.contains(rate) else {
                return ("ERR expected datagrams per second within \(rates.lowerBound)-\(rates.upperBound), found \(Self.oneLine(words[3]))", false)
            }
            return (Self.payloadReply {
                try Prober.sweepUDP(address, ports: ports, from: .current, sources: configuration.probeSources,
                                    options: UDPSweepOptions(packetsPerSecond: rate))
            }, false)
        case ("RDMA-RESPONDER", _), ("RDMA-REGISTER", _), ("RDMA-DEREGISTER", _), ("RDMA-FILL", _), ("RDMA-DIGEST", _):
            return (respondRDMA(words, session: session), false)
        case ("NEIGHBOURS", 2):
            guard Self.isInterfaceName(words[1]) else { return ("ERR expected an interface name, found \(Self.oneLine(words[1]))", false) }
            return (Self.payloadReply { try Prober.discoverLinkNeighbours(on: words[1], from: .current) }, false)
        default:
            return ("ERR unknown command or wrong arguments: \(Self.oneLine(words.first ?? ""))", false)
        }
    }

    /// The RDMA responder's commands (see `ControlProtocol`).
    private func respondRDMA(_ words: [String], session: Session) -> String {
        if words[0] == "RDMA-RESPONDER" {
            guard words.count == 2, let address = IPAddress(words[1]) else {
                return "ERR expected RDMA-RESPONDER <address>"
            }
            return session.rdma.withLock { current in
                if current != nil { return "ERR this session's RDMA responder is already running" }
                do {
                    let responder = try RDMAResponder(address: address, faults: configuration.rdmaFaults)
                    responder.start()
                    current = responder
                    return "OK \(responder.port) \(responder.closedPort) \(responder.device)"
                } catch {
                    return Self.refusal(error)
                }
            }
        }
        guard let responder = session.rdma.withLock({ $0 }) else { return "ERR no RDMA responder: send RDMA-RESPONDER first" }
        do {
            switch (words[0], words.count) {
            case ("RDMA-REGISTER", 4):
                guard let tenant = Int(words[1]), let bytes = Int(words[2]), let access = MemoryAccess(words[3]) else {
                    return "ERR expected RDMA-REGISTER <tenant> <bytes> <access: none or local-write,remote-write,remote-read,remote-atomic>"
                }
                let (region, buffer) = try responder.register(tenant: tenant, bytes: bytes, access: access)
                return "OK \(region) \(buffer.address) \(buffer.length) \(buffer.rkey)"
            case ("RDMA-DEREGISTER", 2):
                guard let region = Int(words[1]) else { return "ERR expected RDMA-DEREGISTER <region>" }
                try responder.deregister(region)
                return "OK"
            case ("RDMA-FILL", 3):
                guard let region = Int(words[1]), let seed = UInt64(words[2]) else { return "ERR expected RDMA-FILL <region> <seed>" }
                try responder.fill(region, seed: seed)
                return "OK"
            case ("RDMA-DIGEST", 2):
                guard let region = Int(words[1]) else { return "ERR expected RDMA-DIGEST <region>" }
                return "OK \(try responder.digest(region))"
            default:
                return "ERR unknown command or wrong arguments: \(Self.oneLine(words[0]))"
            }
        } catch {
            return Self.refusal(error)
        }
    }

    private static func isIdentifier(_ word: String) -> Bool {
        !word.isEmpty && word.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0)
            || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) }
    }

    /// `FIRST-LAST` with FIRST <= LAST.
    private static func portRange(_ word: String) -> ClosedRange<UInt16>? {
        let bounds = word.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = UInt16(bounds[0]), let last = UInt16(bounds[1]), first <= last else { return nil }
        return first...last
    }

    /// What the kernel accepts as an interface name (dev_valid_name): 1-15 bytes, not
    /// `.` or `..`, no `/`, `:` or whitespace.
    private static func isInterfaceName(_ word: String) -> Bool {
        (1...15).contains(word.utf8.count) && word != "." && word != ".."
            && !word.contains { $0 == "/" || $0 == ":" || $0.isWhitespace }
    }

    /// `OK <payload>` carrying what `work` returns, or `ERR <why>` when it throws.
    private static func payloadReply<Answer: Encodable>(_ work: () throws -> Answer) -> String {
        do {
            return "OK " + (try ControlPayload.encode(work()))
        } catch {
            return refusal(error)
        }
    }

    private static func refusal(_ error: any Error) -> String {
        "ERR \(oneLine(String(describing: error)))"
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 }.prefix(400))
    }

    // MARK: echo peers

    /// Starts `peer` on `endpoint` for as long as `session` lasts.
    private func startPeer(_ peer: TrafficPeerKind, _ endpoint: SocketEndpoint, for session: Session) throws(AgentError) -> SocketEndpoint {
        let admitted = state.withLock { state -> Bool in
            guard state.echoPeers < Self.maximumEchoPeers else { return false }
            state.echoPeers += 1
            return true
        }
        guard admitted else { throw AgentError("\(peer) \(endpoint)", "at most \(Self.maximumEchoPeers) traffic peers") }
        let socket: Socket
        do {
            socket = try listen(peer.transport, endpoint, purpose: "\(peer)")
        } catch {
            state.withLock { $0.echoPeers -= 1 }
            throw error
        }
        let bound = (try? socket.localEndpoint()) ?? endpoint
        // An echo that falls behind for a moment queues the datagrams rather than losing them.
        if peer == .echoUDP { try? socket.setReceiveBuffer(8 << 20) }
        loop("\(peer) \(bound)") {
            switch peer {
            case .echoTCP: self.acceptLoop(socket, until: session) { self.echoStream($0) }
            case .echoUDP: self.datagramLoop(socket, until: session) { $0 }
            case .sinkTCP: self.acceptLoop(socket, until: session) { self.sinkStream($0) }
            }
            socket.close()
            self.state.withLock { $0.echoPeers -= 1 }
        }
        return bound
    }

    /// Reads a stream to its end, discarding it, then answers `received <bytes>` and
    /// closes: a throughput sender learns what arrived. Bounded like an echo stream.
    private func sinkStream(_ socket: Socket) {
        let end = ContinuousClock.now + .seconds(600)
        var idleSince = ContinuousClock.now
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while !isStopping && ContinuousClock.now < end && idleSince.duration(to: .now) < .seconds(30) {
            guard (try? socket.waitReadable(timeout: Self.pollInterval)) == true else { continue }
            guard let count = try? socket.receiveIfReady(into: &buffer) else { continue }
            if count == 0 {
                _ = try? socket.send(Array("received \(received)\n".utf8))
                return
            }
            received += count
            idleSince = .now
        }
    }

    /// Echoes a stream back until the client closes, goes idle for 30 s, or 10 min pass.
    /// The connection blocks (waking every `pollInterval` to look at the stop flag) and
    /// reuses one buffer: a request/response exchange costs the peer one receive and one
    /// send, so round trips measure the path, not this loop.
    private func echoStream(_ socket: Socket) {
        guard (try? socket.setBlocking(receiveTimeout: Self.pollInterval)) != nil else { return }
        try? socket.setNoDelay()
        let end = ContinuousClock.now + .seconds(600)
        var idleSince = ContinuousClock.now
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !isStopping && ContinuousClock.now < end && idleSince.duration(to: .now) < .seconds(30) {
            let received: Int?
            do {
                received = try socket.receiveIfReady(into: &buffer)
            } catch {
                if error.code == EINTR { continue }
                return
            }
            guard let count = received else { continue }
            if count == 0 { return }
            idleSince = .now
            var written = 0
            while written < count {
                do {
                    written += try socket.send(buffer[written..<count])
                } catch {
                    return
                }
            }
        }
    }
}

// MARK: running as a process

/// The write end of the pipe the SIGTERM/SIGINT handler signals through.
private let signalPipeWriter = Atomic<Int32>(-1)

extension AgentServer {
    /// How the ready line starts; nothing the agent prints on failure starts so.
    public static let readyLinePrefix = "dpucert agent: control on "

    /// Starts an agent and serves until SIGTERM or SIGINT, then stops it. Prints one
    /// line to standard output once everything listens, `dpucert agent: control on
    /// ENDPOINT, ...` (then `; services ...` and `; probes from ...` when there are
    /// any); whoever waits for the agent matches that prefix, which no failure shares.
    public static func run(configuration: AgentConfiguration) throws {
        let server = try AgentServer(configuration: configuration)
        var fds: [Int32] = [-1, -1]
        guard dpucert_pipe_cloexec(&fds) == 0 else { throw AgentError("signal pipe", String(cString: strerror(errno))) }
        defer { for fd in fds { close(fd) } }
        signalPipeWriter.store(fds[1], ordering: .releasing)
        let handler: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(signalPipeWriter.load(ordering: .acquiring), &byte, 1)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        signal(SIGPIPE, SIG_IGN)
        try server.start()
        let services = server.services.map(\.description)
        let sources = configuration.probeSources.map(\.description)
        let ready = "\(readyLinePrefix)\(server.controlEndpoints.map(\.description).joined(separator: ", "))"
            + (services.isEmpty ? "" : "; services \(services.joined(separator: ", "))")
            + (sources.isEmpty ? "" : "; probes from \(sources.joined(separator: ", "))")
        FileHandle.standardOutput.write(Data((ready + "\n").utf8))
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) < 0 && errno == EINTR {}
        server.stop()
    }
}
