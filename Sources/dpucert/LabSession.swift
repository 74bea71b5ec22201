import Certification
import Emulator
import Foundation
import Lab
import Logging
import Profiles
import Systems
import VirtualMachine

/// The emulated lab of one run: attached (`--lab`, left standing) or built for the run
/// and always taken down; absent, with the reason, where the isolation suite cannot run.
struct LabSession {
    let lab: Lab?
    let ownsLab: Bool
    let environment: TestbedEnvironment
    let logger: Logger

    var name: String? { lab?.name }

    init(profile: Profile, attachTo name: String?, faults: [LabFault], wanted: Bool, stateDirectory: String,
         logger: Logger) throws {
        self.logger = logger
        if let name {
            let lab = try Lab.attach(name: name, stateDirectory: stateDirectory)
            if !faults.isEmpty {
                logger.warning("lab \(name) stands with faults \(lab.faults.map(\.name)); --fault names for the lab are ignored")
            }
            self.lab = lab
            ownsLab = false
            environment = TestbedEnvironment(LabTestbed(lab))
            return
        }
        ownsLab = true
        guard wanted, profile.isolation != nil else {
            lab = nil
            environment = TestbedEnvironment(unavailable: profile.isolation == nil
                ? "the profile has no isolation section" : "no check that needs the lab is selected")
            return
        }
        if let reason = NetworkNamespace.creationUnavailableReason() {
            lab = nil
            environment = TestbedEnvironment(unavailable: "network namespaces cannot be created here: \(reason)")
            return
        }
        let removed = try Lab.removeLeftovers(stateDirectory: stateDirectory)
        if !removed.isEmpty { logger.notice("removed the leftovers of killed runs: labs \(removed.joined(separator: ", "))") }
        let name = "dc" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
        guard let spec = LabSpec(profile: profile, name: name, agent: AgentLauncher.thisExecutable) else {
            lab = nil
            environment = TestbedEnvironment(unavailable: "the profile's emulation section names no lab addresses")
            return
        }
        let lab = try Lab.up(spec, faults: faults, stateDirectory: stateDirectory)
        self.lab = lab
        environment = TestbedEnvironment(LabTestbed(lab))
    }

    /// Takes down a lab this run built; a standing lab (`--lab`) stays.
    func tearDown() {
        guard ownsLab, let lab else { return }
        do {
            try lab.down()
        } catch {
            logger.error("taking down lab \(lab.name) failed: \(error); `dpucert emulate down --name \(lab.name)` removes it")
        }
    }
}

extension AgentLauncher {
    /// This very executable, run as `dpucert agent`.
    static var thisExecutable: AgentLauncher {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return AgentLauncher(executable: path, arguments: ["agent"])
    }
}

/// `--fault` names split by who injects them: the PCI tree writer or the lab.
struct FaultSelection {
    var pci: [PCIFault] = []
    var lab: [LabFault] = []
    var vm: [VMFault] = []
    var storage: [StorageFault] = []

    /// Faults that only an emulated run can carry: the card's, its namespace's and the lab's.
    var emulatedOnly: [String] { pci.map(\.name) + storage.map(\.name) + lab.map(\.name) }

    init(names: [String]) throws {
        for name in names {
            if let fault = PCIFault(rawValue: name) {
                pci.append(fault)
            } else if let fault = LabFault(rawValue: name) {
                lab.append(fault)
            } else if let fault = VMFault(rawValue: name) {
                vm.append(fault)
            } else if let fault = StorageFault(rawValue: name) {
                storage.append(fault)
            } else {
                throw CLIError(.input, command: nil,
                               "unknown fault '\(name)'; valid faults: \(Self.listing.map(\.name).joined(separator: ", "))")
            }
        }
    }

    /// Every fault emulation can inject, as `dpucert emulate faults` lists them.
    static var listing: [(name: String, domain: String, summary: String, breaks: [String])] {
        PCIFault.allCases.map { ($0.name, "pci", $0.summary, $0.brokenTestIDs) }
            + LabFault.allCases.map { ($0.name, "lab", $0.summary, $0.breaks) }
            + StorageFault.allCases.map { ($0.name, "storage", $0.summary, $0.breaks) }
            + VMFault.allCases.map { ($0.name, "vm", $0.summary, $0.breaks) }
    }
}
