import CVerbs
import CVerbsShims
import Glibc
import Systems

/// A connection-manager event, copied out and acknowledged at once (an id can only be
/// destroyed once its events are acknowledged).
public struct ConnectionEvent: @unchecked Sendable {
    public var type: rdma_cm_event_type
    public var status: Int32
    /// The id the event is about (for CONNECT_REQUEST, the new connection's id).
    let id: UnsafeMutablePointer<rdma_cm_id>
    /// The connection's private data (CONNECT_REQUEST, ESTABLISHED, REJECTED).
    public var privateData: [UInt8]

    /// What happened, for callers that do not speak librdmacm's enum.
    public enum Kind: Sendable {
        case connectRequest, established, disconnected, rejected, other
    }

    public var kind: Kind {
        switch type {
        case RDMA_CM_EVENT_CONNECT_REQUEST: .connectRequest
        case RDMA_CM_EVENT_ESTABLISHED: .established
        case RDMA_CM_EVENT_DISCONNECTED, RDMA_CM_EVENT_TIMEWAIT_EXIT: .disconnected
        case RDMA_CM_EVENT_REJECTED: .rejected
        default: .other
        }
    }

    /// `RDMA_CM_EVENT_ESTABLISHED`.
    public var name: String { String(cString: rdma_event_str(type)).uppercased().replacingOccurrences(of: " ", with: "_") }
}

/// An event channel of the CM, read without blocking past a deadline.
final class EventChannel {
    let pointer: UnsafeMutablePointer<rdma_event_channel>

    init() throws(FabricError) {
        guard let channel = rdma_create_event_channel() else {
            let code = errno
            throw FabricError(code == ENOSYS || code == ENODEV || code == ENOENT ? .noSubsystem : .call,
                              "rdma_create_event_channel", subject: "", code: code)
        }
        _ = fcntl(channel.pointee.fd, F_SETFL, fcntl(channel.pointee.fd, F_GETFL) | O_NONBLOCK)
        pointer = channel
    }

    deinit {
        rdma_destroy_event_channel(pointer)
    }

    /// The next event, or nil when none comes within `timeout`.
    func next(timeout: Duration) throws(FabricError) -> ConnectionEvent? {
        let deadline = ContinuousClock.now + timeout
        while true {
            var raw: UnsafeMutablePointer<rdma_cm_event>?
            if rdma_get_cm_event(pointer, &raw) == 0, let raw {
                let event = raw.pointee
                let data: [UInt8] = if let bytes = event.param.conn.private_data, event.param.conn.private_data_len > 0 {
                    Array(UnsafeRawBufferPointer(start: bytes, count: Int(event.param.conn.private_data_len)))
                } else { [] }
                let copied = ConnectionEvent(type: event.event, status: event.status, id: event.id, privateData: data)
                rdma_ack_cm_event(raw)
                return copied
            }
            guard errno == EAGAIN || errno == EINTR else { throw FabricError.call("rdma_get_cm_event", "", returned: -1) }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return nil }
            var descriptor = pollfd(fd: pointer.pointee.fd, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            _ = poll(&descriptor, 1, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1))
        }
    }

    /// Waits for an event of `expected` type for `id`; any other event for it is an error
    /// naming what came instead.
    func await(_ expected: rdma_cm_event_type, for id: UnsafeMutablePointer<rdma_cm_id>, timeout: Duration,
               operation: String, subject: String) throws(FabricError) -> ConnectionEvent {
        guard let event = try next(timeout: timeout) else {
            throw FabricError(.timedOut, operation, subject: subject,
                              detail: "no \(String(cString: rdma_event_str(expected))) within \(timeout)")
        }
        guard event.type == expected, event.id == id else {
            let kind: FabricError.Kind = event.type == RDMA_CM_EVENT_REJECTED ? .rejected : .unexpectedEvent
            throw FabricError(kind, operation, subject: subject, code: event.status,
                              detail: "\(event.name) (status \(event.status)) instead of "
                                  + String(cString: rdma_event_str(expected)).uppercased().replacingOccurrences(of: " ", with: "_"))
        }
        return event
    }
}

/// A sockaddr for the CM from an address and port.
func withSocketAddress<Result>(_ address: IPAddress, port: UInt16,
                               _ body: (UnsafeMutablePointer<sockaddr>) -> Result) throws(FabricError) -> Result {
    let socketAddress: SocketAddress
    do {
        socketAddress = try SocketAddress(SocketEndpoint(address, port))
    } catch {
        throw FabricError(.call, "address", subject: "\(address)", code: error.code)
    }
    return socketAddress.withSockaddr { pointer, _ in body(UnsafeMutablePointer(mutating: pointer)) }
}

/// An RC queue pair connected through the CM, with its PD, CQ and the id's resources,
/// released once, in order: disconnect, QP, id, CQ, PD (and the channel of an active side).
public final class RDMAConnection: @unchecked Sendable {
    let id: UnsafeMutablePointer<rdma_cm_id>
    private let channel: EventChannel?
    public let domain: ProtectionDomain
    public let completions: CompletionQueue
    /// The send and receive queue depth (perftest's TX depth).
    public let depth: Int
    /// What the peer put in its REP (active side) or REQ (passive side).
    public private(set) var peerData: [UInt8]
    /// The largest payload a send carries inline (copied at post time); 0 where the device offers none.
    public private(set) var maxInline = 0
    private var connected = false

    /// What a QP asks to carry inline, as perftest's latency tests do; a device that
    /// offers less gets a QP without.
    static let requestedInline: UInt32 = 64

    private init(id: UnsafeMutablePointer<rdma_cm_id>, channel: EventChannel?, domain: ProtectionDomain,
                 depth: Int) throws(FabricError) {
        self.id = id
        self.channel = channel
        self.domain = domain
        self.depth = depth
        self.peerData = []
        do {
            completions = try CompletionQueue(domain.context, entries: 2 * depth + 1)
        } catch {
            rdma_destroy_id(id)
            throw error
        }
        var attributes = ibv_qp_init_attr()
        attributes.send_cq = completions.pointer
        attributes.recv_cq = completions.pointer
        attributes.qp_type = IBV_QPT_RC
        attributes.sq_sig_all = 0
        attributes.cap.max_send_wr = UInt32(depth)
        attributes.cap.max_recv_wr = UInt32(depth)
        attributes.cap.max_send_sge = 1
        attributes.cap.max_recv_sge = 1
        attributes.cap.max_inline_data = Self.requestedInline
        var status = rdma_create_qp(id, domain.pointer, &attributes)
        if status != 0 {
            attributes.cap.max_inline_data = 0
            status = rdma_create_qp(id, domain.pointer, &attributes)
        }
        maxInline = Int(attributes.cap.max_inline_data)
        guard status == 0 else {
            let error = FabricError.call("rdma_create_qp", "depth \(depth) on \(domain.context.name)", returned: status)
            rdma_destroy_id(id)
            throw error
        }
    }

    deinit {
        if connected { rdma_disconnect(id) }
        rdma_destroy_qp(id)
        rdma_destroy_id(id)
    }

    /// Connects to a listener at `destination` (from `source` where given) with
    /// `privateData` in the request (see the other `connect`).
    public static func connect(to destination: SocketEndpoint, from source: IPAddress?, depth: Int, privateData: [UInt8],
                               timeout: Duration = .seconds(10)) throws(FabricError) -> RDMAConnection {
        try connect(to: destination, from: source, depth: depth, timeout: timeout) { _ throws(FabricError) in privateData }
    }

    /// Connects to a listener at `destination` (from `source` where given): resolves the
    /// address and route, creates the QP in a new PD on the device the route leaves by,
    /// asks `request` for the private data (it may register memory in the connection's PD
    /// and name it there), and waits for ESTABLISHED. A CM rejection throws `.rejected`.
    public static func connect(to destination: SocketEndpoint, from source: IPAddress?, depth: Int, timeout: Duration = .seconds(10),
                               request: (RDMAConnection) throws(FabricError) -> [UInt8]) throws(FabricError) -> RDMAConnection {
        let channel = try EventChannel()
        var created: UnsafeMutablePointer<rdma_cm_id>?
        let status = rdma_create_id(channel.pointer, &created, nil, RDMA_PS_TCP)
        guard status == 0, let id = created else { throw FabricError.call("rdma_create_id", "\(destination)", returned: status) }
        let subject = "\(destination)"
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        do throws(FabricError) {
            let resolved: Int32 = try withSocketAddress(destination.address, port: destination.port) { target in
                guard let source else { return rdma_resolve_addr(id, nil, target, milliseconds) }
                return (try? withSocketAddress(source, port: 0) { rdma_resolve_addr(id, $0, target, milliseconds) }) ?? -1
            }
            guard resolved == 0 else { throw FabricError.call("rdma_resolve_addr", subject, returned: resolved) }
            _ = try channel.await(RDMA_CM_EVENT_ADDR_RESOLVED, for: id, timeout: timeout, operation: "rdma_resolve_addr", subject: subject)
            let routed = rdma_resolve_route(id, milliseconds)
            guard routed == 0 else { throw FabricError.call("rdma_resolve_route", subject, returned: routed) }
            _ = try channel.await(RDMA_CM_EVENT_ROUTE_RESOLVED, for: id, timeout: timeout, operation: "rdma_resolve_route", subject: subject)
        } catch {
            rdma_destroy_id(id)
            throw error
        }
        guard let verbs = id.pointee.verbs else {
            rdma_destroy_id(id)
            throw FabricError(.call, "rdma_resolve_route", subject: subject, code: ENODEV, detail: "the route names no RDMA device")
        }
        let context = DeviceContext(pointer: verbs)
        let domain: ProtectionDomain
        do {
            domain = try ProtectionDomain(context)
        } catch {
            rdma_destroy_id(id)
            throw error
        }
        let connection = try RDMAConnection(id: id, channel: channel, domain: domain, depth: depth)
        let connected = connection.withParameters(privateData: try request(connection)) { rdma_connect(id, $0) }
        guard connected == 0 else { throw FabricError.call("rdma_connect", subject, returned: connected) }
        let established = try channel.await(RDMA_CM_EVENT_ESTABLISHED, for: id, timeout: timeout, operation: "rdma_connect", subject: subject)
        connection.peerData = established.privateData
        connection.connected = true
        return connection
    }

    /// Accepts a CONNECT_REQUEST on `domain` (of the device the request arrived on), with
    /// receives posted by `prepare` before the peer can send; ESTABLISHED arrives on the listener's channel.
    static func accept(_ request: ConnectionEvent, domain: ProtectionDomain, depth: Int, privateData: [UInt8],
                       prepare: (RDMAConnection) throws(FabricError) -> Void) throws(FabricError) -> RDMAConnection {
        guard request.id.pointee.verbs == domain.context.pointer else {
            rdma_reject(request.id, nil, 0)
            rdma_destroy_id(request.id)
            throw FabricError(.call, "rdma_accept", subject: domain.context.name, code: EXDEV,
                              detail: "the request arrived on another RDMA device")
        }
        let connection = try RDMAConnection(id: request.id, channel: nil, domain: domain, depth: depth)
        connection.peerData = request.privateData
        try prepare(connection)
        let status = connection.withParameters(privateData: privateData) { rdma_accept(request.id, $0) }
        guard status == 0 else { throw FabricError.call("rdma_accept", "", returned: status) }
        connection.connected = true
        return connection
    }

    /// The connection parameters both sides give the CM: `privateData`, as many RDMA READs
    /// outstanding as the device allows (initiator and responder), and the most retries
    /// (transport and receiver-not-ready) before a QP gives up.
    private func withParameters(privateData: [UInt8], _ call: (UnsafeMutablePointer<rdma_conn_param>) -> Int32) -> Int32 {
        let reads = UInt8(clamping: domain.context.maxReadsOutstanding())
        return privateData.withUnsafeBytes { data in
            var parameters = rdma_conn_param()
            parameters.private_data = data.baseAddress
            parameters.private_data_len = UInt8(data.count)
            parameters.initiator_depth = reads
            parameters.responder_resources = reads
            parameters.retry_count = 7
            parameters.rnr_retry_count = 7
            return call(&parameters)
        }
    }

    /// Disconnects (the peer sees DISCONNECTED); the QP moves to ERROR and flushes.
    public func disconnect() {
        guard connected else { return }
        connected = false
        rdma_disconnect(id)
    }

    /// Waits for the peer's side of a disconnect (active side only).
    public func awaitDisconnected(timeout: Duration) throws(FabricError) {
        guard let channel else { return }
        _ = try channel.await(RDMA_CM_EVENT_DISCONNECTED, for: id, timeout: timeout, operation: "rdma_disconnect", subject: "peer")
    }

    var queuePair: UnsafeMutablePointer<ibv_qp> { id.pointee.qp }

    public var queuePairNumber: UInt32 { queuePair.pointee.qp_num }

    // MARK: work requests

    /// RDMA WRITE of `length` bytes at `offset` of `local` to `remote` (+ `remoteOffset`),
    /// with immediate data when given (the peer then consumes a receive).
    public func postWrite(_ local: MemoryRegion, offset: Int = 0, length: Int, to remote: RemoteBuffer, remoteOffset: Int = 0,
                          id requestID: UInt64, signaled: Bool = true, immediate: UInt32? = nil) throws(FabricError) {
        try post(immediate == nil ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_WRITE_WITH_IMM, local, offset: offset, length: length,
                 remote: remote.address + UInt64(remoteOffset), rkey: remote.rkey, id: requestID, signaled: signaled,
                 immediate: immediate ?? 0)
    }

    /// RDMA READ of `length` bytes from `remote` (+ `remoteOffset`) into `local` at `offset`.
    public func postRead(_ local: MemoryRegion, offset: Int = 0, length: Int, from remote: RemoteBuffer, remoteOffset: Int = 0,
                         id requestID: UInt64, signaled: Bool = true) throws(FabricError) {
        try post(IBV_WR_RDMA_READ, local, offset: offset, length: length, remote: remote.address + UInt64(remoteOffset),
                 rkey: remote.rkey, id: requestID, signaled: signaled, immediate: 0)
    }

    /// SEND of `length` bytes at `offset` of `local`.
    public func postSend(_ local: MemoryRegion, offset: Int = 0, length: Int, id requestID: UInt64,
                         signaled: Bool = true) throws(FabricError) {
        try post(IBV_WR_SEND, local, offset: offset, length: length, remote: 0, rkey: 0, id: requestID, signaled: signaled,
                 immediate: 0)
    }

    /// A receive of up to `length` bytes at `offset` of `local` (none: a receive for an
    /// immediate only).
    public func postReceive(_ local: MemoryRegion?, offset: Int = 0, length: Int = 0, id requestID: UInt64) throws(FabricError) {
        let address = local.map { $0.buffer.baseAddress! + offset }
        let status = dpucert_post_recv(queuePair, requestID, address, UInt32(local == nil ? 0 : length), local?.lkey ?? 0)
        guard status == 0 else { throw FabricError.call("ibv_post_recv", "QP \(queuePairNumber)", returned: status) }
    }

    private func post(_ opcode: ibv_wr_opcode, _ local: MemoryRegion, offset: Int, length: Int, remote: UInt64, rkey: UInt32,
                      id requestID: UInt64, signaled: Bool, immediate: UInt32) throws(FabricError) {
        // Small payloads go inline: the HCA need not read them back from memory.
        let inlined = length > 0 && length <= maxInline && opcode != IBV_WR_RDMA_READ
        let status = dpucert_post_send(queuePair, requestID, opcode.rawValue, local.buffer.baseAddress! + offset, UInt32(length),
                                       local.lkey, remote, rkey, immediate, signaled ? 1 : 0, inlined ? 1 : 0)
        guard status == 0 else { throw FabricError.call("ibv_post_send", "QP \(queuePairNumber)", returned: status) }
    }

    /// Spins on the CQ until `count` completions arrived or `deadline` passed (as perftest
    /// does: waiting on events would add the wake-up to every figure).
    public func completions(_ count: Int, by deadline: ContinuousClock.Instant) throws(FabricError) -> [WorkCompletion] {
        var collected: [WorkCompletion] = []
        while collected.count < count {
            let batch = try completions.poll(capacity: min(64, count - collected.count))
            if batch.isEmpty {
                if ContinuousClock.now >= deadline { break }
                continue
            }
            collected += batch
        }
        return collected
    }

    // MARK: state

    public func state() throws(FabricError) -> QueuePairState {
        var attributes = ibv_qp_attr()
        var initial = ibv_qp_init_attr()
        let status = ibv_query_qp(queuePair, &attributes, Int32(IBV_QP_STATE.rawValue), &initial)
        guard status == 0 else { throw FabricError.call("ibv_query_qp", "QP \(queuePairNumber)", returned: status) }
        return QueuePairState(attributes.qp_state)
    }

    /// Moves the QP to `state` (ERROR or RESET: no other attributes needed).
    public func move(to state: QueuePairState) throws(FabricError) {
        var attributes = ibv_qp_attr()
        attributes.qp_state = state.verbs
        let status = ibv_modify_qp(queuePair, &attributes, Int32(IBV_QP_STATE.rawValue))
        guard status == 0 else { throw FabricError.call("ibv_modify_qp", "QP \(queuePairNumber) to \(state.rawValue)", returned: status) }
    }

    /// From RESET back to RTS with the connection's own attributes (the CM keeps the
    /// path, remote QP number and PSNs): INIT, RTR, RTS.
    public func reinitialize() throws(FabricError) {
        for state in [QueuePairState.initialized, .readyToReceive, .readyToSend] {
            var attributes = ibv_qp_attr()
            attributes.qp_state = state.verbs
            var mask: Int32 = 0
            let prepared = rdma_init_qp_attr(id, &attributes, &mask)
            guard prepared == 0 else { throw FabricError.call("rdma_init_qp_attr", "QP \(queuePairNumber) \(state.rawValue)", returned: prepared) }
            let status = ibv_modify_qp(queuePair, &attributes, mask)
            guard status == 0 else { throw FabricError.call("ibv_modify_qp", "QP \(queuePairNumber) to \(state.rawValue)", returned: status) }
        }
    }
}

/// A CM id bound to a local address: listening for connections, or (not listening) a
/// port kept where nothing answers. Bound to the wildcard address it listens on every device.
public final class RDMAListener: @unchecked Sendable {
    let id: UnsafeMutablePointer<rdma_cm_id>
    private let channel: EventChannel
    public let port: UInt16
    /// The device the address belongs to; nil for the wildcard address.
    public let context: DeviceContext?

    public init(address: IPAddress, port: UInt16 = 0, listening: Bool = true) throws(FabricError) {
        channel = try EventChannel()
        var created: UnsafeMutablePointer<rdma_cm_id>?
        let status = rdma_create_id(channel.pointer, &created, nil, RDMA_PS_TCP)
        guard status == 0, let id = created else { throw FabricError.call("rdma_create_id", "\(address)", returned: status) }
        let bound = try withSocketAddress(address, port: port) { rdma_bind_addr(id, $0) }
        guard bound == 0 else {
            let error = FabricError.call("rdma_bind_addr", "\(address) port \(port)", returned: bound)
            rdma_destroy_id(id)
            throw error
        }
        let wildcard = address.bytes.allSatisfy { $0 == 0 }
        guard wildcard || id.pointee.verbs != nil else {
            rdma_destroy_id(id)
            throw FabricError(.call, "rdma_bind_addr", subject: "\(address)", code: ENODEV, detail: "the address belongs to no RDMA device")
        }
        if listening {
            let listened = rdma_listen(id, 16)
            guard listened == 0 else {
                let error = FabricError.call("rdma_listen", "\(address)", returned: listened)
                rdma_destroy_id(id)
                throw error
            }
        }
        self.id = id
        self.port = UInt16(bigEndian: rdma_get_src_port(id))
        self.context = id.pointee.verbs.map { DeviceContext(pointer: $0) }
    }

    deinit {
        rdma_destroy_id(id)
    }

    /// The next event for the listener or a connection it accepted; nil on timeout.
    public func nextEvent(timeout: Duration) throws(FabricError) -> ConnectionEvent? {
        try channel.next(timeout: timeout)
    }

    /// Accepts `request` (see `RDMAConnection.accept`).
    public func accept(_ request: ConnectionEvent, domain: ProtectionDomain, depth: Int, privateData: [UInt8],
                       prepare: (RDMAConnection) throws(FabricError) -> Void) throws(FabricError) -> RDMAConnection {
        try RDMAConnection.accept(request, domain: domain, depth: depth, privateData: privateData, prepare: prepare)
    }

    /// Refuses `request` (its id is destroyed).
    public func reject(_ request: ConnectionEvent) {
        rdma_reject(request.id, nil, 0)
        rdma_destroy_id(request.id)
    }

    /// Whether `event` is about `connection`.
    public static func event(_ event: ConnectionEvent, isFor connection: RDMAConnection) -> Bool {
        event.id == connection.id
    }
}
