import ArgumentParser
import Emulator
import Foundation
import Lab
import Profiles
import Systems

struct EmulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Build emulated devices from a profile.",
        subcommands: [Sysfs.self, Fleet.self, Up.self, Down.self, VM.self, Faults.self, Namespace.self]
    )

    struct Sysfs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a sysfs-shaped tree that libpci and lspci read as the profile's card.",
            discussion: "Read it with: lspci -A linux-sysfs -O sysfs.path=DIR -vvv, or dpucert inventory --sysfs-root DIR"
        )

        @Option(help: "The device profile (YAML).")
        var profile: String

        @Option(help: "Output directory (created; must be empty).")
        var out: String

        @Option(help: "Inject a fault (repeatable; see `dpucert emulate faults`).")
        var fault: [String] = []

        func run() throws {
            do {
                let loaded = try ProfileLoader.load(path: profile)
                let faults = try FaultSelection(names: fault)
                guard faults.lab.isEmpty, faults.vm.isEmpty, faults.storage.isEmpty else {
                    throw CLIError(.input, command: "emulate sysfs",
                                   "\((faults.lab.map(\.name) + faults.storage.map(\.name) + faults.vm.map(\.name)).joined(separator: ", ")): "
                                   + "lab, storage and VM faults need a lab (`dpucert emulate up`), a run (`dpucert run --fault`) or a guest "
                                   + "(`dpucert emulate vm up`); this writes only the PCI tree")
                }
                let card = try EmulatedCard(profile: loaded).applying(faults.pci)
                _ = try EmulatedSysfsTree.write([card], to: out)
                print("wrote \(out): \(card.id), faults: \(fault.isEmpty ? "none" : fault.joined(separator: ", "))")
            } catch let error as ProfileError {
                throw CLIError(.input, located: error.description)
            } catch let error as EmulatorError {
                throw CLIError(.input, command: "emulate sysfs", "\(error)")
            }
        }
    }

    struct Fleet: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a sysfs-shaped tree of identical cards, each one PF with its VFs enabled, for scale runs.",
            discussion: "Read it with: dpucert inventory --sysfs-root DIR, or lspci -A linux-sysfs -O sysfs.path=DIR"
        )

        @Option(help: "Number of cards.")
        var cards: Int

        @Option(help: "Virtual functions enabled on each card's PF.")
        var vfs: Int

        @Option(help: "Output directory (created; must be empty).")
        var out: String

        func run() throws {
            do {
                let fleet = try EmulatedFleet.cards(count: cards, virtualFunctionsPerCard: vfs)
                _ = try EmulatedSysfsTree.write(fleet, to: out)
                print("wrote \(out): \(cards) cards × (1 PF + \(vfs) VFs), \(cards * (1 + vfs)) PFs and VFs")
            } catch {
                throw CLIError(.input, command: "emulate fleet", "\(error)")
            }
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the emulated lab (namespaces LAB-host, LAB-dpu, LAB-oob, LAB-peer, tenants) and leave it standing.",
            discussion: "Use it with `dpucert run --lab LAB`; remove it with `dpucert emulate down --name LAB`."
        )

        @Option(help: "The device profile (YAML).")
        var profile: String

        @Option(help: "Lab name: 1-12 letters and digits, starting with a letter.")
        var name: String

        @Option(help: "Inject a lab fault (repeatable; see `dpucert emulate faults`).")
        var fault: [String] = []

        @OptionGroup var stateDirectory: LabStateDirectoryOption

        func run() throws {
            let loaded = try CLIError.loadProfile(profile)
            let faults = try FaultSelection(names: fault)
            guard faults.vm.isEmpty else {
                throw CLIError(.input, command: "emulate up", "\(faults.vm.map(\.name).joined(separator: ", ")) are VM faults; "
                               + "inject them with `emulate vm up` or `run --vm --fault`")
            }
            guard faults.pci.isEmpty, faults.storage.isEmpty else {
                throw CLIError(.input, command: "emulate up", "\((faults.pci.map(\.name) + faults.storage.map(\.name)).joined(separator: ", ")) are PCI or storage faults; "
                               + "inject them with `emulate sysfs` or `run --fault`")
            }
            guard let spec = LabSpec(profile: loaded, name: name, agent: .thisExecutable) else {
                throw CLIError(.input, command: "emulate up", "\(profile) has no isolation section or no emulation.lab addresses")
            }
            do {
                _ = try Lab.removeLeftovers(stateDirectory: stateDirectory.path)
                let lab = try Lab.up(spec, faults: faults.lab, standing: true, stateDirectory: stateDirectory.path)
                print("lab \(lab.name) is up: namespaces \(lab.topology.nodes.map(\.site.description).joined(separator: ", "))")
            } catch {
                throw CLIError(error, command: "emulate up")
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every object of an emulated lab; safe to repeat."
        )

        @Option(help: "Lab name.")
        var name: String

        @OptionGroup var stateDirectory: LabStateDirectoryOption

        func run() throws {
            do {
                try Lab.down(name: name, stateDirectory: stateDirectory.path)
                print("lab \(name) is down")
            } catch {
                throw CLIError(error, command: "emulate down")
            }
        }
    }

    struct Faults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the faults emulation can inject, one per line.")

        func run() {
            for fault in FaultSelection.listing {
                print("\(fault.name) [\(fault.domain)] \(fault.summary) (breaks: \(fault.breaks.joined(separator: ", ")))")
            }
        }
    }
}

/// `--state-dir`: where labs keep their state files, tokens and agent logs.
struct LabStateDirectoryOption: ParsableArguments {
    @Option(name: .customLong("state-dir"),
            help: ArgumentHelp("Directory of the labs' state files, tokens and agent logs "
                               + "(default: $\(DPUCertDirectories.runVariable)/labs, /run/dpucert/labs).", valueName: "DIR"))
    var override: String?

    var path: String { override ?? Lab.defaultStateDirectory }
}

extension CLIError {
    /// Bad names and specs are the caller's to fix (exit 2); the rest is infrastructure (exit 3).
    init(_ error: LabError, command: String) {
        let kind: Kind = switch error {
        case .invalidSpec, .unknownFault, .alreadyExists: .input
        default: .incomplete
        }
        self.init(kind, command: command, "\(error)")
    }
}
