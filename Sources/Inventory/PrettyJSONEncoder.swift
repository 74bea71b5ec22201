import Foundation

/// Writes `Encodable` values as JSON byte for byte as `JSONEncoder` does with
/// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]` (two-space indent,
/// `"key" : value`, keys in UTF-8 order, empty containers with a blank line inside), for
/// the plain value types an inventory holds. A fleet inventory (thousands of functions)
/// spent most of its run in `JSONEncoder`, which allocates objects for every value; this
/// records values in one array and prints them from there.
///
/// Unlike `JSONEncoder` it has no special cases for `Date`, `Data`, `URL` or `Decimal`:
/// those would encode through their own `Encodable` conformance, so keep them out of the
/// inventory model (or add them here).
struct PrettyJSONEncoder {
    func encode(_ value: some Encodable) throws -> Data {
        let tree = JSONTree()
        try value.encode(to: NodeEncoder(tree: tree, node: JSONTree.root))
        var output = JSONOutput(tree: tree)
        output.write(JSONTree.root, depth: 0)
        return Data(output.bytes)
    }
}

/// Every value encoded so far. Node 0 is the root; the members of an object or array are
/// linked through `next`. Indices instead of objects keep encoding free of per-value
/// allocations.
private final class JSONTree {
    enum Content {
        /// Nothing encoded (yet); written as `{}`, as `JSONEncoder` does.
        case empty
        /// JSON text as is: a number, `true`, `false` or `null`.
        case literal(String)
        case string(String)
        case array
        case object
    }

    /// Links are 32-bit node indices (-1 for none), which keeps a node at 80 bytes.
    struct Node {
        var content = Content.empty
        /// The key of an object member.
        var key: String?
        /// The first eight bytes of `key`, big-endian: sorting compares these first.
        var keyPrefix: UInt64 = 0
        var parent: Int32
        var firstChild: Int32 = -1
        var lastChild: Int32 = -1
        var childCount: Int32 = 0
        var next: Int32 = -1
    }

    static let root = 0
    /// Unchecked: every access is a short read or write by the one encoding in progress,
    /// and the runtime check would cost more than the rest of an access.
    @exclusivity(unchecked) var nodes = [Node(parent: -1)]

    /// A new last member of `parent`.
    func appendChild(of parent: Int, key: String?) -> Int {
        let child = Int32(nodes.count)
        var node = Node(key: key, parent: Int32(parent))
        if let key { node.keyPrefix = Self.prefix(key) }
        nodes.append(node)
        let previous = nodes[parent].lastChild
        if previous >= 0 {
            nodes[Int(previous)].next = child
        } else {
            nodes[parent].firstChild = child
        }
        nodes[parent].lastChild = child
        nodes[parent].childCount += 1
        return Int(child)
    }

    /// The members of `node` in the order encoded.
    func children(of node: Int) -> [Int] {
        var children: [Int] = []
        children.reserveCapacity(Int(nodes[node].childCount))
        var child = nodes[node].firstChild
        while child >= 0 {
            children.append(Int(child))
            child = nodes[Int(child)].next
        }
        return children
    }

    /// Makes `node` a container, keeping the members of one opened before.
    func open(_ node: Int, as content: Content) {
        switch (nodes[node].content, content) {
        case (.object, .object), (.array, .array): break
        default: nodes[node].content = content
        }
    }

    func codingPath(to node: Int) -> [any CodingKey] {
        var path: [any CodingKey] = []
        var current = node
        while current != Self.root {
            let parent = Int(nodes[current].parent)
            if let key = nodes[current].key {
                path.append(PathKey(stringValue: key))
            } else {
                path.append(PathKey(position: children(of: parent).firstIndex(of: current) ?? 0))
            }
            current = parent
        }
        return path.reversed()
    }

    private static func prefix(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { utf8 in
            var prefix: UInt64 = 0
            for (index, byte) in utf8.prefix(8).enumerated() {
                prefix |= UInt64(byte) << (56 - 8 * UInt64(index))
            }
            return prefix
        }
    }
}

/// A key in a coding path: an object key, or `Index N` for an array position as
/// `JSONEncoder` names them.
private struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) { self.stringValue = stringValue }
    init(position: Int) {
        stringValue = "Index \(position)"
        intValue = position
    }
    init?(intValue: Int) { self.init(position: intValue) }
}

private struct NodeEncoder: Encoder {
    let tree: JSONTree
    let node: Int
    var codingPath: [any CodingKey] { tree.codingPath(to: node) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        tree.open(node, as: .object)
        return KeyedEncodingContainer(KeyedContainer<Key>(tree: tree, node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        tree.open(node, as: .array)
        return UnkeyedContainer(tree: tree, node: node)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(tree: tree, node: node)
    }
}

/// The text `JSONEncoder` writes for a number; NaN and infinities cannot be written.
private func number<T: BinaryFloatingPoint & LosslessStringConvertible>(
    _ value: T, tree: JSONTree, node: Int
) throws -> JSONTree.Content {
    guard value.isFinite else {
        throw EncodingError.invalidValue(value, EncodingError.Context(
            codingPath: tree.codingPath(to: node), debugDescription: "Unable to encode \(T.self).\(value) directly in JSON."))
    }
    var text = value.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    return .literal(text)
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let tree: JSONTree
    let node: Int
    var codingPath: [any CodingKey] { tree.codingPath(to: node) }

    private func member(_ key: Key) -> Int { tree.appendChild(of: node, key: key.stringValue) }
    private func set(_ content: JSONTree.Content, _ key: Key) {
        let child = member(key)
        tree.nodes[child].content = content
    }

    mutating func encodeNil(forKey key: Key) throws { set(.literal("null"), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.literal(value ? "true" : "false"), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        let child = member(key)
        tree.nodes[child].content = try number(value, tree: tree, node: child)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        let child = member(key)
        tree.nodes[child].content = try number(value, tree: tree, node: child)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        try value.encode(to: NodeEncoder(tree: tree, node: member(key)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(tree: tree, node: member(key)).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(tree: tree, node: member(key)).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(tree: tree, node: tree.appendChild(of: node, key: "super"))
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(tree: tree, node: member(key))
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let tree: JSONTree
    let node: Int
    var codingPath: [any CodingKey] { tree.codingPath(to: node) }
    var count: Int { Int(tree.nodes[node].childCount) }

    private func element() -> Int { tree.appendChild(of: node, key: nil) }
    private func append(_ content: JSONTree.Content) {
        let child = element()
        tree.nodes[child].content = content
    }

    mutating func encodeNil() throws { append(.literal("null")) }
    mutating func encode(_ value: Bool) throws { append(.literal(value ? "true" : "false")) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws {
        let child = element()
        tree.nodes[child].content = try number(value, tree: tree, node: child)
    }
    mutating func encode(_ value: Float) throws {
        let child = element()
        tree.nodes[child].content = try number(value, tree: tree, node: child)
    }
    mutating func encode(_ value: Int) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int8) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int16) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int32) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int64) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt8) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt16) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt32) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt64) throws { append(.literal(String(value))) }
    mutating func encode(_ value: some Encodable) throws {
        try value.encode(to: NodeEncoder(tree: tree, node: element()))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(tree: tree, node: element()).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(tree: tree, node: element()).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(tree: tree, node: element())
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let tree: JSONTree
    let node: Int
    var codingPath: [any CodingKey] { tree.codingPath(to: node) }

    private func set(_ content: JSONTree.Content) { tree.nodes[node].content = content }

    mutating func encodeNil() throws { set(.literal("null")) }
    mutating func encode(_ value: Bool) throws { set(.literal(value ? "true" : "false")) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try number(value, tree: tree, node: node)) }
    mutating func encode(_ value: Float) throws { set(try number(value, tree: tree, node: node)) }
    mutating func encode(_ value: Int) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int8) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int16) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int32) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int64) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt8) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt16) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt32) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt64) throws { set(.literal(String(value))) }
    mutating func encode(_ value: some Encodable) throws {
        try value.encode(to: NodeEncoder(tree: tree, node: node))
    }
}

/// The pretty-printed text of a tree.
private struct JSONOutput {
    let tree: JSONTree
    var bytes: [UInt8] = []

    init(tree: JSONTree) {
        self.tree = tree
    }

    mutating func write(_ node: Int, depth: Int) {
        switch tree.nodes[node].content {
        case .literal(let text):
            bytes.append(contentsOf: text.utf8)
        case .string(let text):
            writeString(text)
        case .array:
            bytes.append(UInt8(ascii: "["))
            writeMembers(tree.children(of: node), depth: depth)
            bytes.append(UInt8(ascii: "]"))
        case .object, .empty:
            bytes.append(UInt8(ascii: "{"))
            writeMembers(membersInKeyOrder(of: node), depth: depth)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The members sorted by the UTF-8 bytes of their keys; of members with the same key
    /// the last encoded one stays, as `JSONEncoder` keeps it.
    private func membersInKeyOrder(of node: Int) -> [Int] {
        let nodes = tree.nodes
        let sorted = tree.children(of: node).sorted { left, right in
            if nodes[left].keyPrefix != nodes[right].keyPrefix { return nodes[left].keyPrefix < nodes[right].keyPrefix }
            return Self.utf8Precedes(nodes[left].key ?? "", nodes[right].key ?? "")
        }
        return sorted.indices.compactMap { index in
            guard index + 1 < sorted.count else { return sorted[index] }
            let (member, following) = (sorted[index], sorted[index + 1])
            let sameKey = nodes[member].keyPrefix == nodes[following].keyPrefix && nodes[member].key == nodes[following].key
            return sameKey ? nil : member
        }
    }

    private static func utf8Precedes(_ left: String, _ right: String) -> Bool {
        let contiguous = left.utf8.withContiguousStorageIfAvailable { leftBytes in
            right.utf8.withContiguousStorageIfAvailable { leftBytes.lexicographicallyPrecedes($0) }
        }
        return (contiguous ?? nil) ?? left.utf8.lexicographicallyPrecedes(right.utf8)
    }

    /// One member per line, indented one level deeper; an empty container keeps its blank line.
    private mutating func writeMembers(_ members: [Int], depth: Int) {
        bytes.append(UInt8(ascii: "\n"))
        for (index, member) in members.enumerated() {
            if index > 0 { bytes.append(contentsOf: ",\n".utf8) }
            indent(depth + 1)
            if let key = tree.nodes[member].key {
                writeString(key)
                bytes.append(contentsOf: " : ".utf8)
            }
            write(member, depth: depth + 1)
        }
        bytes.append(UInt8(ascii: "\n"))
        indent(depth)
    }

    private mutating func indent(_ depth: Int) {
        for _ in 0..<(2 * depth) { bytes.append(UInt8(ascii: " ")) }
    }

    /// `text` as a JSON string: quotes, backslashes and control characters escaped, `/` and
    /// everything else as is.
    private mutating func writeString(_ text: String) {
        var text = text
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            guard utf8.contains(where: Self.needsEscape) else {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
                case 0x0a: bytes.append(contentsOf: #"\n"#.utf8)
                case 0x0d: bytes.append(contentsOf: #"\r"#.utf8)
                case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
                case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
                case 0x0c: bytes.append(contentsOf: #"\f"#.utf8)
                case ..<0x20:
                    let digits = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: #"\u00"#.utf8)
                    bytes.append(contentsOf: [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}
