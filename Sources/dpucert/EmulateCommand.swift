import ArgumentParser
import Emulator
import Foundation
import Profiles

struct EmulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Build emulated devices from a profile.",
        subcommands: [Sysfs.self, Fleet.self, Faults.self]
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
                let faults = try fault.map { name throws(EmulatorError) in try EmulatedFault.named(name) }
                let card = try EmulatedCard(profile: loaded).applying(faults)
                _ = try EmulatedSysfsTree.write([card], to: out)
                print("wrote \(out): \(card.id), faults: \(fault.isEmpty ? "none" : fault.joined(separator: ", "))")
            } catch let error as ProfileError {
                printError(error.description)
                throw inputErrorExitCode
            } catch let error as EmulatorError {
                printError("dpucert emulate sysfs: \(error)")
                throw inputErrorExitCode
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
                printError("dpucert emulate fleet: \(error)")
                throw inputErrorExitCode
            }
        }
    }

    struct Faults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the faults emulation can inject, one per line.")

        func run() {
            for fault in EmulatedFault.allCases { print(fault.listing) }
        }
    }
}
