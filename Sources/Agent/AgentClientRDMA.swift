import Fabric
import Systems

/// Where a session's RDMA responder listens.
public struct RDMAResponderEndpoint: Sendable, Hashable {
    /// The CM port that accepts connections.
    public var port: UInt16
    /// A CM port bound where nothing listens: connects there are refused.
    public var closedPort: UInt16
    /// The responder's RDMA device.
    public var device: String
}

/// A region the responder registered.
public struct ResponderRegion: Sendable, Hashable {
    public var id: Int
    public var buffer: RemoteBuffer
}

extension AgentClient {
    /// Starts this session's RDMA responder on `address` (an address of the agent's RDMA
    /// device); it ends with the session.
    public func startRDMAResponder(on address: IPAddress) throws -> RDMAResponderEndpoint {
        let fields = try rdmaFields("RDMA-RESPONDER \(address)", count: 3)
        guard let port = UInt16(fields[0]), let closed = UInt16(fields[1]) else {
            throw AgentError("agent \(endpoint)", "RDMA-RESPONDER: expected two ports, found \"\(fields.joined(separator: " "))\"")
        }
        return RDMAResponderEndpoint(port: port, closedPort: closed, device: fields[2])
    }

    /// Registers `bytes` in `tenant`'s protection domain with `access`.
    public func registerRDMA(tenant: Int, bytes: Int, access: MemoryAccess) throws -> ResponderRegion {
        let fields = try rdmaFields("RDMA-REGISTER \(tenant) \(bytes) \(access)", count: 4)
        guard let id = Int(fields[0]), let address = UInt64(fields[1]), let length = Int(fields[2]), let rkey = UInt32(fields[3]) else {
            throw AgentError("agent \(endpoint)", "RDMA-REGISTER: unreadable answer \"\(fields.joined(separator: " "))\"")
        }
        return ResponderRegion(id: id, buffer: RemoteBuffer(address: address, length: length, rkey: rkey))
    }

    public func deregisterRDMA(_ region: ResponderRegion) throws {
        _ = try rdmaFields("RDMA-DEREGISTER \(region.id)", count: 0)
    }

    /// Has the responder fill `region` with the pattern of `seed`.
    public func fillRDMA(_ region: ResponderRegion, seed: UInt64) throws {
        _ = try rdmaFields("RDMA-FILL \(region.id) \(seed)", count: 0)
    }

    /// The CRC32C of `region` as the responder holds it now.
    public func digestRDMA(_ region: ResponderRegion) throws -> UInt32 {
        let fields = try rdmaFields("RDMA-DIGEST \(region.id)", count: 1)
        guard let digest = UInt32(fields[0]) else { throw AgentError("agent \(endpoint)", "RDMA-DIGEST: unreadable \"\(fields[0])\"") }
        return digest
    }

    private func rdmaFields(_ command: String, count: Int) throws -> [String] {
        let reply = try exchange(command)
        let words = reply.split(separator: " ").map(String.init)
        guard words.first == "OK", words.count == count + 1 else {
            throw AgentError("agent \(endpoint)", "\(command.prefix { $0 != " " }) refused: \(reply)")
        }
        return Array(words.dropFirst())
    }
}
