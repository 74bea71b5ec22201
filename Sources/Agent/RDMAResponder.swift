import Fabric
import Foundation
import Probes
import Synchronization
import Systems

/// Faults a broken DPU's responder shows, injected where it would be (`dpucert agent --rdma-fault`).
public enum RDMAResponderFault: String, Sendable, Hashable, CaseIterable {
    /// Every region is registered with all access, whatever was asked.
    case ignoreAccessFlags = "ignore-access-flags"
    /// Buffers are altered: one byte of what arrived, of what is offered to read, of what is echoed.
    case corruption
    /// Every tenant's connections share tenant 0's protection domain.
    case sharedDomain = "shared-pd"
}

/// The RDMA responder of one control session: a CM listener on the address asked for,
/// a port bound where nothing listens, a protection domain per tenant, regions
/// registered on request, and the connections it accepted, each served as its private
/// data asks (`ResponderRequest`). It ends with the session: connections first, then
/// regions, then domains, then the listener.
final class RDMAResponder: @unchecked Sendable {
    static let tenants = 0..<4
    static let maximumRegionBytes = 64 << 20
    static let maximumRegions = 32
    static let maximumMessageBytes = 8 << 20
    static let maximumDepth = 512

    let faults: Set<RDMAResponderFault>
    private let listener: RDMAListener
    /// Bound, never listening: a connect there is refused by the peer's CM.
    private let unlistened: RDMAListener
    /// The device of `address`, where the responder's memory is registered.
    private let context: DeviceContext
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex(State())

    private struct State {
        var domains: [Int: ProtectionDomain] = [:]
        var regions: [Int: MemoryRegion] = [:]
        var nextRegion = 1
        var connections: [UInt: Served] = [:]
        var threads = 0
    }

    /// An accepted connection and, for an echo mode, the flag its thread watches.
    private final class Served: @unchecked Sendable {
        let connection: RDMAConnection
        let closed = Atomic<Bool>(false)
        init(_ connection: RDMAConnection) { self.connection = connection }
    }

    init(address: IPAddress, faults: Set<RDMAResponderFault>) throws(FabricError) {
        self.faults = faults
        listener = try RDMAListener(address: address)
        unlistened = try RDMAListener(address: address, listening: false)
        guard let context = listener.context else {
            throw FabricError(.call, "rdma_bind_addr", subject: "\(address)", code: EADDRNOTAVAIL, detail: "not an address of an RDMA device")
        }
        self.context = context
    }

    var port: UInt16 { listener.port }
    var closedPort: UInt16 { unlistened.port }
    var device: String { context.name }

    func start() {
        spawn("rdma responder \(listener.port)") { self.eventLoop() }
    }

    /// Ends every connection and thread, then releases regions and domains.
    func stop() {
        stopping.store(true, ordering: .releasing)
        let served = state.withLock { state in
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
        served.forEach { $0.closed.store(true, ordering: .releasing) }
        let deadline = ContinuousClock.now + .seconds(3)
        while state.withLock({ $0.threads }) > 0 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        state.withLock { state in
            state.regions = [:]
            state.domains = [:]
        }
    }

    // MARK: regions

    func register(tenant: Int, bytes: Int, access: MemoryAccess) throws -> (region: Int, buffer: RemoteBuffer) {
        guard Self.tenants.contains(tenant) else { throw AgentError("RDMA-REGISTER", "tenant must be within 0-\(Self.tenants.upperBound - 1)") }
        guard (1...Self.maximumRegionBytes).contains(bytes) else {
            throw AgentError("RDMA-REGISTER", "bytes must be within 1-\(Self.maximumRegionBytes)")
        }
        let granted = faults.contains(.ignoreAccessFlags) ? MemoryAccess.all : access
        let domain = try domain(tenant)
        let region = try MemoryRegion(domain, bytes: bytes, access: granted)
        return try state.withLock { state throws -> (Int, RemoteBuffer) in
            guard state.regions.count < Self.maximumRegions else {
                throw AgentError("RDMA-REGISTER", "at most \(Self.maximumRegions) regions per session")
            }
            let id = state.nextRegion
            state.nextRegion += 1
            state.regions[id] = region
            return (id, region.remote)
        }
    }

    func deregister(_ id: Int) throws {
        guard state.withLock({ $0.regions.removeValue(forKey: id) }) != nil else { throw AgentError("RDMA-DEREGISTER", "no region \(id)") }
    }

    /// Fills region `id` with the pattern of `seed` (one byte altered under the corruption fault).
    func fill(_ id: Int, seed: UInt64) throws {
        let region = try region(id)
        RDMAPattern.fill(region.buffer, seed: seed)
        corrupt(region.buffer)
    }

    /// The CRC32C of region `id` as it holds now (what arrived in it, altered under the corruption fault).
    func digest(_ id: Int) throws -> UInt32 {
        let region = try region(id)
        corrupt(region.buffer)
        return CRC32C.checksum(UnsafeRawBufferPointer(region.buffer))
    }

    private func region(_ id: Int) throws -> MemoryRegion {
        guard let region = state.withLock({ $0.regions[id] }) else { throw AgentError("RDMA", "no region \(id)") }
        return region
    }

    private func domain(_ tenant: Int) throws(FabricError) -> ProtectionDomain {
        if let domain = state.withLock({ $0.domains[tenant] }) { return domain }
        let domain = try ProtectionDomain(context)
        return state.withLock { state in
            if let existing = state.domains[tenant] { return existing }
            state.domains[tenant] = domain
            return domain
        }
    }

    private func corrupt(_ buffer: UnsafeMutableRawBufferPointer) {
        guard faults.contains(.corruption), !buffer.isEmpty else { return }
        buffer[buffer.count / 2] ^= 0x5a
    }

    // MARK: connections

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.threads += 1 }
        let thread = Thread {
            body()
            self.state.withLock { $0.threads -= 1 }
        }
        thread.name = name
        thread.start()
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    private func eventLoop() {
        while !isStopping {
            guard let event = try? listener.nextEvent(timeout: .milliseconds(200)) else { continue }
            switch event.kind {
            case .connectRequest:
                accept(event)
            case .disconnected:
                let served = state.withLock { state in
                    state.connections.first { RDMAListener.event(event, isFor: $0.value.connection) }
                        .flatMap { state.connections.removeValue(forKey: $0.key) }
                }
                served?.closed.store(true, ordering: .releasing)
            default:
                continue
            }
        }
    }

    private func accept(_ event: ConnectionEvent) {
        guard let request = ResponderRequest(event.privateData), Self.tenants.contains(request.tenant),
              request.messageBytes <= Self.maximumMessageBytes, (1...Self.maximumDepth).contains(request.depth) else {
            refuse(event, "not a responder request of this version within its limits (\(event.privateData.count) bytes of private data)")
            return
        }
        do {
            let domain = try domain(faults.contains(.sharedDomain) ? 0 : request.tenant)
            var echo: MemoryRegion?
            if request.mode != .passive {
                echo = try MemoryRegion(domain, bytes: max(1, request.messageBytes) * request.depth,
                                        access: [.localWrite, .remoteWrite])
            }
            let reply = ResponderReply(echoBuffer: request.mode == .echoWrite ? echo?.remote : nil)
            let connection = try listener.accept(event, domain: domain, depth: request.depth, privateData: reply.encoded) { connection throws(FabricError) in
                guard let echo else { return }
                for slot in 0..<request.depth {
                    if request.mode == .echoSend {
                        try connection.postReceive(echo, offset: slot * request.messageBytes, length: request.messageBytes, id: UInt64(slot))
                    } else {
                        try connection.postReceive(nil, id: UInt64(slot))
                    }
                }
            }
            let served = Served(connection)
            state.withLock { $0.connections[UInt(connection.queuePairNumber)] = served }
            if let echo { spawn("rdma echo \(connection.queuePairNumber)") { self.echo(served, request: request, buffer: echo) } }
        } catch {
            refuse(event, "\(error)")
        }
    }

    private func refuse(_ event: ConnectionEvent, _ reason: String) {
        FileHandle.standardError.write(Data("dpucert agent: RDMA connect request refused: \(reason)\n".utf8))
        listener.reject(event)
    }

    /// Serves an echo connection until it closes: each arrival goes back as it came (or
    /// altered under the corruption fault). Spins while busy, sleeps on the CQ when idle.
    /// An echo small enough to go inline leaves the buffer at once: its receive is
    /// reposted straight away and only one send in `interval` is signaled, as perftest's
    /// responder does; a larger one waits for its send's completion.
    private func echo(_ served: Served, request: ResponderRequest, buffer: MemoryRegion) {
        let connection = served.connection
        let sendFlag: UInt64 = 1 << 32
        let interval = max(1, request.depth / 2)
        let inlined = request.messageBytes <= connection.maxInline
        var sent = 0
        // Spins (the clock read only every few thousand empty polls: under emulation it costs
        // more than a poll) until about 20 ms pass without work, then sleeps on the CQ.
        var emptyPolls = 0
        var lastActivity = ContinuousClock.now
        var idle = false
        while !served.closed.load(ordering: .acquiring) && !isStopping {
            guard let completions = try? (idle ? connection.completions.wait(timeout: .milliseconds(100))
                                               : connection.completions.poll()) else { return }
            if completions.isEmpty {
                emptyPolls += 1
                if idle || emptyPolls % 4096 == 0 { idle = lastActivity.duration(to: .now) > .milliseconds(20) }
            } else {
                emptyPolls = 0
                idle = false
                lastActivity = .now
            }
            for completion in completions {
                guard completion.succeeded else { return }
                let slot = Int(completion.workRequestID & 0xffff_ffff)
                // A write-echo's data is where the host wrote it, at the buffer's start.
                let offset = request.mode == .echoWrite ? 0 : slot * request.messageBytes
                if completion.workRequestID & sendFlag != 0 {
                    if request.mode == .echoSend && !inlined {
                        _ = try? connection.postReceive(buffer, offset: offset, length: request.messageBytes, id: UInt64(slot))
                    }
                    continue
                }
                let length = completion.byteLength
                if length > 0 {
                    corrupt(UnsafeMutableRawBufferPointer(rebasing: buffer.buffer[offset..<offset + length]))
                }
                sent += 1
                do {
                    switch request.mode {
                    case .echoSend:
                        try connection.postSend(buffer, offset: offset, length: length, id: sendFlag | UInt64(slot),
                                                signaled: !inlined || sent % interval == 0)
                        if inlined {
                            try connection.postReceive(buffer, offset: offset, length: request.messageBytes, id: UInt64(slot))
                        }
                    case .echoWrite:
                        guard let reply = request.reply else { return }
                        try connection.postReceive(nil, id: UInt64(slot))
                        try connection.postWrite(buffer, offset: offset, length: length, to: reply, id: sendFlag | UInt64(slot),
                                                 signaled: !inlined || sent % interval == 0, immediate: completion.immediate ?? 0)
                    case .passive:
                        return
                    }
                } catch {
                    return
                }
            }
        }
    }
}
