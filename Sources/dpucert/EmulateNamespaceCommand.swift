// `dpucert emulate namespace`: the FUSE server behind an emulated NVMe namespace. Not for
// people: an emulated storage run starts it (`EmulatedNamespaceProcess`) and stops it
// with SIGTERM.
import ArgumentParser
import Emulator

extension EmulateCommand {
    struct Namespace: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "namespace",
            abstract: "Serve an emulated NVMe namespace through FUSE until SIGTERM or SIGINT.",
            discussion: "The file NAME in the mount point is the namespace: the backing file's contents and size, "
                + "opened with direct I/O, with a storage fault injected as it is read and written.",
            shouldDisplay: false
        )

        @Option(help: ArgumentHelp("The backing file; its size is the namespace's.", valueName: "FILE"))
        var backing: String

        @Option(help: ArgumentHelp("Mount point (an existing directory).", valueName: "DIR"))
        var mount: String

        @Option(help: "The namespace's file name in the mount point.")
        var name: String = EmulatedNamespace.defaultFileName

        @Option(help: "Inject a storage fault (see `dpucert emulate faults`).")
        var fault: String?

        func run() throws {
            let selected: StorageFault?
            do {
                selected = try fault.map { name throws(EmulatedNamespaceError) in try StorageFault(name: name) }
            } catch {
                throw CLIError(.input, command: "emulate namespace", "\(error)")
            }
            do {
                try EmulatedNamespace.serve(backing: backing, mountPoint: mount, fileName: name, fault: selected)
            } catch {
                let kind: CLIError.Kind = if case .invalidArgument = error { .input } else { .incomplete }
                throw CLIError(kind, command: "emulate namespace", "\(error)")
            }
        }
    }
}
