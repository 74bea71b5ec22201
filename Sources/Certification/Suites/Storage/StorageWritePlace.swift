import Foundation
import Glibc
import Inventory

/// Where the storage suite may write on a device, and why: the device itself only when
/// the profile marks the storage devices `destructive: true` and nothing lives on it;
/// a scratch file on its mounted file system when it holds one; otherwise nowhere, and
/// the check says so as an error rather than skipping.
enum StorageWritePlace: Sendable, Hashable {
    case device(String)
    case scratchFile(directory: String, reason: String)
    case refused(String)

    /// The largest scratch file the suite makes, so it never fills a host's file system.
    static let scratchBytes = 256 << 20
    /// The most of a destructive device a write test covers.
    static let deviceBytes = 1 << 30

    static func of(_ device: BlockDevice, destructive: Bool, reader: BlockDeviceReader) -> StorageWritePlace {
        let usage = BlockDeviceUsage.of(device, reader: reader)
        if usage.holdsData {
            guard let mount = usage.mounts.first else {
                return .refused("\(device.name) holds \(usage.description) and no mounted file system to put a scratch file on: "
                                + "dpucert does not write to it")
            }
            return .scratchFile(directory: mount.mountPoint, reason: "\(device.name) holds \(usage.description): "
                                + "write tests run on a scratch file there, with O_DIRECT, not on the device")
        }
        guard destructive else {
            return .refused("\(device.name) is not marked `destructive: true` in the profile's storage section and holds no "
                            + "mounted file system to put a scratch file on: dpucert does not write to it")
        }
        return .device(device.node)
    }
}

/// The file or device a write test writes, for the time of one check: a scratch file is
/// made (allocated, so writes measure the device and not the allocator) and removed after.
struct StorageWriteTarget {
    let path: String
    let length: Int
    let note: String
    let isScratch: Bool

    init(_ place: StorageWritePlace, device: BlockDevice) throws(StorageWriteRefusal) {
        switch place {
        case .device(let node):
            path = node
            length = min(Int(device.sizeBytes), StorageWritePlace.deviceBytes)
            note = "writes go to \(node) itself (the profile marks the storage devices destructive and nothing lives on it)"
            isScratch = false
        case .scratchFile(let directory, let reason):
            let file = (directory.hasSuffix("/") ? directory : directory + "/") + "dpucert-scratch-\(getpid())-\(device.name)"
            let descriptor = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw StorageWriteRefusal("cannot create the scratch file \(file): \(String(cString: strerror(errno)))")
            }
            let status = posix_fallocate(descriptor, 0, off_t(StorageWritePlace.scratchBytes))
            close(descriptor)
            guard status == 0 else {
                unlink(file)
                throw StorageWriteRefusal("cannot allocate \(StorageWritePlace.scratchBytes >> 20) MiB for the scratch file \(file): "
                                          + String(cString: strerror(status)))
            }
            path = file
            length = StorageWritePlace.scratchBytes
            note = reason + " (\(file), \(length >> 20) MiB)"
            isScratch = true
        case .refused(let reason):
            throw StorageWriteRefusal(reason)
        }
    }

    func remove() {
        if isScratch { unlink(path) }
    }
}

struct StorageWriteRefusal: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
