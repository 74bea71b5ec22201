import Foundation
@testable import Probes
import Systems
import Testing

@Suite("Block integrity pattern")
struct BlockIOIntegrityTests {
    static let blockSize = 4096
    static let runID: UInt64 = 0xd0c_5eed

    @Test("CRC32C gives the Castagnoli check values and extends across pieces")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xe306_9283)
        // RFC 3720 (iSCSI) B.4 test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8a91_36aa)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62a8_ab43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46dd_794e)
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for split in [0, 1, 7, 8, 9, 500, 1000] {
            #expect(CRC32C.checksum(Array(bytes[split...]), continuing: CRC32C.checksum(Array(bytes[..<split])))
                == CRC32C.checksum(bytes))
        }
    }

    @Test("A block classifies as intact only for its own offset, generation and run")
    func blockClassification() {
        let block = IntegrityBlock.make(blockSize: 1024, offset: 8192, generation: 4, runID: Self.runID)
        func classify(_ bytes: [UInt8], offset: Int = 8192, generation: UInt64 = 4) -> IntegrityClass? {
            bytes.withUnsafeBytes { IntegrityBlock.classify($0, offset: offset, generation: generation, runID: Self.runID)?.kind }
        }
        #expect(classify(block) == nil)
        #expect(classify(block, offset: 4096) == .misdirected)
        #expect(classify(block, generation: 5) == .stale)
        #expect(classify(IntegrityBlock.make(blockSize: 1024, offset: 8192, generation: 4, runID: 1)) == .stale)
        #expect(classify([UInt8](repeating: 0, count: 1024)) == .unwritten)
        var flipped = block
        flipped[700] ^= 0x10
        #expect(classify(flipped) == .corrupted)
        // Flipping a bit of the CRC field itself is corruption too.
        var crcFlipped = block
        crcFlipped[37] ^= 1
        #expect(classify(crcFlipped) == .corrupted)
    }

    @Test("A written region verifies intact against its generation, and stale against the next")
    func writeAndVerify() throws {
        try BlockIOScratch.withFile(size: 1 << 20, fill: 0) { path in
            let region = IntegrityRegion(path: path, offset: 64 << 10, length: 256 << 10, blockSize: Self.blockSize, runID: Self.runID)
            let write = try region.write(generation: 1)
            #expect(write.generation == 1 && write.sync == .fsync)
            let verification = try region.verify(expecting: 1)
            #expect(verification.intact)
            #expect(verification.counts.ok == 64 && verification.counts.total == 64 && verification.findings.isEmpty)
            let next = try region.verify(expecting: 2)
            #expect(next.counts.stale == 64 && !next.intact)
            #expect(next.findings.count == 16)
            #expect(next.findings.first == IntegrityFinding(offset: 64 << 10, kind: .stale,
                                                            detail: "generation 1 of run 0xd0c5eed, expected generation 2 of run 0xd0c5eed"))
            // Outside the region nothing was written.
            #expect(try BlockIOScratch.read(path, at: 0, count: 64 << 10).allSatisfy { $0 == 0 })
        }
    }

    @Test("Deliberate damage is found and told apart: corrupted, misdirected, stale, torn, unwritten")
    func damageClassified() throws {
        let blockSize = Self.blockSize
        try BlockIOScratch.withFile(size: 16 * blockSize, fill: 0) { path in
            let region = IntegrityRegion(path: path, length: 16 * blockSize, blockSize: blockSize, runID: Self.runID)
            _ = try region.write(generation: 2)
            func offset(_ block: Int) -> Int { block * blockSize }
            func block(_ index: Int, generation: UInt64) -> [UInt8] {
                IntegrityBlock.make(blockSize: blockSize, offset: offset(index), generation: generation, runID: Self.runID)
            }
            // Block 3: one bit flipped in its payload.
            var flipped = try BlockIOScratch.read(path, at: offset(3), count: blockSize)
            flipped[2000] ^= 0x04
            try BlockIOScratch.overwrite(path, at: offset(3), with: flipped)
            // Block 7: block 5 copied over it, as a write landing at the wrong offset.
            try BlockIOScratch.overwrite(path, at: offset(7), with: try BlockIOScratch.read(path, at: offset(5), count: blockSize))
            // Block 9: generation 1 written back over it, as a lost write leaves the older data.
            _ = try IntegrityRegion(path: path, offset: offset(9), length: blockSize, blockSize: blockSize, runID: Self.runID)
                .write(generation: 1)
            // Block 11: sectors 0-3 of generation 2, 4-7 of generation 1.
            try BlockIOScratch.overwrite(path, at: offset(11), with: Array(block(11, generation: 2)[..<2048])
                + Array(block(11, generation: 1)[2048...]))
            // Block 13: never written.
            try BlockIOScratch.overwrite(path, at: offset(13), with: [UInt8](repeating: 0, count: blockSize))
            // Block 14: only its first three sectors reached the medium.
            try BlockIOScratch.overwrite(path, at: offset(14), with: Array(block(14, generation: 2)[..<1536])
                + [UInt8](repeating: 0, count: blockSize - 1536))
            // Block 15: a tear with a flipped bit on top is corruption.
            var tornAndFlipped = Array(block(15, generation: 1)[..<1024]) + Array(block(15, generation: 2)[1024...])
            tornAndFlipped[3000] ^= 0x80
            try BlockIOScratch.overwrite(path, at: offset(15), with: tornAndFlipped)

            let verification = try region.verify(expecting: 2)
            var expected = IntegrityCounts()
            expected.ok = 9
            expected.corrupted = 2
            expected.misdirected = 1
            expected.stale = 1
            expected.torn = 2
            expected.unwritten = 1
            #expect(verification.counts == expected)
            #expect(verification.findings.map(\.offset) == [3, 7, 9, 11, 13, 14, 15].map(offset))
            #expect(verification.findings.map(\.kind) == [.corrupted, .misdirected, .stale, .torn, .unwritten, .torn, .corrupted])
            #expect(verification.findings[1].detail == "holds the block for offset \(offset(5)) (generation 2 of run 0xd0c5eed)")
            #expect(verification.findings[3].detail == "sectors 0-3 generation 2 of run 0xd0c5eed, 4-7 generation 1 of run 0xd0c5eed")
            #expect(verification.findings[5].detail == "sectors 0-2 generation 2 of run 0xd0c5eed, 3-7 unwritten")
            #expect(verification.description.contains("9 ok, 2 corrupted, 1 misdirected, 1 stale, 2 torn, 1 unwritten"))
        }
    }

    @Test("The flush check writes, syncs, reopens and reads every block back")
    func flush() throws {
        try BlockIOScratch.withFile(size: 512 << 10, fill: 0) { path in
            let region = IntegrityRegion(path: path, length: 512 << 10, blockSize: 8192, runID: 42)
            let check = try region.checkFlush(generation: 3, sync: .fdatasync)
            #expect(check.survived)
            #expect(check.write.sync == .fdatasync && check.verification.counts.ok == 64)
            #expect(check.description.contains("after close and reopen: verified"))
        }
    }

    @Test("Regions the pattern cannot lay out are refused")
    func refusals() throws {
        try BlockIOScratch.withFile(size: 64 << 10, fill: 0) { path in
            let partial = IntegrityRegion(path: path, length: 64 << 10, blockSize: 1000, runID: 1)
            #expect(throws: BlockIOError.invalidJob(path: path, reason: "integrity block size 1000 is not a whole number of 512-byte sectors")) {
                try partial.write(generation: 1)
            }
            let region = IntegrityRegion(path: path, length: 64 << 10, runID: 1)
            #expect(throws: BlockIOError.invalidJob(path: path, reason: "integrity generations start at 1")) {
                try region.write(generation: 0)
            }
            let beyond = IntegrityRegion(path: path, length: 128 << 10, runID: 1)
            #expect(throws: BlockIOError.invalidJob(path: path, reason: "the region [0, +131072) passes the end of the file at 65536 bytes")) {
                try beyond.verify(expecting: 1)
            }
            let missing = IntegrityRegion(path: path + ".absent", length: 4096, runID: 1)
            #expect { try missing.verify(expecting: 1) } throws: { ($0 as? BlockIOError)?.code == ENOENT }
        }
    }
}
