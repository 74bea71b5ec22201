import Foundation
import Systems

/// This dpucert executable and the shared libraries it loads, put in the guest's share
/// so the guest runs the very code the host runs: the host and the guest are both
/// Debian 12, and the copied loader makes the guest use exactly the copied libraries.
public struct GuestPayload: Sendable, Hashable {
    /// The command that starts dpucert inside the guest (paths under the guest's /dpucert).
    public var guestCommand: [String]

    /// Copies (or hard-links) `executable` to `folder/bin/dpucert` and its libraries to
    /// `folder/lib`; `guestFolder` is where `folder` appears inside the guest.
    public static func stage(executable: String = "/proc/self/exe", into folder: String,
                             guestFolder: String) throws(VMError) -> GuestPayload {
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
        let libraries = try sharedLibraries(of: binary)
        try makeDirectory(folder + "/bin")
        try place(binary, at: folder + "/bin/dpucert")
        guard !libraries.isEmpty else {
            return GuestPayload(guestCommand: [guestFolder + "/bin/dpucert"])
        }
        try makeDirectory(folder + "/lib")
        var loader: String?
        for library in libraries {
            let name = URL(fileURLWithPath: library).lastPathComponent
            try place(URL(fileURLWithPath: library).resolvingSymlinksInPath().path, at: folder + "/lib/" + name)
            if name.hasPrefix("ld-linux") { loader = name }
        }
        guard let loader else {
            throw .files(path: binary, reason: "ldd lists libraries but no dynamic loader")
        }
        return GuestPayload(guestCommand: [guestFolder + "/lib/" + loader, "--library-path", guestFolder + "/lib",
                                           guestFolder + "/bin/dpucert"])
    }

    /// The absolute paths `ldd` resolves for `binary` (the loader included); empty for a
    /// static executable.
    static func sharedLibraries(of binary: String) throws(VMError) -> [String] {
        let result: CommandResult
        do {
            result = try CommandRunner.run(["ldd", binary], allowFailure: true)
        } catch {
            throw .command(error)
        }
        if !result.succeeded {
            if (result.standardOutput + result.standardError).contains("not a dynamic executable") { return [] }
            throw .files(path: binary, reason: "ldd failed: \(result.standardError)")
        }
        var paths: [String] = []
        for line in result.standardOutput.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            if line.contains("=> not found") {
                throw .files(path: binary, reason: "a library it needs is not found: \(line.trimmingCharacters(in: .whitespaces))")
            }
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
                paths.append(words[arrow + 1])
            } else if let first = words.first, first.hasPrefix("/") {
                paths.append(first)
            }
        }
        return paths
    }

    private static func makeDirectory(_ path: String) throws(VMError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .files(path: path, reason: "cannot create: \(error.localizedDescription)")
        }
    }

    /// A hard link where the two paths share a file system (no copy of ~100 MB), else a copy.
    private static func place(_ source: String, at destination: String) throws(VMError) {
        unlink(destination)
        if link(source, destination) == 0 { return }
        do {
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        } catch {
            throw .files(path: destination, reason: "cannot copy \(source): \(error.localizedDescription)")
        }
    }
}
