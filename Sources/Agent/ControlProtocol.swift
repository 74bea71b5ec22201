import Glibc
import Probes

/// The control channel: a TCP line protocol (UTF-8, LF-terminated, at most
/// `maximumLineLength` bytes a line). The agent greets with `DPUCERT-AGENT 1`; the
/// first line from the client must be `AUTH <token>`, answered `OK authenticated`,
/// or `ERR authentication failed` / `ERR authentication required` followed by close.
/// Afterwards every command gets one line back, `OK ...`, `PONG`, `BYE` or `ERR ...`:
///
///     PING                      → PONG
///     COUNTERS <family> <table> → OK <name>=<packets>/<bytes> ...
///     LISTENING                 → OK tcp:<endpoint> udp:<endpoint> ...
///     ECHO-TCP <port>           → OK <endpoint>   (echo listener on the address this session reached; 0 = any port)
///     ECHO-UDP <port>           → OK <endpoint>
///     QUIT                      → BYE, then close
public enum ControlProtocol {
    public static let greeting = "DPUCERT-AGENT 1"
    public static let maximumLineLength = 4096
    /// How long a client has to authenticate after connecting.
    public static let authenticationTimeout = Duration.seconds(5)
    /// How long an authenticated session may stay silent.
    public static let idleTimeout = Duration.seconds(300)
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

    /// The next line without its terminator.
    func readLine(timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 0x0d { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count <= ControlProtocol.maximumLineLength else { throw ReadError.tooLong }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, try socket.waitReadable(timeout: remaining) else { throw ReadError.timedOut }
            guard let bytes = try socket.receiveIfReady(limit: 4096) else { continue }
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
