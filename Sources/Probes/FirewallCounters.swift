import Foundation
import Systems

/// Where an nftables table lives: the site (namespace) and the table's family and name.
public struct FirewallLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var site: ProbeSite
    public var family: String
    public var table: String

    public init(site: ProbeSite, family: String, table: String) {
        self.site = site
        self.family = family
        self.table = table
    }

    public var description: String { "nft table \(family) \(table) in \(site)" }
}

/// A named nftables counter.
public struct FirewallCounter: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var packets: UInt64
    public var bytes: UInt64

    public init(name: String, packets: UInt64, bytes: UInt64) {
        self.name = name
        self.packets = packets
        self.bytes = bytes
    }

    public var description: String { "\(name) \(packets) packets \(bytes) bytes" }
}

/// Reads named counters with `nft -j list counters table FAMILY TABLE`.
public enum FirewallCounters {
    public static func read(_ location: FirewallLocation) throws -> [String: FirewallCounter] {
        let result = try CommandRunner.run(location.site.commandPrefix
            + ["nft", "-j", "list", "counters", "table", location.family, location.table])
        do {
            return try parse(result.standardOutput)
        } catch {
            throw ProbeError(site: location.site, "\(location): \(error)")
        }
    }

    /// Parses nft's JSON (`{"nftables": [{"metainfo": ...}, {"counter": {...}}, ...]}`).
    public static func parse(_ json: String) throws -> [String: FirewallCounter] {
        struct Document: Decodable {
            struct Entry: Decodable {
                struct Counter: Decodable {
                    var name: String
                    var packets: UInt64
                    var bytes: UInt64
                }
                var counter: Counter?
            }
            var nftables: [Entry]
        }
        let document = try JSONDecoder().decode(Document.self, from: Data(json.utf8))
        var counters: [String: FirewallCounter] = [:]
        for case let counter? in document.nftables.map(\.counter) {
            counters[counter.name] = FirewallCounter(name: counter.name, packets: counter.packets, bytes: counter.bytes)
        }
        return counters
    }
}
