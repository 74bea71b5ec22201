// Systems: the thin typed layer over the Linux calls the rest of dpucert makes.
// POSIX sockets with errno-carrying errors (`Socket`, `SystemCallError`), IP address
// and endpoint types, subprocesses with deadlines (`CommandRunner`), work run inside a
// network namespace (`NetworkNamespace`, `ProbeSite`), kernel parameters written under
// /proc/sys (`KernelParameters`) and dpucert's state and configuration directories.
// It knows nothing of probes, labs or checks.
import CNetShims
import Glibc
import Synchronization

/// A failed system call: which operation, on what, and the errno it returned.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var subject: String
    public var code: Int32

    public init(_ operation: String, subject: String, code: Int32) {
        self.operation = operation
        self.subject = subject
        self.code = code
    }

    public var symbol: String { Errno.symbol(code) }

    public var description: String {
        "\(operation) \(subject): \(String(cString: strerror(code))) (\(symbol))"
    }
}

/// The one boundary where C calls return: errno becomes a `SystemCallError` and
/// EINTR is retried here, nowhere else.
package enum SystemCall {
    @discardableResult
    package static func check<Result: BinaryInteger>(_ operation: String, _ subject: @autoclosure () -> String,
                                             _ call: () -> Result) throws(SystemCallError) -> Result {
        while true {
            let result = call()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemCallError(operation, subject: subject(), code: code)
        }
    }
}

package enum Errno {
    package static func symbol(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "ECONNREFUSED"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case ENETUNREACH: "ENETUNREACH"
        case ETIMEDOUT: "ETIMEDOUT"
        case EACCES: "EACCES"
        case EPERM: "EPERM"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EADDRINUSE: "EADDRINUSE"
        case ENOENT: "ENOENT"
        case ENODEV: "ENODEV"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ECONNRESET: "ECONNRESET"
        case EPIPE: "EPIPE"
        case EAGAIN: "EAGAIN"
        case EINPROGRESS: "EINPROGRESS"
        case EPROTO: "EPROTO"
        case EIO: "EIO"
        case ENOSPC: "ENOSPC"
        case ENOSYS: "ENOSYS"
        case EROFS: "EROFS"
        case EBUSY: "EBUSY"
        case EISDIR: "EISDIR"
        case ENOTTY: "ENOTTY"
        case ENOMEM: "ENOMEM"
        case EFBIG: "EFBIG"
        default: "errno \(code)"
        }
    }
}

/// A socket file descriptor, closed once (explicitly or when released). Operations
/// may come from any thread; the kernel serialises them.
public final class Socket: Sendable {
    private let storage: Atomic<Int32>
    /// What the socket is for, used in error messages.
    public let label: String

    package init(descriptor: Int32, label: String) {
        self.storage = Atomic(descriptor)
        self.label = label
    }

    /// Opens a socket; `type` may include SOCK_NONBLOCK. Always close-on-exec.
    public convenience init(family: IPAddress.Family, type: Int32, protocol: Int32 = 0, label: String) throws(SystemCallError) {
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let fd = try SystemCall.check("socket", label) {
            Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        }
        self.init(descriptor: fd, label: label)
    }

    deinit { close() }

    public var descriptor: Int32 { storage.load(ordering: .acquiring) }

    /// Hands the descriptor to the caller, who closes it from now on.
    public func releaseDescriptor() -> Int32 {
        storage.exchange(-1, ordering: .acquiringAndReleasing)
    }

    public func close() {
        let fd = storage.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    // MARK: options

    public func setOption(level: Int32, name: Int32, value: Int32, _ what: String) throws(SystemCallError) {
        var value = value
        try SystemCall.check("setsockopt \(what)", label) {
            setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    public func setReuseAddress() throws(SystemCallError) {
        try setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, "SO_REUSEADDR")
    }

    /// IPv6 sockets in this project never accept IPv4-mapped traffic: each family is bound explicitly.
    public func setIPv6Only() throws(SystemCallError) {
        try setOption(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1, "IPV6_V6ONLY")
    }

    /// Makes the socket blocking, a receive giving up (EAGAIN) after `receiveTimeout`: a
    /// strict request/response exchange then costs one send and one receive call.
    public func setBlocking(receiveTimeout: Duration) throws(SystemCallError) {
        let flags = try SystemCall.check("fcntl F_GETFL", label) { fcntl(descriptor, F_GETFL) }
        try SystemCall.check("fcntl F_SETFL", label) { fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        try SystemCall.check("setsockopt SO_RCVTIMEO", label) {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Sends each small write at once (TCP_NODELAY): request/response timing, not batching.
    public func setNoDelay() throws(SystemCallError) {
        try setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1, "TCP_NODELAY")
    }

    /// Ends the sending direction (shutdown SHUT_WR): the peer reads end of stream, and
    /// may still answer.
    public func shutdownWrite() throws(SystemCallError) {
        try SystemCall.check("shutdown", label) { shutdown(descriptor, Int32(SHUT_WR)) }
    }

    /// The pending error (SO_ERROR), cleared by reading it.
    public func pendingError() throws(SystemCallError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        try SystemCall.check("getsockopt SO_ERROR", label) {
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &value, &length)
        }
        return value
    }

    // MARK: addressing

    public func bind(_ endpoint: SocketEndpoint) throws(SystemCallError) {
        let address = try SocketAddress(endpoint)
        try SystemCall.check("bind", "\(label) \(endpoint)") {
            address.withSockaddr { Glibc.bind(descriptor, $0, $1) }
        }
    }

    public func listen(backlog: Int32 = 128) throws(SystemCallError) {
        try SystemCall.check("listen", label) { Glibc.listen(descriptor, backlog) }
    }

    /// Starts or completes a connect; returns false when a non-blocking connect is in progress.
    public func connect(_ endpoint: SocketEndpoint) throws(SystemCallError) -> Bool {
        let address = try SocketAddress(endpoint)
        let result = address.withSockaddr { Glibc.connect(descriptor, $0, $1) }
        if result == 0 { return true }
        let code = errno
        if code == EINPROGRESS { return false }
        // A connect interrupted by a signal continues in the background, like EINPROGRESS.
        if code == EINTR { return false }
        throw SystemCallError("connect", subject: "\(label) \(endpoint)", code: code)
    }

    /// Accepts one connection; the new socket is non-blocking and close-on-exec.
    public func accept(label: String) throws(SystemCallError) -> (Socket, SocketEndpoint?) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try SystemCall.check("accept", self.label) {
                    dpucert_accept_cloexec(descriptor, address, &length, 1)
                }
            }
        }
        return (Socket(descriptor: fd, label: label), SocketAddress(storage: storage).endpoint)
    }

    public func localEndpoint() throws(SystemCallError) -> SocketEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try SystemCall.check("getsockname", label) { getsockname(descriptor, address, &length) }
            }
        }
        return SocketAddress(storage: storage).endpoint
    }

    // MARK: data

    @discardableResult
    public func send(_ bytes: [UInt8]) throws(SystemCallError) -> Int {
        try send(bytes[...])
    }

    /// Sends part of a buffer without copying it out first.
    @discardableResult
    public func send(_ bytes: ArraySlice<UInt8>) throws(SystemCallError) -> Int {
        try SystemCall.check("send", label) {
            bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    @discardableResult
    public func send(_ bytes: [UInt8], to endpoint: SocketEndpoint) throws(SystemCallError) -> Int {
        let address = try SocketAddress(endpoint)
        return try SystemCall.check("sendto", "\(label) \(endpoint)") {
            address.withSockaddr { pointer, length in
                bytes.withUnsafeBytes { Glibc.sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), pointer, length) }
            }
        }
    }

    /// Reads up to `limit` bytes; an empty result means end of stream.
    public func receive(limit: Int = 65536) throws(SystemCallError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = try SystemCall.check("recv", label) {
            buffer.withUnsafeMutableBytes { Glibc.recv(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return Array(buffer.prefix(count))
    }

    /// Reads one datagram with its sender.
    public func receiveFrom(limit: Int = 65536) throws(SystemCallError) -> ([UInt8], SocketEndpoint?) {
        var buffer = [UInt8](repeating: 0, count: limit)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try SystemCall.check("recvfrom", label) {
                    buffer.withUnsafeMutableBytes { Glibc.recvfrom(descriptor, $0.baseAddress, $0.count, 0, address, &length) }
                }
            }
        }
        return (Array(buffer.prefix(count)), SocketAddress(storage: storage).endpoint)
    }

    /// `receiveFrom` on a non-blocking socket: nil when nothing is queued (EAGAIN).
    public func receiveFromIfReady(limit: Int = 65536) throws(SystemCallError) -> ([UInt8], SocketEndpoint?)? {
        do {
            return try receiveFrom(limit: limit)
        } catch {
            if error.code == EAGAIN { return nil }
            throw error
        }
    }

    /// Reads into `buffer` (kept by the caller across reads, so a bulk reader allocates
    /// nothing per read): how many bytes, 0 at end of stream, nil when nothing is queued.
    public func receiveIfReady(into buffer: inout [UInt8]) throws(SystemCallError) -> Int? {
        do {
            return try SystemCall.check("recv", label) {
                buffer.withUnsafeMutableBytes { Glibc.recv(descriptor, $0.baseAddress, $0.count, 0) }
            }
        } catch {
            if error.code == EAGAIN { return nil }
            throw error
        }
    }

    /// `receive` on a non-blocking socket: nil when nothing is queued (EAGAIN).
    public func receiveIfReady(limit: Int = 65536) throws(SystemCallError) -> [UInt8]? {
        do {
            return try receive(limit: limit)
        } catch {
            if error.code == EAGAIN { return nil }
            throw error
        }
    }

    // MARK: waiting

    /// Waits until the socket is readable (or has an error / hang-up); false on timeout.
    public func waitReadable(timeout: Duration) throws(SystemCallError) -> Bool {
        try Self.wait(descriptor, events: Int16(POLLIN), timeout: timeout, label: label)
    }

    /// Waits until the socket is writable (a connect finished) or failed; false on timeout.
    public func waitWritable(timeout: Duration) throws(SystemCallError) -> Bool {
        try Self.wait(descriptor, events: Int16(POLLOUT), timeout: timeout, label: label)
    }

    private static func wait(_ fd: Int32, events: Int16, timeout: Duration, label: String) throws(SystemCallError) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let remaining = Poll.milliseconds(until: deadline)
            let ready = Glibc.poll(&entry, 1, remaining)
            if ready > 0 { return true }
            if ready == 0 { return false }
            let code = errno
            if code == EINTR { continue }
            throw SystemCallError("poll", subject: label, code: code)
        }
    }
}

package enum Poll {
    /// Milliseconds left until `deadline`, rounded up, never negative.
    package static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// A socket address built from an endpoint (link-local zones resolved to interface
/// indexes in the calling thread's network namespace).
package struct SocketAddress {
    private var storage = sockaddr_storage()
    private let length: socklen_t

    package init(_ endpoint: SocketEndpoint) throws(SystemCallError) {
        switch endpoint.address.family {
        case .ipv4:
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: endpoint.address.bytes) }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: address) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6:
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: endpoint.address.bytes) }
            if let zone = endpoint.address.zone {
                address.sin6_scope_id = try InterfaceIndex.lookup(zone)
            }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: address) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }

    package init(storage: sockaddr_storage) {
        self.storage = storage
        self.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    }

    package func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The endpoint, with the zone of a scoped address named after its interface.
    package var endpoint: SocketEndpoint? {
        withUnsafeBytes(of: storage) { raw -> SocketEndpoint? in
            switch Int32(storage.ss_family) {
            case AF_INET:
                let address = raw.load(as: sockaddr_in.self)
                let bytes = withUnsafeBytes(of: address.sin_addr) { Array($0) }
                return IPAddress(bytes: bytes).map { SocketEndpoint($0, UInt16(bigEndian: address.sin_port)) }
            case AF_INET6:
                let address = raw.load(as: sockaddr_in6.self)
                let bytes = withUnsafeBytes(of: address.sin6_addr) { Array($0) }
                let zone = address.sin6_scope_id == 0 ? nil : InterfaceIndex.name(address.sin6_scope_id)
                return IPAddress(bytes: bytes, zone: zone).map { SocketEndpoint($0, UInt16(bigEndian: address.sin6_port)) }
            default:
                return nil
            }
        }
    }
}

package enum InterfaceIndex {
    /// The index of `name` in the calling thread's network namespace.
    package static func lookup(_ name: String) throws(SystemCallError) -> UInt32 {
        let index = if_nametoindex(name)
        if index == 0 { throw SystemCallError("if_nametoindex", subject: name, code: errno == 0 ? ENODEV : errno) }
        return index
    }

    package static func name(_ index: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buffer) != nil else { return "\(index)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An error the kernel queued on a socket (IP_RECVERR / IPV6_RECVERR): the ICMP
/// message behind a refused connect or datagram, and who sent it.
public struct QueuedSocketError: Sendable, Hashable, CustomStringConvertible {
    public enum Origin: Sendable, Hashable {
        case local, icmp, icmp6, other(UInt8)
    }

    public var code: Int32
    public var origin: Origin
    public var icmpType: UInt8
    public var icmpCode: UInt8
    public var offender: IPAddress?
    /// Where the datagram that drew the error was sent (how an unconnected socket tells
    /// which of its datagrams an ICMP error answers).
    public var destination: SocketEndpoint?

    public var description: String {
        switch origin {
        case .icmp, .icmp6:
            return ICMPText.describe(origin == .icmp ? .ipv4 : .ipv6, type: icmpType, code: icmpCode)
        case .local: return "local error \(Errno.symbol(code))"
        case .other(let value): return "error origin \(value), \(Errno.symbol(code))"
        }
    }
}

extension Socket {
    /// Asks the kernel to queue ICMP errors with their sender (read with `takeQueuedError`).
    public func enableErrorQueue(family: IPAddress.Family) throws(SystemCallError) {
        switch family {
        case .ipv4: try setOption(level: Int32(IPPROTO_IP), name: IP_RECVERR, value: 1, "IP_RECVERR")
        case .ipv6: try setOption(level: Int32(IPPROTO_IPV6), name: IPV6_RECVERR, value: 1, "IPV6_RECVERR")
        }
    }

    /// Takes the oldest queued error, if any (never blocks).
    public func takeQueuedError() -> QueuedSocketError? {
        var data = [UInt8](repeating: 0, count: 512)
        var control = [UInt8](repeating: 0, count: 512)
        var name = sockaddr_storage()
        let received: Int = data.withUnsafeMutableBytes { dataBuffer in
            control.withUnsafeMutableBytes { controlBuffer in
                withUnsafeMutablePointer(to: &name) { namePointer in
                    var vector = iovec(iov_base: dataBuffer.baseAddress, iov_len: dataBuffer.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_name = UnsafeMutableRawPointer(namePointer)
                        message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBuffer.baseAddress
                        message.msg_controllen = controlBuffer.count
                        let count = recvmsg(descriptor, &message, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT))
                        return count < 0 ? -1 : Int(message.msg_controllen)
                    }
                }
            }
        }
        guard received > 0, var error = Self.parseExtendedError(Array(control.prefix(received))) else { return nil }
        error.destination = SocketAddress(storage: name).endpoint
        return error
    }

    /// Asks for a receive buffer of `bytes`: beyond net.core.rmem_max where the process
    /// may (SO_RCVBUFFORCE, CAP_NET_ADMIN), else as much as that cap allows. A burst the
    /// scheduler delays must queue here, not be dropped and counted against the path.
    public func setReceiveBuffer(_ bytes: Int32) throws(SystemCallError) {
        do {
            try setOption(level: SOL_SOCKET, name: SO_RCVBUFFORCE, value: bytes, "SO_RCVBUFFORCE")
        } catch {
            guard error.code == EPERM else { throw error }
            try setOption(level: SOL_SOCKET, name: SO_RCVBUF, value: bytes, "SO_RCVBUF")
        }
    }

    /// Reads the first IP(V6)_RECVERR control message: cmsghdr (16 bytes on LP64),
    /// sock_extended_err (16 bytes), then the offender's sockaddr.
    package static func parseExtendedError(_ control: [UInt8]) -> QueuedSocketError? {
        let headerSize = MemoryLayout<Int>.size + 8
        var offset = 0
        while offset + headerSize <= control.count {
            let length = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int.self) }
            let level = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self) }
            let type = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self) }
            guard length >= headerSize, offset + length <= control.count else { return nil }
            let isIPv4 = level == Int32(IPPROTO_IP) && type == IP_RECVERR
            let isIPv6 = level == Int32(IPPROTO_IPV6) && type == IPV6_RECVERR
            if (isIPv4 || isIPv6) && length >= headerSize + 16 {
                let body = Array(control[(offset + headerSize)..<(offset + length)])
                let code = body.withUnsafeBytes { Int32(bitPattern: $0.loadUnaligned(as: UInt32.self)) }
                let origin: QueuedSocketError.Origin = switch body[4] {
                case 1: .local
                case 2: .icmp
                case 3: .icmp6
                default: .other(body[4])
                }
                return QueuedSocketError(code: code, origin: origin, icmpType: body[5], icmpCode: body[6],
                                         offender: offender(Array(body[16...])))
            }
            offset += (length + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
        }
        return nil
    }

    private static func offender(_ bytes: [UInt8]) -> IPAddress? {
        guard bytes.count >= 8 else { return nil }
        let family = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
        if Int32(family) == AF_INET { return IPAddress(bytes: Array(bytes[4..<8])) }
        if Int32(family) == AF_INET6 && bytes.count >= 24 { return IPAddress(bytes: Array(bytes[8..<24])) }
        return nil
    }
}

/// Names of ICMP and ICMPv6 error messages, for evidence lines.
package enum ICMPText {
    package static func describe(_ family: IPAddress.Family, type: UInt8, code: UInt8) -> String {
        switch (family, type) {
        case (.ipv4, 3):
            let reason = switch code {
            case 0: "net unreachable"
            case 1: "host unreachable"
            case 2: "protocol unreachable"
            case 3: "port unreachable"
            case 9, 10, 13: "administratively prohibited"
            default: "code \(code)"
            }
            return "ICMP destination unreachable: \(reason)"
        case (.ipv4, 11): return "ICMP time exceeded"
        case (.ipv6, 1):
            let reason = switch code {
            case 0: "no route"
            case 1: "administratively prohibited"
            case 3: "address unreachable"
            case 4: "port unreachable"
            case 5: "source address failed policy"
            case 6: "reject route"
            default: "code \(code)"
            }
            return "ICMPv6 destination unreachable: \(reason)"
        case (.ipv6, 3): return "ICMPv6 time exceeded"
        default: return "\(family == .ipv4 ? "ICMP" : "ICMPv6") type \(type) code \(code)"
        }
    }
}
