// Emulator: emulated SmartNICs/DPUs on the PCI bus.
//
// Owns the description of an emulated card (`EmulatedCard`), the encoder that turns it into
// the 4096-byte configuration space hardware would present (`ConfigSpaceEncoder`), the
// writer of sysfs-shaped trees that real libpci/lspci read (`EmulatedSysfsTree`), the
// SR-IOV control model behind `sriov_numvfs`, the fleet generator for scale runs
// (`EmulatedFleet`) and the PCI fault table (`PCIFault`): which single property each fault
// breaks and which certification tests it must turn red.
//
// The module is independent of Inventory and Profiles on purpose: it knows PCI, not
// profiles or tests; mapping a profile onto an `EmulatedCard` is the caller's job.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every failure the emulator reports, with enough context to act on it.
public enum EmulatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A card description that hardware could not present (field path, expected, found).
    case invalidDescription(card: String, field: String, expected: String, found: String)
    /// A system call on the tree failed.
    case fileSystem(operation: String, path: String, errno: Int32)
    /// The output directory already holds a tree; the writer never merges into one.
    case destinationNotEmpty(path: String)
    /// A file of an existing tree does not hold what the emulator wrote there.
    case corruptTree(path: String, expected: String, found: String)
    /// A fault that cannot break anything on this card.
    case faultNotApplicable(fault: String, card: String, reason: String)
    /// A write to `sriov_numvfs` the kernel would refuse.
    case sriovNumVFsRejected(SRIOVNumVFsRejection)

    public var description: String {
        switch self {
        case let .invalidDescription(card, field, expected, found):
            return "card \(card): \(field): expected \(expected), found \(found)"
        case let .fileSystem(operation, path, code):
            return "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .destinationNotEmpty(path):
            return "\(path) already contains an emulated tree (devices/ exists); choose an empty directory"
        case let .corruptTree(path, expected, found):
            return "\(path): expected \(expected), found \(found)"
        case let .faultNotApplicable(fault, card, reason):
            return "fault \(fault) cannot be applied to card \(card): \(reason)"
        case let .sriovNumVFsRejected(rejection):
            return rejection.description
        }
    }
}
