// Probes: the block-integrity pattern. Each block says where it belongs, which write
// (generation, run) put it there, and carries a CRC32C, so a block read back is told
// apart as intact, corrupted, misdirected, stale, torn or never written
// (`IntegrityBlock`); CRC32C itself (`CRC32C`).
import Glibc

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and NVMe use:
/// table-driven, eight bytes a step (slicing by 8).
public enum CRC32C {
    /// The CRC of `bytes`; pass an earlier result as `continuing` to extend it, so that
    /// checksum(b, continuing: checksum(a)) == checksum(a + b).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var value = ~crc
        guard var pointer = bytes.baseAddress else { return crc }
        var remaining = bytes.count
        table.withUnsafeBufferPointer { table in
            while remaining >= 8 {
                let low = UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)) ^ value
                let high = UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                value = table[7 * 256 + Int(low & 0xff)] ^ table[6 * 256 + Int((low >> 8) & 0xff)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xff)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xff)] ^ table[2 * 256 + Int((high >> 8) & 0xff)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xff)] ^ table[Int(high >> 24)]
                pointer += 8
                remaining -= 8
            }
            while remaining > 0 {
                value = table[Int((value ^ UInt32(pointer.load(as: UInt8.self))) & 0xff)] ^ (value >> 8)
                pointer += 1
                remaining -= 1
            }
        }
        return ~value
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// Eight tables of 256: table k gives the CRC of a byte followed by k zero bytes.
    private static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var value = UInt32(byte)
            for _ in 0..<8 { value = value & 1 != 0 ? (value >> 1) ^ 0x82f6_3b78 : value >> 1 }
            table[byte] = value
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xff)]
            }
        }
        return table
    }()
}

/// How a block read back compares with what was written there.
public enum IntegrityClass: String, Sendable, Hashable, Codable, CaseIterable {
    /// This run's expected generation, at its own offset, its CRC holding.
    case ok
    /// The CRC does not hold and the damage is not a tear: bits changed.
    case corrupted
    /// A valid block (CRC holds) written for another offset: a write landed in the wrong place.
    case misdirected
    /// A valid block for this offset from another write: an older generation, or
    /// another run. The expected write was lost.
    case stale
    /// The block's 512-byte sectors are each intact but come from different writes, or
    /// some were never written: a write reached the medium only in part.
    case torn
    /// Zeros: nothing was ever written here (or the device returned zeros for it).
    case unwritten
}

/// One block that is not as expected: where, what, and the evidence.
public struct IntegrityFinding: Sendable, Hashable, Codable, CustomStringConvertible {
    public var offset: Int
    public var kind: IntegrityClass
    public var detail: String

    public init(offset: Int, kind: IntegrityClass, detail: String) {
        self.offset = offset
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "block at \(offset): \(kind.rawValue) (\(detail))" }
}

/// The layout of an integrity block of `blockSize` bytes (a multiple of 512), all
/// fields little-endian:
///
///     sector 0:  0 magic "DPUCBLK1"   8 offset   16 generation   24 run id
///               32 block size (UInt32)   36 CRC32C (UInt32)   40... payload
///     sector k:  0 generation   8 run id   16... payload                    (k ≥ 1)
///
/// The CRC covers the whole block except its own four bytes. The payload's 64-bit words
/// are a function of (offset, generation, run id, position), so any sector of any write
/// can be rebuilt; the per-sector stamps say which write each sector claims to be from.
///
/// Torn, precisely: the CRC fails, yet every sector is byte for byte what some write of
/// this run's pattern to this offset put there (the write its stamp, or for sector 0
/// its header, names), or is all zeros, and the sectors are not all from one write.
/// Devices promise atomic sectors, not atomic blocks, so an interrupted or reordered
/// block write leaves exactly this; a sector that matches no write is corruption.
public enum IntegrityBlock {
    public static let sectorSize = 512
    /// "DPUCBLK1" read as a little-endian word.
    public static let magic: UInt64 = 0x314b_4c42_4355_5044
    static let crcOffset = 36
    static let headerSize = 40
    static let stampSize = 16

    /// Writes into `block` the block for `offset` of write (`generation`, `runID`).
    public static func fill(_ block: UnsafeMutableRawBufferPointer, offset: Int, generation: UInt64, runID: UInt64) {
        let base = block.baseAddress!
        let seed = payloadSeed(offset: offset, generation: generation, runID: runID)
        let sectors = block.count / sectorSize
        for sector in 0..<sectors {
            let start = sector * sectorSize
            let payloadStart = sector == 0 ? headerSize : stampSize
            if sector > 0 {
                base.storeBytes(of: generation.littleEndian, toByteOffset: start, as: UInt64.self)
                base.storeBytes(of: runID.littleEndian, toByteOffset: start + 8, as: UInt64.self)
            }
            var position = start + payloadStart
            while position < start + sectorSize {
                base.storeBytes(of: payloadWord(seed: seed, position: position).littleEndian, toByteOffset: position, as: UInt64.self)
                position += 8
            }
        }
        base.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt64.self)
        base.storeBytes(of: UInt64(offset).littleEndian, toByteOffset: 8, as: UInt64.self)
        base.storeBytes(of: generation.littleEndian, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: runID.littleEndian, toByteOffset: 24, as: UInt64.self)
        base.storeBytes(of: UInt32(block.count).littleEndian, toByteOffset: 32, as: UInt32.self)
        base.storeBytes(of: checksum(UnsafeRawBufferPointer(block)).littleEndian, toByteOffset: crcOffset, as: UInt32.self)
    }

    /// The block for `offset` of write (`generation`, `runID`), as bytes.
    public static func make(blockSize: Int, offset: Int, generation: UInt64, runID: UInt64) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        block.withUnsafeMutableBytes { fill($0, offset: offset, generation: generation, runID: runID) }
        return block
    }

    /// The CRC32C of a block, its CRC field left out.
    static func checksum(_ block: UnsafeRawBufferPointer) -> UInt32 {
        let before = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: block[0..<crcOffset]))
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: block[(crcOffset + 4)...]), continuing: before)
    }

    /// How the block read back from `offset` compares with write (`generation`, `runID`);
    /// nil when it is that write, intact.
    public static func classify(_ block: UnsafeRawBufferPointer, offset: Int, generation: UInt64,
                                runID: UInt64) -> IntegrityFinding? {
        if isZero(block) { return IntegrityFinding(offset: offset, kind: .unwritten, detail: "all zeros") }
        let header = Header(block)
        if header.isValid(blockSize: block.count), header.crc == checksum(block) {
            if header.offset != offset {
                return IntegrityFinding(offset: offset, kind: .misdirected, detail: "holds the block for offset \(header.offset) "
                    + "(generation \(header.generation) of run \(hex(header.runID)))")
            }
            if header.generation != generation || header.runID != runID {
                return IntegrityFinding(offset: offset, kind: .stale, detail: "generation \(header.generation) of run "
                    + "\(hex(header.runID)), expected generation \(generation) of run \(hex(runID))")
            }
            return nil
        }
        if let sectors = tornSectors(block, offset: offset, header: header) {
            return IntegrityFinding(offset: offset, kind: .torn, detail: "sectors " + sectors)
        }
        let detail = header.isValid(blockSize: block.count)
            ? "CRC32C \(hex(UInt64(checksum(block)))) where the block says \(hex(UInt64(header.crc)))"
            : "no valid header (magic \(hex(header.magic)), block size \(header.blockSize))"
        return IntegrityFinding(offset: offset, kind: .corrupted, detail: detail)
    }

    /// When every sector is one write's or zeros, and not all one write: which sectors
    /// hold what ("0-3 generation 2 of run …, 4-7 unwritten"); otherwise nil.
    private static func tornSectors(_ block: UnsafeRawBufferPointer, offset: Int, header: Header) -> String? {
        struct Write: Hashable { var generation: UInt64; var runID: UInt64 }
        var rebuilt: [Write: [UInt8]] = [:]
        var sources: [Write?] = []
        for sector in 0..<(block.count / sectorSize) {
            let bytes = UnsafeRawBufferPointer(rebasing: block[(sector * sectorSize)..<((sector + 1) * sectorSize)])
            if isZero(bytes) {
                sources.append(nil)
                continue
            }
            let write: Write
            if sector == 0 {
                guard header.isValid(blockSize: block.count), header.offset == offset else { return nil }
                write = Write(generation: header.generation, runID: header.runID)
            } else {
                write = Write(generation: UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)),
                              runID: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            let expected = rebuilt[write] ?? make(blockSize: block.count, offset: offset, generation: write.generation,
                                                  runID: write.runID)
            rebuilt[write] = expected
            let matches = expected.withUnsafeBytes { expected in
                memcmp(expected.baseAddress! + sector * sectorSize, bytes.baseAddress!, sectorSize) == 0
            }
            guard matches else { return nil }
            sources.append(write)
        }
        // One write throughout would have passed the CRC; anything else this far is a tear.
        guard Set(sources).count > 1 else { return nil }
        var runs: [String] = []
        var start = 0
        for index in 1...sources.count where index == sources.count || sources[index] != sources[start] {
            let range = index - 1 == start ? "\(start)" : "\(start)-\(index - 1)"
            let what = sources[start].map { "generation \($0.generation) of run \(hex($0.runID))" } ?? "unwritten"
            runs.append("\(range) \(what)")
            start = index
        }
        return runs.joined(separator: ", ")
    }

    private struct Header {
        var magic: UInt64
        var offset: Int
        var generation: UInt64
        var runID: UInt64
        var blockSize: Int
        var crc: UInt32

        init(_ block: UnsafeRawBufferPointer) {
            magic = UInt64(littleEndian: block.loadUnaligned(as: UInt64.self))
            offset = Int(truncatingIfNeeded: UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            generation = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            runID = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            blockSize = Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
            crc = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: IntegrityBlock.crcOffset, as: UInt32.self))
        }

        func isValid(blockSize expected: Int) -> Bool { magic == IntegrityBlock.magic && blockSize == expected }
    }

    private static func payloadSeed(offset: Int, generation: UInt64, runID: UInt64) -> UInt64 {
        SplitMix64.mix(UInt64(truncatingIfNeeded: offset) ^ SplitMix64.mix(generation ^ SplitMix64.mix(runID)))
    }

    @inline(__always)
    private static func payloadWord(seed: UInt64, position: Int) -> UInt64 {
        SplitMix64.mix(seed &+ UInt64(position) &* 0x9e37_79b9_7f4a_7c15)
    }

    private static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
