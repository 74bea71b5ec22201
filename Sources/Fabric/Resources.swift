import CVerbs
import CVerbsShims
import Glibc

/// What a memory region lets the local HCA and remote peers do with it.
public struct MemoryAccess: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let localWrite = MemoryAccess(rawValue: Int32(IBV_ACCESS_LOCAL_WRITE.rawValue))
    public static let remoteWrite = MemoryAccess(rawValue: Int32(IBV_ACCESS_REMOTE_WRITE.rawValue))
    public static let remoteRead = MemoryAccess(rawValue: Int32(IBV_ACCESS_REMOTE_READ.rawValue))
    public static let remoteAtomic = MemoryAccess(rawValue: Int32(IBV_ACCESS_REMOTE_ATOMIC.rawValue))
    public static let all: MemoryAccess = [.localWrite, .remoteWrite, .remoteRead, .remoteAtomic]

    static let names: [(MemoryAccess, String)] = [(.localWrite, "local-write"), (.remoteWrite, "remote-write"),
                                                  (.remoteRead, "remote-read"), (.remoteAtomic, "remote-atomic")]

    /// `local-write,remote-read`, or `none`.
    public var description: String {
        let words = Self.names.filter { contains($0.0) }.map(\.1)
        return words.isEmpty ? "none" : words.joined(separator: ",")
    }

    /// The set a description names; nil for an unknown word.
    public init?(_ text: String) {
        var access: MemoryAccess = []
        guard text != "none" else {
            self = access
            return
        }
        for word in text.split(separator: ",") {
            guard let flag = Self.names.first(where: { $0.1 == word })?.0 else { return nil }
            access.insert(flag)
        }
        self = access
    }
}

/// An RDMA device as the CM opened it for a bound or resolved id (librdmacm owns the
/// context and keeps it open; it is not closed here).
public final class DeviceContext: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<ibv_context>
    public let name: String

    init(pointer: UnsafeMutablePointer<ibv_context>) {
        self.pointer = pointer
        self.name = String(cString: ibv_get_device_name(pointer.pointee.device))
    }

    /// The device's limit on outstanding RDMA READs per QP (initiator and responder).
    public func maxReadsOutstanding() -> Int {
        var attributes = ibv_device_attr()
        guard ibv_query_device(pointer, &attributes) == 0 else { return 1 }
        return Int(max(1, min(attributes.max_qp_rd_atom, attributes.max_qp_init_rd_atom)))
    }
}

/// A protection domain: memory regions and queue pairs of one PD may work together, and
/// no others.
public final class ProtectionDomain: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<ibv_pd>
    public let context: DeviceContext

    public init(_ context: DeviceContext) throws(FabricError) {
        guard let pd = ibv_alloc_pd(context.pointer) else { throw FabricError.call("ibv_alloc_pd", context.name, returned: -1) }
        self.pointer = pd
        self.context = context
    }

    deinit {
        ibv_dealloc_pd(pointer)
    }
}

/// A registered buffer, page-aligned and zeroed; deregistered and freed once, on release.
public final class MemoryRegion: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<ibv_mr>
    public let buffer: UnsafeMutableRawBufferPointer
    public let access: MemoryAccess
    public let domain: ProtectionDomain

    public init(_ domain: ProtectionDomain, bytes: Int, access: MemoryAccess) throws(FabricError) {
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 4096, max(bytes, 1))
        guard status == 0, let memory else {
            throw FabricError.call("posix_memalign", "\(bytes) bytes", returned: status)
        }
        memset(memory, 0, max(bytes, 1))
        guard let region = dpucert_reg_mr(domain.pointer, memory, bytes, access.rawValue) else {
            let error = FabricError.call("ibv_reg_mr", "\(bytes) bytes, access \(access)", returned: -1)
            free(memory)
            throw error
        }
        self.pointer = region
        self.buffer = UnsafeMutableRawBufferPointer(start: memory, count: bytes)
        self.access = access
        self.domain = domain
    }

    deinit {
        ibv_dereg_mr(pointer)
        free(buffer.baseAddress)
    }

    public var lkey: UInt32 { pointer.pointee.lkey }
    public var rkey: UInt32 { pointer.pointee.rkey }
    public var address: UInt64 { UInt64(UInt(bitPattern: buffer.baseAddress)) }
    public var length: Int { buffer.count }

    /// Where a peer writes or reads this region: its address, length and rkey.
    public var remote: RemoteBuffer { RemoteBuffer(address: address, length: length, rkey: rkey) }
}

/// A peer's memory region as a work request names it.
public struct RemoteBuffer: Sendable, Hashable, Codable {
    public var address: UInt64
    public var length: Int
    public var rkey: UInt32

    public init(address: UInt64, length: Int, rkey: UInt32) {
        self.address = address
        self.length = length
        self.rkey = rkey
    }
}

/// A completion queue, with a completion channel for waiting without spinning.
public final class CompletionQueue: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<ibv_cq>
    private let channel: UnsafeMutablePointer<ibv_comp_channel>
    public let context: DeviceContext

    public init(_ context: DeviceContext, entries: Int) throws(FabricError) {
        guard let channel = ibv_create_comp_channel(context.pointer) else {
            throw FabricError.call("ibv_create_comp_channel", context.name, returned: -1)
        }
        guard let cq = ibv_create_cq(context.pointer, Int32(entries), nil, channel, 0) else {
            let error = FabricError.call("ibv_create_cq", "\(context.name), \(entries) entries", returned: -1)
            ibv_destroy_comp_channel(channel)
            throw error
        }
        _ = fcntl(channel.pointee.fd, F_SETFL, fcntl(channel.pointee.fd, F_GETFL) | O_NONBLOCK)
        self.pointer = cq
        self.channel = channel
        self.context = context
        unacknowledgedEvents = 0
    }

    private var unacknowledgedEvents: UInt32

    deinit {
        if unacknowledgedEvents > 0 { ibv_ack_cq_events(pointer, unacknowledgedEvents) }
        ibv_destroy_cq(pointer)
        ibv_destroy_comp_channel(channel)
    }

    /// Up to `capacity` completions, at once (possibly none).
    public func poll(capacity: Int = 32) throws(FabricError) -> [WorkCompletion] {
        var raw = [dpucert_completion](repeating: dpucert_completion(), count: min(capacity, 64))
        let count = dpucert_poll_cq(pointer, Int32(raw.count), &raw)
        guard count >= 0 else { throw FabricError.call("ibv_poll_cq", context.name, returned: -1) }
        return raw.prefix(Int(count)).map(WorkCompletion.init)
    }

    /// Waits until completions arrive or `timeout` passes, without spinning: arms the
    /// queue, polls once more (a completion may have come before arming), then sleeps on
    /// the channel. Returns what arrived (empty on timeout).
    public func wait(timeout: Duration, capacity: Int = 32) throws(FabricError) -> [WorkCompletion] {
        let ready = try poll(capacity: capacity)
        guard ready.isEmpty else { return ready }
        let status = dpucert_req_notify_cq(pointer)
        guard status == 0 else { throw FabricError.call("ibv_req_notify_cq", context.name, returned: status) }
        let armed = try poll(capacity: capacity)
        guard armed.isEmpty else { return armed }
        var descriptor = pollfd(fd: channel.pointee.fd, events: Int16(POLLIN), revents: 0)
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        if Glibc.poll(&descriptor, 1, milliseconds) > 0 {
            var cq: UnsafeMutablePointer<ibv_cq>?
            var context: UnsafeMutableRawPointer?
            if ibv_get_cq_event(channel, &cq, &context) == 0 {
                unacknowledgedEvents += 1
                if unacknowledgedEvents >= 64 {
                    ibv_ack_cq_events(pointer, unacknowledgedEvents)
                    unacknowledgedEvents = 0
                }
            }
        }
        return try poll(capacity: capacity)
    }
}

/// One work completion with its real status.
public struct WorkCompletion: Sendable, Hashable {
    public var workRequestID: UInt64
    public var status: CompletionStatus
    public var opcode: UInt32
    public var byteLength: Int
    public var immediate: UInt32?
    public var vendorError: UInt32

    init(_ raw: dpucert_completion) {
        workRequestID = raw.wr_id
        status = CompletionStatus(rawValue: raw.status)
        opcode = raw.opcode
        byteLength = Int(raw.byte_len)
        immediate = raw.has_immediate != 0 ? raw.immediate : nil
        vendorError = raw.vendor_err
    }

    public var succeeded: Bool { status == .success }
}

/// `enum ibv_wc_status`, named as verbs names it.
public struct CompletionStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = CompletionStatus(rawValue: IBV_WC_SUCCESS.rawValue)
    public static let remoteAccessError = CompletionStatus(rawValue: IBV_WC_REM_ACCESS_ERR.rawValue)
    public static let flushed = CompletionStatus(rawValue: IBV_WC_WR_FLUSH_ERR.rawValue)

    private static let symbols: [UInt32: String] = [
        IBV_WC_SUCCESS.rawValue: "IBV_WC_SUCCESS", IBV_WC_LOC_LEN_ERR.rawValue: "IBV_WC_LOC_LEN_ERR",
        IBV_WC_LOC_QP_OP_ERR.rawValue: "IBV_WC_LOC_QP_OP_ERR", IBV_WC_LOC_PROT_ERR.rawValue: "IBV_WC_LOC_PROT_ERR",
        IBV_WC_WR_FLUSH_ERR.rawValue: "IBV_WC_WR_FLUSH_ERR", IBV_WC_MW_BIND_ERR.rawValue: "IBV_WC_MW_BIND_ERR",
        IBV_WC_BAD_RESP_ERR.rawValue: "IBV_WC_BAD_RESP_ERR", IBV_WC_LOC_ACCESS_ERR.rawValue: "IBV_WC_LOC_ACCESS_ERR",
        IBV_WC_REM_INV_REQ_ERR.rawValue: "IBV_WC_REM_INV_REQ_ERR", IBV_WC_REM_ACCESS_ERR.rawValue: "IBV_WC_REM_ACCESS_ERR",
        IBV_WC_REM_OP_ERR.rawValue: "IBV_WC_REM_OP_ERR", IBV_WC_RETRY_EXC_ERR.rawValue: "IBV_WC_RETRY_EXC_ERR",
        IBV_WC_RNR_RETRY_EXC_ERR.rawValue: "IBV_WC_RNR_RETRY_EXC_ERR", IBV_WC_REM_ABORT_ERR.rawValue: "IBV_WC_REM_ABORT_ERR",
        IBV_WC_GENERAL_ERR.rawValue: "IBV_WC_GENERAL_ERR",
    ]

    /// `IBV_WC_REM_ACCESS_ERR (remote access error)`.
    public var description: String {
        let symbol = Self.symbols[rawValue] ?? "status \(rawValue)"
        return "\(symbol) (\(String(cString: ibv_wc_status_str(ibv_wc_status(rawValue)))))"
    }
}

/// A queue pair's state (`enum ibv_qp_state`).
public enum QueuePairState: String, Sendable, Hashable {
    case reset = "RESET", initialized = "INIT", readyToReceive = "RTR", readyToSend = "RTS"
    case sendQueueDrained = "SQD", sendQueueError = "SQE", error = "ERROR", unknown = "UNKNOWN"

    init(_ state: ibv_qp_state) {
        switch state {
        case IBV_QPS_RESET: self = .reset
        case IBV_QPS_INIT: self = .initialized
        case IBV_QPS_RTR: self = .readyToReceive
        case IBV_QPS_RTS: self = .readyToSend
        case IBV_QPS_SQD: self = .sendQueueDrained
        case IBV_QPS_SQE: self = .sendQueueError
        case IBV_QPS_ERR: self = .error
        default: self = .unknown
        }
    }

    var verbs: ibv_qp_state {
        switch self {
        case .reset: IBV_QPS_RESET
        case .initialized: IBV_QPS_INIT
        case .readyToReceive: IBV_QPS_RTR
        case .readyToSend: IBV_QPS_RTS
        case .sendQueueDrained: IBV_QPS_SQD
        case .sendQueueError: IBV_QPS_SQE
        case .error: IBV_QPS_ERR
        case .unknown: IBV_QPS_UNKNOWN
        }
    }
}
