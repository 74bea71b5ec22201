import Foundation
import Glibc
import Probes
import Systems

/// The control channel: a TCP line protocol (UTF-8, LF-terminated). The agent greets
/// with `DPUCERT-AGENT 1`; the first line from the client must be `AUTH <token>`,
/// answered `OK authenticated`, or `ERR authentication failed` / `ERR authentication
/// required` followed by close. Afterwards every command gets one line back, `OK ...`,
/// `PONG`, `BYE` or `ERR <reason>`:
///
///     PING                              → PONG
///     COUNTERS <family> <table>         → OK <name>=<packets>/<bytes> ...
///     LISTENING                         → OK <payload>    ([ListeningSocket] with their owners)
///     ECHO-TCP <port>                   → OK <endpoint>   (echo listener on the address this session reached; 0 = any port)
///     ECHO-UDP <port>                   → OK <endpoint>
///     SINK-TCP <port>                   → OK <endpoint>   (discards a stream, then answers `received <bytes>`)
///     MEASURE <payload>                 → OK <payload>    (TrafficMeasurement in, its Result out)
///     PROBE <payload>                   → OK <payload>    ([ProbeRequest] in, [ProbeResult] out)
///     SCAN-TCP <address> <first>-<last> → OK <payload>    (PortScanResult)
///     SWEEP-UDP <address> <first>-<last> <datagrams/s> → OK <payload>   (UDPSweepResult)
///     NEIGHBOURS <interface>            → OK <payload>    (MulticastEchoResult of all-nodes echo)
///     RDMA-RESPONDER <address>          → OK <port> <closed-port> <device>   (a CM listener on the address,
///                                          and a port bound where nothing listens; both end with the session)
///     RDMA-REGISTER <tenant> <bytes> <access> → OK <region> <address> <length> <rkey>   (in the tenant's PD)
///     RDMA-DEREGISTER <region>          → OK
///     RDMA-FILL <region> <seed>         → OK              (the region holds `RDMAPattern` of the seed)
///     RDMA-DIGEST <region>              → OK <crc32c>     (of the region as it holds now)
///     QUIT                              → BYE, then close
///
/// A `<payload>` is the base64 of a JSON document (`ControlPayload`). Probes run from
/// the agent's own network stack, leaving from its probe sources; their results name
/// the site `current`, the agent's own view, and the client restamps them with the
/// agent's endpoint. A probe command answers when its probes are done: a full TCP scan
/// takes seconds, and one command may take at most `maximumCommandDuration`.
/// Lines are at most `maximumUnauthenticatedLineLength` bytes before authentication
/// and `maximumLineLength` after it.
public enum ControlProtocol {
    public static let greeting = "DPUCERT-AGENT 1"
    /// The longest line before authentication: an unauthenticated peer gets little memory.
    public static let maximumUnauthenticatedLineLength = 4096
    /// The longest line of an authenticated session: probe requests and results travel
    /// as one line (a full scan's result is about half a megabyte).
    public static let maximumLineLength = 8 << 20
    /// How long a client has to authenticate after connecting.
    public static let authenticationTimeout = Duration.seconds(5)
    /// How long an authenticated session may stay silent, and a reply take to be read.
    public static let idleTimeout = Duration.seconds(300)
    /// The most a PROBE may take by `Prober.longestDuration`; longer lists are refused.
    public static let maximumCommandDuration = Duration.seconds(600)
    /// The paces SWEEP-UDP accepts, in datagrams per second: a full sweep at the slowest
    /// still ends within `maximumCommandDuration`.
    public static let sweepRates = 110...1_000_000
}

/// The payloads of LISTENING, PROBE, SCAN-TCP, SWEEP-UDP and NEIGHBOURS: JSON, base64-encoded so
/// that it stays one line without spaces.
enum ControlPayload {
    struct NotBase64: Error, CustomStringConvertible {
        var description: String { "the payload is not base64" }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        try JSONEncoder().encode(value).base64EncodedString()
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from text: some StringProtocol) throws -> Value {
        guard let data = Data(base64Encoded: String(text)) else { throw NotBase64() }
        return try JSONDecoder().decode(type, from: data)
    }
}

/// Lines over a socket, each read bounded in length and time.
final class LineChannel {
    let socket: Socket
    private var buffer: [UInt8] = []

    init(_ socket: Socket) {
        self.socket = socket
    }

    enum ReadError: Error {
        case timedOut, tooLong, closed
    }

    /// The next line without its terminator, at most `limit` bytes long.
    func readLine(timeout: Duration, limit: Int = ControlProtocol.maximumUnauthenticatedLineLength) throws -> String {
        let deadline = ContinuousClock.now + timeout
        // Bytes already searched for a newline: a long line arrives in many pieces.
        var searched = 0
        while true {
            if let newline = buffer[searched...].firstIndex(of: 0x0a) {
                guard newline <= limit else { throw ReadError.tooLong }
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 0x0d { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            searched = buffer.count
            guard buffer.count <= limit else { throw ReadError.tooLong }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, try socket.waitReadable(timeout: remaining) else { throw ReadError.timedOut }
            // Never more than the line may still hold (plus its newline), so a peer
            // cannot make a small limit cost much memory.
            guard let bytes = try socket.receiveIfReady(limit: min(65536, limit + 1 - buffer.count)) else { continue }
            if bytes.isEmpty { throw ReadError.closed }
            buffer += bytes
        }
    }

    func writeLine(_ line: String, timeout: Duration = .seconds(5)) throws {
        var bytes = Array((line + "\n").utf8)
        let deadline = ContinuousClock.now + timeout
        while !bytes.isEmpty {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, try socket.waitWritable(timeout: remaining) else { throw ReadError.timedOut }
            do {
                let sent = try socket.send(bytes)
                bytes.removeFirst(sent)
            } catch {
                if error.code != EAGAIN { throw error }
            }
        }
    }
}
