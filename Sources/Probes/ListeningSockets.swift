import Foundation
import Systems

/// A socket waiting for traffic: a TCP listener or a bound, unconnected UDP socket.
public struct ListeningSocket: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var transport: TransportProtocol
    public var endpoint: SocketEndpoint
    /// The process holding it (`name[pid]`), where this process may see it.
    public var owner: String?

    public init(transport: TransportProtocol, endpoint: SocketEndpoint, owner: String? = nil) {
        self.transport = transport
        self.endpoint = endpoint
        self.owner = owner
    }

    public var description: String { "\(transport) \(endpoint)" + (owner.map { " (\($0))" } ?? "") }

    public static func < (lhs: ListeningSocket, rhs: ListeningSocket) -> Bool {
        lhs.transport != rhs.transport ? lhs.transport.rawValue < rhs.transport.rawValue : lhs.endpoint < rhs.endpoint
    }
}

extension Prober {
    /// Every listening TCP socket and bound, unconnected UDP socket of a namespace (what
    /// `ss -ltnup` shows), read from /proc/thread-self/net inside it, each with the process
    /// holding it where /proc shows its descriptors.
    public static func listeningSockets(at site: ProbeSite) throws -> [ListeningSocket] {
        try NetworkNamespace.run(in: site) {
            var entries: [(socket: ListeningSocket, inode: UInt64)] = []
            for (file, transport, state) in [("tcp", TransportProtocol.tcp, "0A"), ("tcp6", .tcp, "0A"),
                                             ("udp", .udp, "07"), ("udp6", .udp, "07")] {
                let path = "/proc/thread-self/net/\(file)"
                guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                defer { try? handle.close() }
                let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
                entries += ProcNetTable.parse(text, transport: transport, state: state)
            }
            let owners = SocketOwners.find(Set(entries.map(\.inode)))
            return entries.map { entry in
                var socket = entry.socket
                socket.owner = owners[entry.inode]
                return socket
            }.sorted()
        }
    }
}

/// The /proc/net/{tcp,udp}[6] format: `sl local_address rem_address st tx:rx tr:when
/// retrnsmt uid timeout inode ...` with addresses as hex 32-bit words in host byte order
/// and the port in hex.
enum ProcNetTable {
    static func parse(_ text: String, transport: TransportProtocol, state: String) -> [(socket: ListeningSocket, inode: UInt64)] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[3] == state else { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16),
                  let address = address(String(local[0])) else { return nil }
            return (ListeningSocket(transport: transport, endpoint: SocketEndpoint(address, port)), UInt64(fields[9]) ?? 0)
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

/// Which process holds a socket: the `socket:[INODE]` links under /proc/PID/fd.
enum SocketOwners {
    /// `name[pid]` by socket inode, for the inodes asked for that some visible process holds.
    static func find(_ inodes: Set<UInt64>) -> [UInt64: String] {
        let files = FileManager.default
        var owners: [UInt64: String] = [:]
        guard let processes = try? files.contentsOfDirectory(atPath: "/proc") else { return owners }
        for pid in processes where pid.allSatisfy(\.isNumber) {
            guard let descriptors = try? files.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            var name: String?
            for descriptor in descriptors {
                guard let target = try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                      target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()),
                      inodes.contains(inode), owners[inode] == nil else { continue }
                name = name ?? ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?")
                owners[inode] = "\(name ?? "?")[\(pid)]"
            }
        }
        return owners
    }
}
