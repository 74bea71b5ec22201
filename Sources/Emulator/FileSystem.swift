// The one place where the emulator calls the C library on files; errno becomes EmulatorError.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum FileSystem {
    static func makeDirectory(_ path: String) throws(EmulatorError) {
        if mkdir(path, 0o755) != 0 {
            throw .fileSystem(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// `mkdir -p`: creates missing parents, accepts directories that already exist.
    static func makeDirectories(_ path: String) throws(EmulatorError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .fileSystem(operation: "mkdir", path: prefix, errno: errno)
            }
        }
    }

    static func writeFile(_ path: String, _ text: String) throws(EmulatorError) {
        try writeFile(path, Array(text.utf8))
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws(EmulatorError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw .fileSystem(operation: "open", path: path, errno: errno)
        }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .fileSystem(operation: "write", path: path, errno: errno)
            }
            written += result
        }
    }

    static func readText(_ path: String) throws(EmulatorError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            throw .fileSystem(operation: "open", path: path, errno: errno)
        }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = chunk.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress!, buffer.count)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .fileSystem(operation: "read", path: path, errno: errno)
            }
            if result == 0 { break }
            contents.append(contentsOf: chunk[0..<result])
        }
        return String(decoding: contents, as: UTF8.self)
    }

    static func symlink(target: String, at path: String) throws(EmulatorError) {
        #if canImport(Glibc)
        let result = Glibc.symlink(target, path)
        #elseif canImport(Musl)
        let result = Musl.symlink(target, path)
        #else
        let result = Darwin.symlink(target, path)
        #endif
        if result != 0 {
            throw .fileSystem(operation: "symlink \(target)", path: path, errno: errno)
        }
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    static func removeFile(_ path: String) throws(EmulatorError) {
        if unlink(path) != 0 {
            throw .fileSystem(operation: "unlink", path: path, errno: errno)
        }
    }

    /// Removes a directory if it is empty; a directory still in use stays.
    static func removeDirectoryIfEmpty(_ path: String) throws(EmulatorError) {
        if rmdir(path) != 0 && errno != ENOTEMPTY && errno != EEXIST {
            throw .fileSystem(operation: "rmdir", path: path, errno: errno)
        }
    }

    /// `rm -r` for trees the emulator wrote itself (plain files, symlinks, directories).
    static func removeTree(_ path: String) throws(EmulatorError) {
        guard let directory = opendir(path) else {
            throw .fileSystem(operation: "opendir", path: path, errno: errno)
        }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                // Some file systems do not fill d_type; ask the inode.
                var status = stat()
                isDirectory = lstat(path + "/" + name, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
            }
            entries.append((name, isDirectory))
        }
        closedir(directory)
        for entry in entries {
            let child = path + "/" + entry.name
            if entry.isDirectory {
                try removeTree(child)
            } else {
                try removeFile(child)
            }
        }
        if rmdir(path) != 0 {
            throw .fileSystem(operation: "rmdir", path: path, errno: errno)
        }
    }
}
