import ArgumentParser
import Foundation
import Inventory

struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List PCI functions with their capabilities, link, SR-IOV and sysfs facts."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .customLong("sysfs-root"), help: "Read a sysfs-shaped tree (the directory that contains devices/).")
    var sysfsRoot: String?

    @Option(help: "Read a bus dump (lspci -x, -xxx or -xxxx output).")
    var dump: String?

    @Option(help: "Output format.")
    var format: Format = .text

    func validate() throws {
        if sysfsRoot != nil && dump != nil {
            throw ValidationError("--sysfs-root and --dump are alternatives; give one of them")
        }
    }

    func run() throws {
        let source: PCISource = sysfsRoot.map { .sysfs(root: $0) } ?? dump.map { .dump(path: $0) } ?? .live
        let inventory: PCIInventory
        do {
            inventory = try InventoryReader(source: source).read()
        } catch {
            throw CLIError(.input, command: "inventory", "\(error)")
        }
        switch format {
        case .text:
            print(inventory.textTable(), terminator: "")
        case .json:
            FileHandle.standardOutput.write(try inventory.jsonData())
            print()
        }
    }
}
