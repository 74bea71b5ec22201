import CNetShims
import Glibc
import Systems

enum TCPProbe {
    /// How long an open connection is read for a greeting.
    static let bannerWait = Duration.milliseconds(500)

    static func connect(_ endpoint: SocketEndpoint, from source: IPAddress?, timeout: Duration,
                        readsBanner: Bool) throws -> Observation {
        let socket = try Socket(family: endpoint.address.family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                label: "tcp probe")
        defer { socket.close() }
        try socket.enableErrorQueue(family: endpoint.address.family)
        if let source { try socket.bindSource(source, stream: true) }
        do {
            if try !socket.connect(endpoint), try !socket.waitWritable(timeout: timeout) {
                return .dropped(timeout)
            }
        } catch {
            if let observation = Observation.notSent(error) { return observation }
            if error.code == ECONNREFUSED { return Observation(outcome: .answeredClosed, detail: "connection refused (RST)") }
            throw error
        }
        let code = try socket.pendingError()
        guard code == 0 else {
            return Observation.fromAsyncError(code, queued: socket.takeQueuedError(),
                                              localAddress: try? socket.localEndpoint()?.address, timeout: timeout)
        }
        guard readsBanner else { return Observation(outcome: .open, detail: "connection established") }
        return Observation(outcome: .open, detail: banner(socket))
    }

    private static func banner(_ socket: Socket) -> String {
        guard (try? socket.waitReadable(timeout: bannerWait)) == true,
              let bytes = try? socket.receive(limit: 512), !bytes.isEmpty else {
            return "connection established, no greeting within \(bannerWait.evidenceText)"
        }
        return "connection established, greeting \"\(Printable.firstLine(bytes))\""
    }
}

enum UDPProbe {
    static func exchange(_ endpoint: SocketEndpoint, from source: IPAddress?, payload: [UInt8],
                         timeout: Duration) throws -> Observation {
        let socket = try Socket(family: endpoint.address.family, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                label: "udp probe")
        defer { socket.close() }
        try socket.enableErrorQueue(family: endpoint.address.family)
        if let source { try socket.bindSource(source, stream: false) }
        do {
            _ = try socket.connect(endpoint)
            try socket.send(payload)
        } catch {
            if let observation = Observation.notSent(error) { return observation }
            throw error
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard try socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
            do {
                guard let reply = try socket.receiveIfReady(limit: 2048) else { continue }
                return Observation(outcome: .open, detail: "\(reply.count)-byte reply \"\(Printable.firstLine(reply))\"",
                                   answeredBy: endpoint.address.description)
            } catch {
                return Observation.fromAsyncError(error.code, queued: socket.takeQueuedError(),
                                                  localAddress: try? socket.localEndpoint()?.address, timeout: timeout)
            }
        }
        return .dropped(timeout)
    }
}

enum Printable {
    /// The first line of a reply, printable ASCII only, at most 80 characters.
    static func firstLine(_ bytes: [UInt8]) -> String {
        let line = bytes.prefix { $0 != 0x0a && $0 != 0x0d }.prefix(80)
        return String(line.map { (0x20..<0x7f).contains($0) ? Character(UnicodeScalar($0)) : "." })
    }
}
