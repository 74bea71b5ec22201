import Foundation

/// A socket waiting for traffic: a TCP listener or a bound, unconnected UDP socket.
public struct ListeningSocket: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var transport: TransportProtocol
    public var endpoint: SocketEndpoint

    public init(transport: TransportProtocol, endpoint: SocketEndpoint) {
        self.transport = transport
        self.endpoint = endpoint
    }

    public var description: String { "\(transport) \(endpoint)" }

    public static func < (lhs: ListeningSocket, rhs: ListeningSocket) -> Bool {
        lhs.transport != rhs.transport ? lhs.transport.rawValue < rhs.transport.rawValue : lhs.endpoint < rhs.endpoint
    }
}

extension Prober {
    /// Every listening TCP socket and bound UDP socket of a namespace (what `ss -ltnu`
    /// shows), read from /proc/thread-self/net inside it.
    public static func listeningSockets(at site: ProbeSite) throws -> [ListeningSocket] {
        try NetworkNamespace.run(in: site) {
            var sockets: [ListeningSocket] = []
            for (file, transport, state) in [("tcp", TransportProtocol.tcp, "0A"), ("tcp6", .tcp, "0A"),
                                             ("udp", .udp, "07"), ("udp6", .udp, "07")] {
                let path = "/proc/thread-self/net/\(file)"
                guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                defer { try? handle.close() }
                let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
                sockets += ProcNetTable.parse(text, transport: transport, state: state)
            }
            return sockets.sorted()
        }
    }
}

/// The /proc/net/{tcp,udp}[6] format: `sl local_address rem_address st ...` with
/// addresses as hex 32-bit words in host byte order and the port in hex.
enum ProcNetTable {
    static func parse(_ text: String, transport: TransportProtocol, state: String) -> [ListeningSocket] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[3] == state else { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16),
                  let address = address(String(local[0])) else { return nil }
            return ListeningSocket(transport: transport, endpoint: SocketEndpoint(address, port))
        }
    }

    private static func address(_ hex: String) -> IPAddress? {
        guard hex.count == 8 || hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let end = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<end], radix: 16) else { return nil }
            bytes += withUnsafeBytes(of: word) { Array($0) }
            index = end
        }
        return IPAddress(bytes: bytes)
    }
}
