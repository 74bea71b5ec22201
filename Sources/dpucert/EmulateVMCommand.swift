import ArgumentParser
import Foundation
import Profiles
import Systems
import VirtualMachine

extension EmulateCommand {
    struct VM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vm",
            abstract: "Boot and remove VM-testbed guests: QEMU's NVMe (with SR-IOV) and virtio-net under Debian's kernel.",
            subcommands: [Up.self, Down.self]
        )

        struct Up: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Boot a guest presenting the profile's functions and leave it standing.",
                discussion: "Use it with `dpucert run --vm --lab NAME`; remove it with `dpucert emulate vm down --name NAME`. "
                    + "The guest image comes from scripts/vm-guest build."
            )

            @Option(help: "The device profile (YAML); profiles/vm-smartnic.yaml describes what QEMU presents.")
            var profile: String

            @Option(help: "Guest name: 1-12 letters and digits, starting with a letter.")
            var name: String

            @Option(help: "Inject a VM fault (repeatable; see `dpucert emulate faults`).")
            var fault: [String] = []

            @OptionGroup var stateDirectory: VMStateDirectoryOption

            func run() throws {
                let loaded = try CLIError.loadProfile(profile)
                let faults = try FaultSelection(names: fault)
                guard faults.emulatedOnly.isEmpty else {
                    throw CLIError(.input, command: "emulate vm up", "\(faults.emulatedOnly.joined(separator: ", ")) "
                                   + "model the emulated tree or lab; a guest takes VM faults only")
                }
                let booted = try GuestBoot.boot(profile: loaded, faults: faults.vm, name: name, standing: true,
                                                stateDirectory: stateDirectory.path, say: { print($0) }, command: "emulate vm up")
                print("guest \(booted.guest.name) is up: agent at \(booted.guest.controlEndpoint), console \(booted.guest.consoleLog)")
            }
        }

        struct Down: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stop a guest and remove its files (QEMU process, share, namespace images); safe to repeat."
            )

            @Option(help: "Guest name.")
            var name: String

            @OptionGroup var stateDirectory: VMStateDirectoryOption

            func run() throws {
                do {
                    try Guest.down(name: name, stateDirectory: stateDirectory.path)
                } catch {
                    throw CLIError(error, command: "emulate vm down")
                }
                print("guest \(name) is down")
            }
        }
    }
}

/// Booting a guest for `emulate vm up` and `run --vm`: leftovers of killed runs removed
/// first, the acceleration said on the first line, the boot timed.
enum GuestBoot {
    static func boot(profile: Profile, faults: [VMFault], name: String, standing: Bool, stateDirectory: String,
                     isCancelled: @escaping () -> Bool = { false }, say: (String) -> Void,
                     command: String) throws -> (guest: Guest, seconds: Double) {
        do throws(VMError) {
            let machine = try VMMachine.forProfile(profile, faults: faults)
            let image = try GuestImage.current()
            let acceleration = Acceleration.detect()
            say("dpucert: VM testbed on \(acceleration); guest image \(image.directory)"
                + (image.kernelRelease.map { " (kernel \($0))" } ?? ""))
            let removed = Guest.removeLeftovers(stateDirectory: stateDirectory)
            if !removed.isEmpty { say("dpucert: removed the leftovers of killed runs: guests \(removed.joined(separator: ", "))") }
            let start = ContinuousClock.now
            let guest = try Guest.up(machine, name: name, faults: faults, image: image, acceleration: acceleration,
                                     standing: standing, stateDirectory: stateDirectory, isCancelled: isCancelled)
            let seconds = (ContinuousClock.now - start).seconds
            say("dpucert: guest \(name) booted, agent ready in \(String(format: "%.1f", seconds)) s: "
                + "\(machine.controllers.count) NVMe controller(s), \(machine.networkFunctions.count) virtio-net function(s)"
                + (faults.isEmpty ? "" : "; faults: " + faults.map(\.name).joined(separator: ", ")))
            return (guest, seconds)
        } catch {
            throw CLIError(error, command: command)
        }
    }
}

/// `--vm-state-dir`: where guests keep their state, share, console log and disk images.
struct VMStateDirectoryOption: ParsableArguments {
    @Option(name: .customLong("vm-state-dir"),
            help: ArgumentHelp("Directory of the VM testbed's guests (default: $\(DPUCertDirectories.runVariable)/vms, /run/dpucert/vms).",
                               valueName: "DIR"))
    var override: String?

    var path: String { override ?? Guest.defaultStateDirectory }
}

extension CLIError {
    /// A profile QEMU cannot present, bad names and faults are the caller's to fix (exit 2);
    /// the rest is infrastructure (exit 3).
    init(_ error: VMError, command: String) {
        let kind: Kind = switch error {
        case .unpresentable, .invalidName, .unknownFault, .faultNotApplicable, .alreadyExists, .notFound: .input
        default: .incomplete
        }
        self.init(kind, command: command, "\(error)")
    }
}
