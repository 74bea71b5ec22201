// Inventory: what is on a PCI bus, read through libpci and decoded from config space.
//
// It owns the access methods (live sysfs, another sysfs root, a bus dump file: the
// same three libpci offers), the decoding of configuration space (identity, capability
// chains, PCIe link, SR-IOV, ACS, AER, MSI-X), the sysfs extras the kernel adds
// (SR-IOV files, IOMMU groups, drivers, netdevs, block devices), and the findings where
// sysfs and config space disagree. It knows nothing of tests or reports.

/// Where a PCI inventory is read from; maps one-to-one onto libpci access methods.
public enum PCISource: Sendable, Hashable, CustomStringConvertible {
    /// The running kernel's bus, `/sys/bus/pci` (libpci `linux-sysfs`).
    case live
    /// A sysfs-shaped tree: `root` contains `devices/` (libpci `linux-sysfs`, `sysfs.path`).
    case sysfs(root: String)
    /// A bus dump in `lspci -x`/`-xxx`/`-xxxx` format (libpci `dump`, `dump.name`).
    case dump(path: String)

    public static let liveSysfsRoot = "/sys/bus/pci"

    /// The sysfs tree this source reads, when it reads one.
    public var sysfsRoot: String? {
        switch self {
        case .live: return Self.liveSysfsRoot
        case .sysfs(let root): return root
        case .dump: return nil
        }
    }

    public var description: String {
        switch self {
        case .live: return "live sysfs (\(Self.liveSysfsRoot))"
        case .sysfs(let root): return "sysfs tree \(root)"
        case .dump(let path): return "bus dump \(path)"
        }
    }
}
