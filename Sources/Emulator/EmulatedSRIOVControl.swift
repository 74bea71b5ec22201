import Foundation
import Inventory
import Synchronization

/// The emulator's model of `sriov_numvfs` writes behind the protocol the PCI suite
/// uses: on a real host the kernel rebuilds the bus, here the tree is rewritten.
public final class EmulatedSRIOVControl: SRIOVControl {
    private let tree: Mutex<EmulatedSysfsTree>

    public init(tree: EmulatedSysfsTree) {
        self.tree = Mutex(tree)
    }

    public func setNumVFs(_ count: Int, on physicalFunction: PCIAddress) throws(SRIOVControlError) {
        let failure = tree.withLock { tree -> EmulatorError? in
            do throws(EmulatorError) {
                try tree.writeSRIOVNumVFs(count, physicalFunction: physicalFunction)
                return nil
            } catch {
                return error
            }
        }
        guard let failure else { return }
        if case .sriovNumVFsRejected(let rejection) = failure {
            throw SRIOVControlError(physicalFunction: physicalFunction, requested: count, errno: rejection.errno,
                                    detail: rejection.description)
        }
        throw SRIOVControlError(physicalFunction: physicalFunction, requested: count, errno: EIO, detail: failure.description)
    }
}
