import Foundation
import Inventory
import Probes
import Profiles
import Synchronization

/// Set once when the run is interrupted (SIGINT/SIGTERM); read by the runner and by
/// long check bodies.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .sequentiallyConsistent) }
    public var isCancelled: Bool { flag.load(ordering: .sequentiallyConsistent) }
}

/// The PCI side of the device under test, as the composition root provides it.
public struct PCIEnvironment: Sendable {
    public var bus: any PCIBus
    /// Nil where VFs cannot be enabled from here.
    public var sriovControl: (any SRIOVControl)?
    /// The inventory read when the run started (AER counters are compared with it).
    public var baseline: PCIInventory

    public init(bus: any PCIBus, sriovControl: (any SRIOVControl)?, baseline: PCIInventory) {
        self.bus = bus
        self.sriovControl = sriovControl
        self.baseline = baseline
    }

    /// Reads the bus again (after VFs were enabled, for instance).
    public func currentInventory() throws(PCIError) -> PCIInventory {
        try InventoryReader(bus: bus).read()
    }
}

/// The network side of the device under test: where the host, the DPU, its OOB
/// network, the peer and the tenants are, as the isolation suite probes them.
public struct IsolationEnvironment: Sendable {
    /// Nil when there is nothing to probe; `unavailableReason` says why.
    public var topology: LabTopology?
    public var unavailableReason: String

    public init(topology: LabTopology) {
        self.topology = topology
        self.unavailableReason = ""
    }

    public init(unavailable reason: String) {
        self.topology = nil
        self.unavailableReason = reason
    }
}

/// What a check is handed: the profile it verifies and the backends it may use.
public struct TestContext: Sendable {
    public let profile: Profile
    public let pci: PCIEnvironment
    public let isolation: IsolationEnvironment
    let cancellation: CancellationFlag
    let progressSink: @Sendable (String) -> Void

    public init(profile: Profile, pci: PCIEnvironment,
                isolation: IsolationEnvironment = IsolationEnvironment(unavailable: "no network lab was set up for this run"),
                cancellation: CancellationFlag = CancellationFlag(),
                progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.profile = profile
        self.pci = pci
        self.isolation = isolation
        self.cancellation = cancellation
        self.progressSink = progress
    }

    public var isCancelled: Bool { cancellation.isCancelled }

    /// A progress line for a long check (shown live on a terminal).
    public func progress(_ line: String) { progressSink(line) }

    func forTest(progress: @escaping @Sendable (String) -> Void) -> TestContext {
        TestContext(profile: profile, pci: pci, isolation: isolation, cancellation: cancellation, progress: progress)
    }
}
