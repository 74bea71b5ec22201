import Glibc

/// A kernel parameter (a sysctl such as `net.ipv4.ip_forward`) and the value to give it.
public struct KernelParameter: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Its file under /proc/sys: the dots of the name are directory separators.
    public var path: String { "/proc/sys/" + name.split(separator: ".").joined(separator: "/") }

    public var description: String { "\(name)=\(value)" }
}

/// Writes kernel parameters as `sysctl -w` does, without a subprocess: the files under
/// /proc/sys/net belong to the network namespace of the thread that opens them, so the
/// writes run on a thread inside the site's namespace.
public enum KernelParameters {
    /// Writes each parameter at `site` in order. With `skippingAbsent`, a parameter the
    /// running kernel does not have (ENOENT, as for br_netfilter's keys when it is not
    /// built) is passed over, as `sysctl -e` does; any other failure stops the writes.
    public static func write(_ parameters: [KernelParameter], at site: ProbeSite, skippingAbsent: Bool = false) throws {
        try NetworkNamespace.run(in: site) {
            for parameter in parameters {
                if let error = write(parameter), !(skippingAbsent && error.code == ENOENT) { throw error }
            }
        }
    }

    /// Writes one parameter; the failure, if any.
    private static func write(_ parameter: KernelParameter) -> SystemCallError? {
        let path = parameter.path
        let bytes = Array((parameter.value + "\n").utf8)
        do {
            let fd = try SystemCall.check("open", path) { open(path, O_WRONLY | O_CLOEXEC) }
            defer { close(fd) }
            let written = try SystemCall.check("write", "\(path) (\(parameter.value))") {
                bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            }
            return written == bytes.count ? nil : SystemCallError("write", subject: "\(path): short write", code: EIO)
        } catch {
            return error
        }
    }
}
