// TestGates: the requirements the test targets share, each with how to get it.
import Foundation
import Systems
import VirtualMachine

extension Requirement {
    /// Network namespaces (the emulated lab, probe benches): root and a working `ip netns add`.
    public static let networkNamespaces = Requirement(
        name: "network namespaces",
        remedy: "run the tests as root with iproute2 and nftables installed (scripts/setup-deps.sh)",
        findProblem: NetworkNamespace.creationUnavailableReason)

    /// FUSE, which serves the emulated NVMe namespace: /dev/fuse, the kernel's fuse file
    /// system, and root to mount it.
    public static let fuse = Requirement(
        name: "FUSE",
        remedy: "run the tests as root on a kernel with FUSE (modprobe fuse; in a container, pass --device /dev/fuse "
            + "and allow mounting), with fuse3 and libfuse3-dev installed (scripts/setup-deps.sh)"
    ) {
        if geteuid() != 0 { return "not running as root" }
        if !FileManager.default.fileExists(atPath: "/dev/fuse") { return "no /dev/fuse" }
        let filesystems = (try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) ?? ""
        let listed = filesystems.split(separator: "\n").contains { $0.split(whereSeparator: \.isWhitespace).last == "fuse" }
        return listed ? nil : "no fuse in /proc/filesystems"
    }

    /// The third-party JUnit and CTRF schemas the reports are validated against.
    public static let sharedSchemas = Requirement(
        name: "the shared report schemas",
        remedy: "check out shared/ beside the repository (\(SharedFiles.directory))"
    ) {
        guard FileManager.default.fileExists(atPath: SharedFiles.schemas) else { return "no \(SharedFiles.schemas)" }
        let absent = SharedFiles.schemaFiles.filter { !FileManager.default.fileExists(atPath: $0) }
        return absent.isEmpty ? nil : "no " + absent.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
            + " in \(SharedFiles.schemas)"
    }

    /// The real PCI bus dumps decoding is compared with lspci on.
    public static let pciDumps = Requirement(
        name: "the PCI dump corpus",
        remedy: "check out shared/ beside the repository, or set DPUCERT_PCI_DUMPS to a copy of shared/pci-dumps"
    ) {
        SharedFiles.pciDumpFiles.isEmpty ? "no dumps in \(SharedFiles.pciDumps)" : nil
    }

    /// This machine's PCI bus as the kernel shows it.
    public static let pciSysfs = Requirement(
        name: "a PCI bus in sysfs",
        remedy: "run the tests on a Linux host or VM with sysfs at /sys"
    ) {
        FileManager.default.fileExists(atPath: "/sys/bus/pci/devices") ? nil : "no /sys/bus/pci/devices"
    }

    /// QEMU and a guest image for the VM testbed.
    public static let vmTestbed = Requirement(
        name: "the VM testbed (QEMU and a guest image)",
        remedy: "apt-get install qemu-system-x86, then scripts/vm-guest build"
    ) {
        if InstalledProgram.path(named: "qemu-system-x86_64") == nil { return "qemu-system-x86_64 is not installed" }
        do {
            _ = try GuestImage.current()
            return nil
        } catch {
            return "\(error)"
        }
    }

    public static let xmllint = program("xmllint", debianPackage: "libxml2-utils")
    public static let lspci = program("lspci", debianPackage: "pciutils")
    public static let nmap = program("nmap", debianPackage: "nmap")

    /// The Python JUnit parsers and JSON Schema validator real report consumers use.
    public static let pythonValidators = Requirement(
        name: "the Python packages junitparser, xunitparser, jsonschema, rfc3339-validator",
        remedy: "python3 -m pip install junitparser xunitparser jsonschema rfc3339-validator"
    ) {
        do {
            let result = try CommandRunner.run(["python3", "-c", "import junitparser, xunitparser, jsonschema, rfc3339_validator"],
                                               allowFailure: true)
            // The last line of the traceback names the module that is missing.
            return result.succeeded ? nil : String(result.standardError.split(separator: "\n").last ?? "python3 failed")
        } catch {
            return "\(error)"
        }
    }

    /// An executable this package builds, found at `path` (nil when it was not found).
    public static func built(_ name: String, at path: @escaping @autoclosure @Sendable () -> String?) -> Requirement {
        Requirement(name: "the \(name) executable", remedy: "swift build --build-tests") {
            guard let path = path(), FileManager.default.isExecutableFile(atPath: path) else { return "not built" }
            return nil
        }
    }

    /// A program from a Debian package.
    static func program(_ name: String, debianPackage: String) -> Requirement {
        Requirement(name: name, remedy: "apt-get install -y \(debianPackage) (scripts/setup-deps.sh)") {
            InstalledProgram.path(named: name) == nil ? "not installed" : nil
        }
    }
}
