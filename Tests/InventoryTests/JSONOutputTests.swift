import Foundation
import Testing
@testable import Inventory

/// `jsonData()` writes through its own encoder for speed; its bytes must stay the ones
/// `JSONEncoder` writes with the options of the inventory contract.
@Suite("Inventory JSON is JSONEncoder's output, byte for byte")
struct JSONOutputTests {
    static func reference(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    @Test("every dump of the corpus", .enabled(if: DumpCorpus.available, DumpCorpus.reason),
          arguments: DumpCorpus.files)
    func corpus(file: String) throws {
        let inventory = try InventoryReader(source: .dump(path: DumpCorpus.directory + "/" + file)).read()
        #expect(try inventory.jsonData() == Self.reference(inventory))
    }

    @Test("a sysfs tree with every extra and a finding", .enabled(if: DumpCorpus.available, DumpCorpus.reason))
    func sysfsTree() throws {
        let tree = try SysfsTreeTests.buildSRIOVTree(totalVFsInSysfs: 4)
        let inventory = try InventoryReader(source: .sysfs(root: tree.root)).read()
        #expect(inventory.functions.contains { !$0.findings.isEmpty && !$0.netdevs.isEmpty })
        #expect(try inventory.jsonData() == Self.reference(inventory))
    }

    struct Nothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    struct Awkward: Encodable {
        var text = "quote\" back\\slash / \n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é € 😀 \u{2028}"
        var doubles: [Double] = [0, -0.0, 1, 2.5, 16, 1e-5, 1e22, 0.1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -123.456]
        var float: Float = 2.5
        var integers: [Int64] = [.min, .max, 0, -1]
        var unsigned: UInt64 = .max
        var small: [Int8] = [-128, 127]
        var flags = [true, false]
        var missing: Int?
        var optionals: [Int?] = [nil, 1]
        var empty: [Int] = []
        var emptyObject: [String: Int] = [:]
        var nested: [[Int]] = [[1], []]
        var nothing = Nothing()
        var keyed: [String: Int] = [
            "b": 1, "a": 2, "é": 3, "Z": 4, "_": 5, "currentLinkSpeedGTs": 6, "currentLinkWidth": 7,
            "currentL": 8, "currentL\u{1}": 9, "€": 10, "e": 11,
        ]
    }

    @Test("escapes, numbers, empty and nested containers, and key order")
    func awkwardValues() throws {
        let output = try PrettyJSONEncoder().encode(Awkward())
        #expect(output == (try Self.reference(Awkward())))
        #expect(try PrettyJSONEncoder().encode([String]()) == Self.reference([String]()))
        #expect(try PrettyJSONEncoder().encode("top") == Self.reference("top"))
    }

    struct Speeds: Encodable {
        var links: [[String: Double]]
    }

    @Test("a number JSON cannot hold is refused with its coding path", arguments: [Double.infinity, -.infinity, .nan])
    func nonFinite(value: Double) throws {
        let speeds = Speeds(links: [["maxSpeedGTs": 16], ["maxSpeedGTs": value]])
        func path(of error: any Error) -> String? {
            guard case EncodingError.invalidValue(_, let context) = error else { return nil }
            return context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        var expected: String?
        #expect { try Self.reference(speeds) } throws: { error in
            expected = path(of: error)
            return expected != nil
        }
        #expect { try PrettyJSONEncoder().encode(speeds) } throws: { error in
            path(of: error) == expected
        }
        #expect(expected == "links.Index 1.maxSpeedGTs")
    }
}
