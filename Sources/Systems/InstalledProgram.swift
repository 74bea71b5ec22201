import Foundation

/// Where external programs are installed.
public enum InstalledProgram {
    /// The first executable called `name` in PATH, then in the sbin folders a non-root
    /// PATH may lack (some distributions install lspci there).
    public static func path(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return folders.lazy.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
