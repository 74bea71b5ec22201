import CLibPCI
import CPCIShims
import Foundation
import Synchronization

/// One function as an access method delivers it: libpci's identity fields and the
/// raw configuration space, before any decoding.
public struct RawPCIFunction: Sendable, Hashable {
    public var address: PCIAddress
    /// Identity as the access method reports it; for sysfs that is the kernel's view
    /// (a VF's vendor/device come from its PF), for dumps the config bytes.
    public var vendorID: UInt16
    public var deviceID: UInt16
    /// class << 16 | subclass << 8 | prog-if
    public var classCode: UInt32
    public var revision: UInt8
    public var subsystemVendorID: UInt16?
    public var subsystemDeviceID: UInt16?
    /// The readable configuration space: 4096, 256, 64 or 0 bytes.
    public var config: [UInt8]
    /// For buses that know these without a sysfs tree; `LibPCIBus` leaves them to the
    /// sysfs extras, which read the same links.
    /// Names from the PCI ID database (pci.ids), when it knows them.
    public var vendorName: String?
    public var deviceName: String?
    /// What libpci warned about while reading this function.
    public var warnings: [String]

    public init(address: PCIAddress, vendorID: UInt16, deviceID: UInt16, classCode: UInt32, revision: UInt8,
                subsystemVendorID: UInt16? = nil, subsystemDeviceID: UInt16? = nil, config: [UInt8],
                warnings: [String] = []) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.classCode = classCode
        self.revision = revision
        self.subsystemVendorID = subsystemVendorID
        self.subsystemDeviceID = subsystemDeviceID
        self.config = config
        self.warnings = warnings
    }
}

/// A PCI bus that can be enumerated. The hardware bus, an emulated tree and a dump
/// file are all read through libpci; the protocol is the seam tests substitute.
public protocol PCIBus: Sendable {
    var source: PCISource { get }
    func scan() throws(PCIError) -> [RawPCIFunction]
}

/// libpci with the access method `source` selects.
public struct LibPCIBus: PCIBus {
    public let source: PCISource

    public init(source: PCISource) {
        self.source = source
    }

    public func scan() throws(PCIError) -> [RawPCIFunction] {
        try checkSourceExists()
        // libpci keeps per-access state and its error hook unwinds through C frames:
        // one scan at a time per process keeps that simple and safe.
        return try LibPCIBus.lock.withLock { (_: inout Void) throws(PCIError) -> [RawPCIFunction] in try scanLocked() }
    }

    private static let lock = Mutex(())

    private func checkSourceExists() throws(PCIError) {
        var isDirectory: ObjCBool = false
        switch source {
        case .live, .sysfs:
            let devices = (source.sysfsRoot ?? "") + "/devices"
            guard FileManager.default.fileExists(atPath: devices, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PCIError(.sourceNotFound, source: source,
                               message: "no sysfs PCI tree: expected a directory \(devices)")
            }
        case .dump(let path):
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw PCIError(.sourceNotFound, source: source, message: "no such dump file: \(path)")
            }
        }
    }

    private func scanLocked() throws(PCIError) -> [RawPCIFunction] {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let method: Int32
        let value: String
        switch source {
        case .live: (method, value) = (Int32(DPUCERT_PCI_LIVE_SYSFS.rawValue), "")
        case .sysfs(let root): (method, value) = (Int32(DPUCERT_PCI_SYSFS_ROOT.rawValue), root)
        case .dump(let path): (method, value) = (Int32(DPUCERT_PCI_DUMP.rawValue), path)
        }
        _ = takeWarnings()
        guard let access = dpucert_pci_open(method, value, &errorBuffer, errorBuffer.count) else {
            throw PCIError(.libpci, source: source, message: string(fromCBuffer: errorBuffer))
        }
        defer { dpucert_pci_close(access) }

        // Not PCI_FILL_NUMA_NODE, _IOMMU_GROUP or _DRIVER: libpci has them only from
        // sysfs, where SysfsExtrasReader reads the same files and links once (libpci
        // would resolve each link's whole path again, a dozen system calls per function).
        let fillFlags = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS
        var functions: [RawPCIFunction] = []
        var config = [UInt8](repeating: 0, count: 4096)
        var device = access.pointee.devices
        while let dev = device {
            device = dev.pointee.next
            let known = dpucert_pci_fill(dev, Int32(fillFlags), &errorBuffer, errorBuffer.count)
            guard known >= 0 else {
                throw PCIError(.libpci, source: source, message: string(fromCBuffer: errorBuffer))
            }
            let length = dpucert_pci_read_config(dev, &config, &errorBuffer, errorBuffer.count)
            guard length >= 0 else {
                throw PCIError(.libpci, source: source, message: string(fromCBuffer: errorBuffer))
            }
            let d = dev.pointee
            let hasSubsystem = known & Int32(PCI_FILL_SUBSYS) != 0 && (d.subsys_vendor_id != 0 || d.subsys_id != 0)
            let address = PCIAddress(domain: UInt32(truncatingIfNeeded: d.domain), bus: d.bus,
                                     device: d.dev, function: d.func)
            var nameBuffer = [CChar](repeating: 0, count: 256)
            let vendorName = dpucert_pci_vendor_name(access, &nameBuffer, Int32(nameBuffer.count), Int32(d.vendor_id))
                .map { String(cString: $0) }
            let deviceName = dpucert_pci_device_name(access, &nameBuffer, Int32(nameBuffer.count),
                                                     Int32(d.vendor_id), Int32(d.device_id)).map { String(cString: $0) }
            var function = RawPCIFunction(
                address: address,
                vendorID: d.vendor_id,
                deviceID: d.device_id,
                classCode: UInt32(d.device_class) << 8 | UInt32(d.prog_if),
                revision: d.rev_id,
                subsystemVendorID: hasSubsystem ? d.subsys_vendor_id : nil,
                subsystemDeviceID: hasSubsystem ? d.subsys_id : nil,
                config: Array(config[0..<Int(length)]),
                warnings: takeWarnings())
            function.vendorName = vendorName
            function.deviceName = deviceName
            functions.append(function)
        }
        return functions.sorted { $0.address < $1.address }
    }

    private func takeWarnings() -> [String] {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard dpucert_pci_take_warnings(&buffer, buffer.count) > 0 else { return [] }
        return string(fromCBuffer: buffer).split(separator: "\n").map(String.init)
    }
}

/// The NUL-terminated text at the start of a C buffer.
func string(fromCBuffer buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
