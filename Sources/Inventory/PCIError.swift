/// Why an inventory could not be read.
public struct PCIError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// libpci reported a fatal error (bad dump line, unreadable tree, ...).
        case libpci
        /// The source named does not exist or is not the right kind of file.
        case sourceNotFound
    }

    public var code: Code
    public var source: PCISource
    public var message: String

    public init(_ code: Code, source: PCISource, message: String) {
        self.code = code
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
