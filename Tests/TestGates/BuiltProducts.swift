import Foundation

/// Executables this package builds, found where the tests can run them.
public enum BuiltProducts {
    /// The package's root folder.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The executable `name` beside the test bundle (SwiftPM builds products and tests into
    /// one folder), else in the debug build folder; nil when it is not built.
    public static func executable(named name: String) -> String? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = packageRoot + "/.build/debug/" + name
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }
}
