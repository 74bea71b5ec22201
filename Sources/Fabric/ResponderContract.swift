import Glibc

/// What the host asks of the responder's side of one connection, carried in the CM's
/// private data of the connect request (at most 56 bytes on RC; this is 32):
///
///     0 magic "DPUR"   4 version   5 mode   6 tenant   7 zero
///     8 message bytes (UInt32)   12 depth (UInt32)
///     16 reply address (UInt64)   24 reply rkey (UInt32)   28 zero
///
/// All little-endian. The responder answers in the accept's private data with its echo
/// buffer (`ResponderReply`) where the mode has one.
public struct ResponderRequest: Sendable, Hashable {
    public enum Mode: UInt8, Sendable {
        /// No work on the responder's CPU: the host writes and reads registered regions.
        case passive = 0
        /// Each SEND is sent back as it arrived (send latency, send integrity).
        case echoSend = 1
        /// Each RDMA WRITE with immediate into the echo buffer is written back, with the
        /// same immediate, to the host's reply buffer (write latency).
        case echoWrite = 2
    }

    public static let magic: [UInt8] = Array("DPUR".utf8)
    public static let version: UInt8 = 1
    public static let encodedSize = 32

    public var mode: Mode
    /// The tenant whose protection domain the responder's QP is created in.
    public var tenant: Int
    public var messageBytes: Int
    public var depth: Int
    /// Where `echoWrite` writes back.
    public var reply: RemoteBuffer?

    public init(mode: Mode, tenant: Int = 0, messageBytes: Int = 0, depth: Int = 1, reply: RemoteBuffer? = nil) {
        self.mode = mode
        self.tenant = tenant
        self.messageBytes = messageBytes
        self.depth = depth
        self.reply = reply
    }

    public var encoded: [UInt8] {
        var bytes = Self.magic + [Self.version, mode.rawValue, UInt8(clamping: tenant), 0]
        bytes += littleEndian(UInt32(clamping: messageBytes)) + littleEndian(UInt32(clamping: depth))
        bytes += littleEndian(reply?.address ?? 0) + littleEndian(reply?.rkey ?? 0) + [0, 0, 0, 0]
        return bytes
    }

    /// Nil for anything but a request of this version (a stray or foreign connect).
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.encodedSize, Array(bytes[0..<4]) == Self.magic, bytes[4] == Self.version,
              let mode = Mode(rawValue: bytes[5]) else { return nil }
        self.mode = mode
        tenant = Int(bytes[6])
        messageBytes = Int(readLittleEndian(bytes, 8, as: UInt32.self))
        depth = Int(readLittleEndian(bytes, 12, as: UInt32.self))
        let address = readLittleEndian(bytes, 16, as: UInt64.self)
        let rkey = readLittleEndian(bytes, 24, as: UInt32.self)
        reply = address == 0 ? nil : RemoteBuffer(address: address, length: messageBytes, rkey: rkey)
    }
}

/// The responder's answer in the accept's private data: its echo buffer, where it has one.
public struct ResponderReply: Sendable, Hashable {
    public static let encodedSize = 16
    public var echoBuffer: RemoteBuffer?

    public init(echoBuffer: RemoteBuffer?) {
        self.echoBuffer = echoBuffer
    }

    public var encoded: [UInt8] {
        littleEndian(echoBuffer?.address ?? 0) + littleEndian(UInt32(clamping: echoBuffer?.length ?? 0))
            + littleEndian(echoBuffer?.rkey ?? 0)
    }

    public init(_ bytes: [UInt8]) {
        guard bytes.count >= Self.encodedSize, readLittleEndian(bytes, 0, as: UInt64.self) != 0 else {
            echoBuffer = nil
            return
        }
        echoBuffer = RemoteBuffer(address: readLittleEndian(bytes, 0, as: UInt64.self),
                                  length: Int(readLittleEndian(bytes, 8, as: UInt32.self)),
                                  rkey: readLittleEndian(bytes, 12, as: UInt32.self))
    }
}

private func littleEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func readLittleEndian<Value: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as: Value.Type) -> Value {
    var value: Value = 0
    withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<offset + MemoryLayout<Value>.size]) }
    return Value(littleEndian: value)
}

/// The data both sides can regenerate: xorshift64* words from a seed, so a byte checked
/// on one side was written by the other and by no earlier transfer (each transfer has its seed).
public enum RDMAPattern {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64) {
        // Mixed first, so that neighbouring seeds start far apart (and never at zero).
        var state = (seed &+ 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9 | 1
        var offset = 0
        while offset < buffer.count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            let word = (state &* 0x2545_F491_4F6C_DD1D).littleEndian
            withUnsafeBytes(of: word) { bytes in
                let count = min(8, buffer.count - offset)
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + count]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
            }
            offset += 8
        }
    }

    /// The offset of the first byte of `buffer` that differs from the pattern of `seed`.
    public static func firstMismatch(_ buffer: UnsafeRawBufferPointer, seed: UInt64) -> Int? {
        guard buffer.count > 0 else { return nil }
        let expected = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 8)
        defer { expected.deallocate() }
        fill(expected, seed: seed)
        guard memcmp(expected.baseAddress!, buffer.baseAddress!, buffer.count) != 0 else { return nil }
        return (0..<buffer.count).first { expected[$0] != buffer[$0] }
    }
}
