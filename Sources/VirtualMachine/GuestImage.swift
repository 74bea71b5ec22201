import Foundation
import Systems

/// The guest's kernel and initramfs, built by `scripts/vm-guest build` from Debian packages
/// into the cache folder (`$DPUCERT_CACHE_DIR/vm/current`, default /var/cache/dpucert).
public struct GuestImage: Sendable, Hashable, Codable {
    public var directory: String
    public var kernel: String { directory + "/kernel" }
    public var initramfs: String { directory + "/initrd.img" }
    /// The guest kernel's release, as `scripts/vm-guest` recorded it.
    public var kernelRelease: String?

    public static let cacheVariable = "DPUCERT_CACHE_DIR"

    /// `$DPUCERT_CACHE_DIR/vm`, or /var/cache/dpucert/vm.
    public static var cacheDirectory: String {
        let base = getenv(cacheVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/var/cache/dpucert"
        return base + "/vm"
    }

    /// The newest image built into the cache.
    public static func current(in cache: String = cacheDirectory) throws(VMError) -> GuestImage {
        let link = cache + "/current"
        guard let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: link) else {
            throw .noGuestImage(directory: cache)
        }
        let directory = resolved.hasPrefix("/") ? resolved : cache + "/" + resolved
        let release = try? String(contentsOfFile: directory + "/kernel-release", encoding: .utf8)
        let image = GuestImage(directory: directory,
                               kernelRelease: release?.trimmingCharacters(in: .whitespacesAndNewlines))
        for file in [image.kernel, image.initramfs] where !FileManager.default.fileExists(atPath: file) {
            throw .noGuestImage(directory: cache)
        }
        return image
    }
}
