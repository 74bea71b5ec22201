import ArgumentParser
import Certification
import Dispatch
import Emulator
import Foundation
import Inventory
import Logging
import Profiles
import Reports
import Testbed
import VirtualMachine

/// The composition root of `dpucert run`: decides hardware or emulation, builds the
/// backends the checks use, runs the plan, writes the reports and tears down what it
/// set up, also when interrupted.
struct RunSession {
    let arguments: RunCommand
    let profile: Profile
    let observer: ConsoleObserver
    let logger = Logger(label: "dpucert.run")

    /// The device under test as the checks see it, and how to undo what building it did.
    struct Backend {
        var mode: RunMode
        var bus: any PCIBus
        var sriovControl: (any SRIOVControl)?
        var testbed: TestbedEnvironment
        var rdma: RDMAEnvironment
        var teardown: () -> Void
    }

    func execute() throws -> Int32 {
        let backend = try makeBackend()
        defer {
            logger.debug("tearing down the \(backend.mode.rawValue) backend")
            backend.teardown()
        }
        let cancellation = CancellationFlag()
        let signals = Self.interruptHandlers(cancellation: cancellation, observer: observer)
        defer { signals.forEach { $0.cancel() } }

        let baseline: PCIInventory
        do {
            baseline = try InventoryReader(bus: backend.bus).read()
        } catch {
            throw CLIError(.incomplete, command: "run", "the PCI bus could not be read: \(error)")
        }
        let context = TestContext(
            profile: profile,
            pci: PCIEnvironment(bus: backend.bus, sriovControl: backend.sriovControl, baseline: baseline),
            testbed: backend.testbed,
            rdma: backend.rdma,
            cancellation: cancellation)
        logger.debug("baseline inventory: \(baseline.functions.count) functions from \(backend.bus.source)")
        let tests = TestRunner.select(CertificationRun.plan(for: profile), only: arguments.only)
        logger.debug("plan: \(tests.map(\.id).joined(separator: ", "))")
        if tests.isEmpty {
            throw CLIError(.input, command: "run", "no check matches --only \(arguments.only.joined(separator: " "))")
        }
        let run = CertificationRun(profile: profile, profileSHA256: try arguments.profileDigest(), mode: backend.mode,
                                   faults: arguments.fault, commandLine: CommandLine.arguments,
                                   toolVersion: DPUCert.version)
        let report = run.execute(tests: tests, context: context, observer: observer, only: arguments.only)
        return try ReportDelivery(arguments: arguments, profile: profile, observer: observer).deliver(report)
    }

    private func makeBackend() throws -> Backend {
        let mode = try chooseMode()
        let faults = try FaultSelection(names: arguments.fault)
        guard faults.vm.isEmpty else {
            throw CLIError(.input, command: "run", "\(faults.vm.map(\.name).joined(separator: ", ")) are VM faults: they need --vm")
        }
        guard faults.storage.count <= 1 else {
            throw CLIError(.input, command: "run", "\(faults.storage.map(\.name).joined(separator: ", ")): the emulated namespace "
                           + "carries one storage fault at a time")
        }
        switch mode {
        case .hardware, .vm:
            let testbed = try hardwareTestbed()
            observer.say("dpucert: \(mode == .vm ? "VM GUEST" : "HARDWARE") run of \(profile.id) on this host's PCI bus"
                         + (testbed.available.map { "; \($0.summary)" } ?? ""))
            return Backend(mode: mode, bus: LibPCIBus(source: .live), sriovControl: SysfsSRIOVControl(),
                           testbed: testbed, rdma: mode == .vm ? Self.vmRDMA : hardwareRDMA(testbed), teardown: {})
        case .emulated:
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-\(profile.id)-\(getpid())").path
            let card: EmulatedCard
            do {
                card = try EmulatedCard(profile: profile).applying(faults.pci).applying(faults.storage.first)
            } catch {
                throw CLIError(.input, command: "run", "cannot emulate \(profile.id): \(error)")
            }
            let namespaces: NamespaceSession
            let served: EmulatedCard
            do {
                (namespaces, served) = try NamespaceSession.start(for: card, fault: faults.storage.first, wanted: wantsNamespaces,
                                                                  logger: logger)
            } catch {
                throw CLIError(.incomplete, command: "run", "cannot serve the emulated NVMe namespace: \(error)")
            }
            let tree: EmulatedSysfsTree
            do {
                tree = try EmulatedSysfsTree.write([served], to: root)
            } catch {
                namespaces.stop()
                try? FileManager.default.removeItem(atPath: root)
                throw CLIError(.input, command: "run", "cannot emulate \(profile.id): \(error)")
            }
            let removeTree = {
                namespaces.stop()
                try? FileManager.default.removeItem(atPath: root)
            }
            let lab: LabSession
            do {
                lab = try LabSession(profile: profile, attachTo: arguments.lab, faults: faults.lab, wanted: wantsTestbed,
                                     stateDirectory: arguments.stateDirectory.path, logger: logger)
            } catch {
                removeTree()
                throw CLIError(.incomplete, command: "run", "cannot build the emulated lab: \(error)")
            }
            observer.say("dpucert: EMULATED run of \(profile.id) (no hardware verdict possible); emulated PCI tree \(root)"
                         + (lab.name.map { "; lab \($0)" } ?? "")
                         + (arguments.fault.isEmpty ? "" : "; faults: " + arguments.fault.joined(separator: ", ")))
            return Backend(mode: .emulated, bus: LibPCIBus(source: .sysfs(root: root)),
                           sriovControl: EmulatedSRIOVControl(tree: tree), testbed: lab.environment,
                           rdma: RDMAEnvironment(unavailable: "the emulated card has no RDMA device: the RDMA suite runs on "
                                                 + "hardware (--hardware) or on the VM testbed's Soft-RoCE (--vm)"),
                           teardown: {
                               lab.tearDown()
                               removeTree()
                           })
        }
    }

    /// Inside the VM testbed's guest: the wire's host end under test, the guest's agent as the peer.
    static let vmRDMA = RDMAEnvironment(
        device: GuestRDMAWire.hostDevice,
        peer: RDMAPeer(control: GuestRDMAWire.peerControl, tokenFile: GuestRDMAWire.peerTokenFile,
                       address: GuestRDMAWire.peerAddress, source: GuestRDMAWire.hostAddress))

    /// On hardware: the device and peer the testbed file's `rdma` section names, else the
    /// devices of the profile's network functions and no peer.
    private func hardwareRDMA(_ testbed: TestbedEnvironment) -> RDMAEnvironment {
        guard let hardware = testbed.available as? HardwareTestbed else {
            return RDMAEnvironment(device: nil, peer: nil, noPeerReason: testbed.unavailableReason)
        }
        guard let rdma = hardware.file.rdma else {
            return RDMAEnvironment(device: nil, peer: nil,
                                   noPeerReason: "the testbed file \(hardware.path) has no rdma section naming the peer's address")
        }
        return RDMAEnvironment(device: rdma.device, peer: RDMAPeer(control: hardware.file.peer.agent, tokenFile: hardware.file.agentTokenFile,
                                                                    address: rdma.peerAddress, source: rdma.hostAddress))
    }

    /// The testbed file's testbed, or why there is none; a file that cannot be loaded is
    /// an input error (exit 2).
    private func hardwareTestbed() throws -> TestbedEnvironment {
        guard let path = arguments.testbed else {
            return TestbedEnvironment(unavailable: "no testbed file names the DPU's agents and management plane "
                                      + "(run --hardware --testbed FILE; docs/testbed.md)")
        }
        do {
            return TestbedEnvironment(try HardwareTestbed.load(path: path, profile: profile))
        } catch {
            throw CLIError(.input, command: "run", "\(error)")
        }
    }

    /// Whether any storage check is in the plan (`--only` may leave them out).
    private var wantsNamespaces: Bool {
        !TestRunner.select(StorageSuite.tests(for: profile), only: arguments.only).isEmpty
    }

    /// Whether any check that needs a testbed (isolation, network) is in the plan
    /// (`--only` may leave them out).
    private var wantsTestbed: Bool {
        !TestRunner.select(IsolationSuite.tests(for: profile) + NetworkSuite.tests(for: profile), only: arguments.only).isEmpty
    }

    /// `--emulated`/`--hardware` as given; otherwise hardware when a function the profile
    /// describes is on this host's bus.
    private func chooseMode() throws -> RunMode {
        if arguments.vmGuest { return .vm }
        if arguments.emulated || !arguments.fault.isEmpty || arguments.lab != nil { return .emulated }
        if arguments.hardware || arguments.testbed != nil { return .hardware }
        let live: PCIInventory
        do {
            live = try InventoryReader(source: .live).read()
        } catch {
            logger.debug("the live bus cannot be read (\(error)); emulating")
            return .emulated
        }
        let present = profile.matched(in: live).contains { !$0.functions.isEmpty }
        logger.debug("profile functions on the live bus: \(present ? "found" : "none")")
        return present ? .hardware : .emulated
    }

    /// SIGINT/SIGTERM cancel the run: the runner stops, the report says `aborted`, and
    /// the deferred teardown runs.
    static func interruptHandlers(cancellation: CancellationFlag, observer: ConsoleObserver) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [observer] in
                observer.say("dpucert: interrupted (signal \(signalNumber)); finishing the report")
                cancellation.cancel()
            }
            source.resume()
            return source
        }
    }
}
