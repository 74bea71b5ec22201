import Foundation

/// Enables and disables VFs of a PF: the one write the PCI suite makes. On a real
/// host the kernel does the work behind `sriov_numvfs`; an emulated tree supplies
/// its own model of that write.
public protocol SRIOVControl: Sendable {
    func setNumVFs(_ count: Int, on physicalFunction: PCIAddress) throws(SRIOVControlError)
}

public struct SRIOVControlError: Error, Sendable, Hashable, CustomStringConvertible {
    public var physicalFunction: PCIAddress
    public var requested: Int
    /// The errno of the write (EBUSY: VFs already enabled, ERANGE: more than TotalVFs,
    /// ENOENT: the driver cannot configure SR-IOV, ...).
    public var errno: Int32
    public var detail: String

    public init(physicalFunction: PCIAddress, requested: Int, errno: Int32, detail: String) {
        self.physicalFunction = physicalFunction
        self.requested = requested
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        "writing \(requested) to sriov_numvfs of \(physicalFunction) failed: \(detail) (\(String(cString: strerror(errno))))"
    }
}

/// The kernel's interface: a write to `<root>/devices/<PF>/sriov_numvfs`.
public struct SysfsSRIOVControl: SRIOVControl {
    public let root: String

    public init(root: String = PCISource.liveSysfsRoot) {
        self.root = root
    }

    public func setNumVFs(_ count: Int, on physicalFunction: PCIAddress) throws(SRIOVControlError) {
        let path = root + "/devices/\(physicalFunction)/sriov_numvfs"
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SRIOVControlError(physicalFunction: physicalFunction, requested: count, errno: errno,
                                    detail: "cannot open \(path)")
        }
        defer { close(descriptor) }
        let text = Array("\(count)\n".utf8)
        var written: Int
        repeat {
            written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        guard written == text.count else {
            throw SRIOVControlError(physicalFunction: physicalFunction, requested: count, errno: written < 0 ? errno : EIO,
                                    detail: "the kernel refused the write")
        }
    }
}
