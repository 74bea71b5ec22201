import Emulator
import Foundation
import Systems
import TestGates
import Testing

/// A directory under the system temporary directory, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    /// Under `base` (default: the system temporary directory).
    init(under base: String = NSTemporaryDirectory()) throws {
        let template = (base.hasSuffix("/") ? base : base + "/") + "emulator-tests.XXXXXX"
        var bytes = Array(template.utf8CString)
        let created = try #require(bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        path = String(cString: created)
    }

    /// Under tmpfs when the machine has one, so a timing measures the writer, not a disk
    /// that other jobs on a shared machine may be saturating.
    static func inMemory() throws -> TemporaryDirectory {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        let shmIsTmpfs = mounts.split(separator: "\n").contains { $0.hasPrefix("tmpfs /dev/shm tmpfs ") }
        if shmIsTmpfs && FileManager.default.isWritableFile(atPath: "/dev/shm") {
            return try TemporaryDirectory(under: "/dev/shm")
        }
        return try TemporaryDirectory()
    }

    func child(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// lspci's output on stdout and stderr.
struct LspciRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Lspci {
    static let executable = InstalledProgram.path(named: "lspci") ?? "/usr/bin/lspci"

    /// Runs the real lspci on an emulated tree with the linux-sysfs method.
    static func run(tree root: String, _ arguments: [String]) throws -> LspciRun {
        try run(["-A", "linux-sysfs", "-O", "sysfs.path=\(root)"] + arguments)
    }

    static func run(_ arguments: [String]) throws -> LspciRun {
        // Output goes to files: a large listing cannot fill a pipe and block lspci.
        let scratch = try TemporaryDirectory()
        try #require(FileManager.default.createFile(atPath: scratch.child("stdout"), contents: nil))
        try #require(FileManager.default.createFile(atPath: scratch.child("stderr"), contents: nil))
        let stdout = try #require(FileHandle(forWritingAtPath: scratch.child("stdout")))
        let stderr = try #require(FileHandle(forWritingAtPath: scratch.child("stderr")))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        process.waitUntilExit()
        try stdout.close()
        try stderr.close()
        return LspciRun(
            status: process.terminationStatus,
            stdout: try String(contentsOfFile: scratch.child("stdout"), encoding: .utf8),
            stderr: try String(contentsOfFile: scratch.child("stderr"), encoding: .utf8))
    }

    /// stderr without the one line this machine's lspci prints for any input: with `-v` it
    /// asks libkmod for module names, and the container has no /lib/modules for its kernel.
    /// That line is about the host, never about the tree, so it is the only one dropped.
    static func treeDiagnostics(_ run: LspciRun) -> [String] {
        run.stderr.split(separator: "\n").map(String.init).filter {
            !($0.hasPrefix("lspci: Unable to load libkmod resources") && !FileManager.default.fileExists(atPath: kernelModules))
        }
    }

    private static var kernelModules: String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "/lib/modules/\(release)"
    }

    /// Runs lspci on the tree and requires a clean exit with nothing on stderr.
    static func listing(tree root: String, _ arguments: [String] = ["-D", "-vvv", "-nn"]) throws -> LspciListing {
        let result = try run(tree: root, arguments)
        #expect(result.status == 0, "lspci exit status \(result.status): \(result.stderr)")
        #expect(treeDiagnostics(result) == [], "lspci printed diagnostics")
        return LspciListing(result.stdout)
    }
}

/// `lspci -D` output split into one block per function, keyed by `DDDD:BB:DD.F`.
struct LspciListing {
    var blocks: [String: [String]] = [:]
    var order: [String] = []

    init(_ text: String) {
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if !line.hasPrefix("\t") && !line.hasPrefix(" "), let address = line.split(separator: " ").first {
                current = String(address)
                order.append(String(address))
                blocks[String(address), default: []].append(line)
            } else if let current {
                blocks[current, default: []].append(line)
            }
        }
    }

    func block(_ address: EmulatedPCIAddress) throws -> [String] {
        try #require(blocks[address.description], "lspci does not list \(address)")
    }

    /// The first line of a block starting with `prefix` after leading tabs, trimmed.
    func line(_ address: EmulatedPCIAddress, startingWith prefix: String) throws -> String {
        let block = try block(address)
        return try #require(
            block.map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(prefix) },
            "\(address) has no line starting with \(prefix)")
    }

    /// `Capabilities: [off] Name…` lines of a block as (offset, text after the bracket).
    func capabilities(_ address: EmulatedPCIAddress) throws -> [(offset: Int, title: String)] {
        try block(address).compactMap { line -> (Int, String)? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("Capabilities: ["), let close = trimmed.firstIndex(of: "]") else { return nil }
            let inside = trimmed[trimmed.index(trimmed.startIndex, offsetBy: 15)..<close]
            let offsetText = inside.split(separator: " ").first.map(String.init) ?? ""
            guard let offset = Int(offsetText, radix: 16) else { return nil }
            return (offset, String(trimmed[trimmed.index(after: close)...]).trimmingCharacters(in: .whitespaces))
        }
    }
}

/// Contents of a tree file.
func treeFile(_ tree: EmulatedSysfsTree, _ address: EmulatedPCIAddress, _ name: String) throws -> String {
    try String(contentsOfFile: tree.devicePath(address) + "/" + name, encoding: .utf8)
}

func treeBytes(_ tree: EmulatedSysfsTree, _ address: EmulatedPCIAddress, _ name: String) throws -> [UInt8] {
    try Array(Data(contentsOf: URL(fileURLWithPath: tree.devicePath(address) + "/" + name)))
}

func pci(_ bus: UInt8, _ device: UInt8, _ function: UInt8, domain: UInt32 = 0) -> EmulatedPCIAddress {
    EmulatedPCIAddress(domain: domain, bus: bus, device: device, function: function)
}

/// Cards the tests describe.
enum SampleCards {
    /// A BlueField-3-class DPU: two PFs at BB:00.0/.1 (PCIe 5.0 x16, AER, ARI, SR-IOV, DSN),
    /// PF0's VFs from offset 2, PF1's after them, behind an ACS-capable, ARI-forwarding root port;
    /// in restricted mode, so its SoC management interface (BB:04.2, past the VFs) is withheld.
    static func dpu(
        bus: UInt8 = 0x03,
        totalVFs: Int = 16,
        enabledVFs: Int = 4,
        rootPortDevice: UInt8 = 1,
        pfDriver: String? = "mlx5_core"
    ) -> EmulatedCard {
        func pf(_ function: UInt8, offset: Int, groupBase: Int) -> EmulatedFunction {
            EmulatedFunction(
                address: pci(bus, 0, function),
                vendorID: 0x15b3, deviceID: 0xa2dc, subsystemDeviceID: 0x0009, revision: 1,
                link: EmulatedLink(maxSpeed: .gt32, maxWidth: 16),
                msix: EmulatedMSIX(tableSize: 64),
                acs: EmulatedACS(capability: [.sourceValidation, .p2pRequestRedirect, .p2pCompletionRedirect, .upstreamForwarding]),
                ari: true,
                sriov: EmulatedSRIOV(
                    totalVFs: totalVFs, enabledVFs: function == 0 ? enabledVFs : 0, firstVFOffset: offset, vfStride: 1,
                    vfDeviceID: 0x101e, ariCapableHierarchy: function == 0, vfDriver: "mlx5_core",
                    vfNetdevPrefix: "enp\(bus)s0f\(function)v", vfIOMMUGroups: .sequential(first: groupBase + 1)),
                serialNumber: 0x00b8_3fff_fe12_3456 + UInt64(function),
                numaNode: 0,
                driver: pfDriver,
                iommuGroup: groupBase,
                netdevs: ["enp\(bus)s0f\(function)np\(function)"],
                irq: 16)
        }
        return EmulatedCard(
            id: "bluefield-3",
            rootPort: EmulatedRootPort(
                address: pci(0, rootPortDevice, 0), maxLinkSpeed: .gt32, maxLinkWidth: 16, numaNode: 0, iommuGroup: 10),
            functions: [pf(0, offset: 2, groupBase: 20), pf(1, offset: 1 + totalVFs, groupBase: 100)],
            withheldFunctions: [
                EmulatedFunction(
                    address: pci(bus, 4, 2), vendorID: 0x15b3, deviceID: 0xc2d5, subsystemDeviceID: 0x0009,
                    classCode: 0x08_01_00, revision: 1, link: EmulatedLink(maxSpeed: .gt32, maxWidth: 16), msix: nil,
                    aer: nil, ari: false, numaNode: 0, driver: "vfio-pci", iommuGroup: 200),
            ])
    }
}
