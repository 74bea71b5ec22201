import Foundation
import Inventory
import Profiles
import Synchronization
import Systems
import Testbed

/// A cancellation token, set once: by SIGINT/SIGTERM for the whole run, or by the
/// runner for one check at its deadline. Check bodies read `isCancelled`; the runner
/// registers a handler to be woken the moment it turns true.
public final class CancellationFlag: Sendable {
    private struct State {
        var cancelled = false
        var nextHandlerID = 0
        var handlers: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Sets the flag and runs every registered handler once (outside the lock).
    public func cancel() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.cancelled else { return [] }
            state.cancelled = true
            defer { state.handlers = [:] }
            return Array(state.handlers.values)
        }
        handlers.forEach { $0() }
    }

    public var isCancelled: Bool { state.withLock(\.cancelled) }

    /// Runs `handler` when the flag is set (at once if it already is). The returned
    /// closure removes the handler.
    @discardableResult
    func onCancel(_ handler: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let registered = state.withLock { state -> Int? in
            guard !state.cancelled else { return nil }
            let id = state.nextHandlerID
            state.nextHandlerID += 1
            state.handlers[id] = handler
            return id
        }
        guard let registered else {
            handler()
            return {}
        }
        return { [self] in _ = state.withLock { $0.handlers.removeValue(forKey: registered) } }
    }

    /// A token that is set when this one is, and can also be set on its own.
    func child() -> (token: CancellationFlag, release: @Sendable () -> Void) {
        let token = CancellationFlag()
        let release = onCancel { token.cancel() }
        return (token, release)
    }
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

/// The testbed of the run (the emulated lab, a hardware testbed file), or why there is
/// none: the checks that probe the network skip with that reason.
public struct TestbedEnvironment: Sendable {
    /// Nil when there is nothing to probe; `unavailableReason` says why.
    public var available: (any Testbed)?
    public var unavailableReason: String

    public init(_ testbed: any Testbed) {
        self.available = testbed
        self.unavailableReason = ""
    }

    public init(unavailable reason: String) {
        self.available = nil
        self.unavailableReason = reason
    }
}

/// The agent whose RDMA responder the data-path checks drive (the peer across the wire).
public struct RDMAPeer: Sendable, Hashable {
    public var control: SocketEndpoint
    public var tokenFile: String
    /// The responder's address on its RDMA device.
    public var address: IPAddress
    /// The host's address on the device under test, where connections leave from; nil: the route decides.
    public var source: IPAddress?

    public init(control: SocketEndpoint, tokenFile: String, address: IPAddress, source: IPAddress?) {
        self.control = control
        self.tokenFile = tokenFile
        self.address = address
        self.source = source
    }
}

/// The RDMA side of the run: the device under test and the peer, or why there is none.
public struct RDMAEnvironment: Sendable, Hashable {
    /// The device under test as the testbed names it; nil: the devices of the profile's network functions.
    public var device: String?
    public var peer: RDMAPeer?
    /// Why the suite cannot run here at all (an emulated card has no RDMA device); nil where it can.
    public var unavailableReason: String?
    /// Why there is no peer, for the checks that need one.
    public var noPeerReason: String

    public init(device: String?, peer: RDMAPeer?, noPeerReason: String = "") {
        self.device = device
        self.peer = peer
        self.unavailableReason = nil
        self.noPeerReason = noPeerReason
    }

    public init(unavailable reason: String) {
        self.device = nil
        self.peer = nil
        self.unavailableReason = reason
        self.noPeerReason = reason
    }
}

/// What a check is handed: the profile it verifies and the backends it may use.
public struct TestContext: Sendable {
    public let profile: Profile
    public let pci: PCIEnvironment
    public let testbed: TestbedEnvironment
    public let rdma: RDMAEnvironment
    /// The run's token, or within a check the check's own (set at its deadline too).
    let cancellation: CancellationFlag
    let progressSink: @Sendable (String) -> Void

    public init(profile: Profile, pci: PCIEnvironment,
                testbed: TestbedEnvironment = TestbedEnvironment(unavailable: "no testbed was set up for this run"),
                rdma: RDMAEnvironment = RDMAEnvironment(unavailable: "no RDMA device was set up for this run"),
                cancellation: CancellationFlag = CancellationFlag(),
                progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.profile = profile
        self.pci = pci
        self.testbed = testbed
        self.rdma = rdma
        self.cancellation = cancellation
        self.progressSink = progress
    }

    public var isCancelled: Bool { cancellation.isCancelled }

    /// A progress line for a long check (shown live on a terminal).
    public func progress(_ line: String) { progressSink(line) }

    /// The context one check runs with: its own cancellation token and progress sink.
    func forTest(cancellation token: CancellationFlag, progress: @escaping @Sendable (String) -> Void) -> TestContext {
        TestContext(profile: profile, pci: pci, testbed: testbed, rdma: rdma, cancellation: token, progress: progress)
    }
}
