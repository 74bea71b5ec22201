// Fabric: typed RDMA over libibverbs and librdmacm, for a real RDMA NIC and for the
// kernel's Soft-RoCE alike: devices and ports, protection domains, memory regions,
// completion queues, RC queue pairs connected through the connection manager, the
// work requests the suites post, and their completions with the real status codes.
// Resources are classes released exactly once, in the order verbs requires, also when
// a check fails half-way; the responder's private-data contract and the data pattern
// both sides check live here too.
import Glibc
import Systems

/// A verbs or CM call that failed: what was asked, of what, and the errno it returned.
public struct FabricError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `ibv_get_device_list` found no RDMA subsystem in this kernel (ENOSYS).
        case noSubsystem
        /// A call failed with `code`.
        case call
        /// Nothing happened within the time allowed.
        case timedOut
        /// The connection manager answered with another event than the one awaited.
        case unexpectedEvent
        /// The peer's CM refused the connection (REJECTED; `code` is the CM's reason).
        case rejected
    }

    public var kind: Kind
    public var operation: String
    public var subject: String
    public var code: Int32
    public var detail: String

    public init(_ kind: Kind = .call, _ operation: String, subject: String, code: Int32 = 0, detail: String = "") {
        self.kind = kind
        self.operation = operation
        self.subject = subject
        self.code = code
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .noSubsystem:
            "no RDMA subsystem: \(operation) failed with \(String(cString: strerror(code))) (\(Errno.symbol(code)))"
        case .call:
            "\(operation) \(subject): \(String(cString: strerror(code))) (\(Errno.symbol(code)))" + (detail.isEmpty ? "" : "; \(detail)")
        case .timedOut, .unexpectedEvent, .rejected:
            "\(operation) \(subject): \(detail)"
        }
    }

    /// A failed call returning an errno value (verbs' convention) or -1 with errno set.
    static func call(_ operation: String, _ subject: String, returned value: Int32) -> FabricError {
        FabricError(.call, operation, subject: subject, code: value > 0 ? value : errno)
    }
}
