import Foundation
import Profiles
import Systems
import Testing
@testable import VirtualMachine

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func loadProfile(_ name: String) throws -> Profile {
    try ProfileLoader.load(path: "\(repositoryRoot)/profiles/\(name).yaml")
}

@Suite("The machine QEMU builds for a profile")
struct VMMachineTests {
    @Test("vm-smartnic maps onto QEMU's NVMe with the profile's VF count and one virtio-net per network function")
    func vmSmartNIC() throws {
        let profile = try loadProfile("vm-smartnic")
        let machine = try VMMachine.forProfile(profile)
        let storage = profile.pci.functions.filter { $0.role == .storage }
        let network = profile.pci.functions.filter { $0.role == .network }
        #expect(machine.controllers.count == storage.map(\.count).reduce(0, +))
        #expect(machine.controllers.map(\.maxVFs) == storage.flatMap { function in Array(repeating: function.sriov?.minTotalVFs, count: function.count) })
        #expect(machine.networkFunctions.count == network.map(\.count).reduce(0, +))
        let macs = machine.networkFunctions.map(\.mac) + [VMMachine.controlMAC]
        #expect(Set(macs).count == macs.count)
        #expect(Set(machine.controllers.map(\.serial)).count == machine.controllers.count)
    }

    @Test("a profile of functions QEMU cannot present is refused, naming each; a function its mode hides is not asked for")
    func unpresentable() throws {
        let profile = try loadProfile("emulated-smartnic")
        #expect(throws: VMError.unpresentable(profile: "emulated-smartnic",
                                              functions: ["network-pf (15b3:a2d6)", "nvme-snap (15b3:6001)"])) {
            try VMMachine.forProfile(profile)
        }
    }

    @Test("vm-vf-shortfall offers one VF fewer than the profile's minimum; vm-missing-function leaves one function off")
    func faults() throws {
        let profile = try loadProfile("vm-smartnic")
        let clean = try VMMachine.forProfile(profile)
        let short = try VMMachine.forProfile(profile, faults: [.vfShortfall])
        let total = try #require(clean.controllers.first?.maxVFs)
        #expect(short.controllers.first?.maxVFs == total - 1)
        #expect(short.networkFunctions == clean.networkFunctions)
        let missing = try VMMachine.forProfile(profile, faults: [.missingFunction])
        #expect(missing.networkFunctions.count + missing.controllers.count
                == clean.networkFunctions.count + clean.controllers.count - 1)
    }

    @Test("a fault the machine cannot carry is refused")
    func inapplicableFault() throws {
        let yaml = try String(contentsOfFile: "\(repositoryRoot)/profiles/vm-smartnic.yaml", encoding: .utf8)
        let withoutSRIOV = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("sriov:") }
            .map { $0.replacingOccurrences(of: ", sriov]", with: "]") }.joined(separator: "\n")
        let profile = try ProfileLoader.load(yaml: withoutSRIOV, file: "no-sriov.yaml")
        #expect(throws: VMError.faultNotApplicable(fault: "vm-vf-shortfall", reason: "the profile has no NVMe function with SR-IOV")) {
            try VMMachine.forProfile(profile, faults: [.vfShortfall])
        }
    }

    @Test("fault names: known ones parse, an unknown one lists the known")
    func faultNames() throws {
        #expect(try VMFault(name: "vm-vf-shortfall") == .vfShortfall)
        #expect(throws: VMError.unknownFault("vm-nope", known: ["vm-vf-shortfall", "vm-missing-function", "rdma-ignore-access-flags",
                                                                "rdma-corruption", "rdma-shared-pd", "rdma-port-down", "rdma-slow"])) {
            try VMFault(name: "vm-nope")
        }
    }
}

@Suite("QEMU's command line")
struct QEMUCommandTests {
    func command(_ kind: Acceleration.Kind) throws -> QEMUCommand {
        let machine = try VMMachine.forProfile(try loadProfile("vm-smartnic"))
        return QEMUCommand(name: "t1", machine: machine, image: GuestImage(directory: "/cache/guest-1", kernelRelease: nil),
                           acceleration: Acceleration(kind: kind, reason: "test"), share: "/state/t1/share",
                           console: "/state/t1/console.log", disks: "/state/t1/disks", controlPort: 40123)
    }

    /// The value following each occurrence of `option`.
    func values(of option: String, in arguments: [String]) -> [String] {
        arguments.indices.dropLast().filter { arguments[$0] == option }.map { arguments[$0 + 1] }
    }

    @Test("q35 with an Intel IOMMU that remaps interrupts, an NVMe controller with SR-IOV behind its own root port")
    func tcg() throws {
        let command = try command(.tcg)
        let arguments = command.arguments
        #expect(values(of: "-machine", in: arguments) == ["q35,accel=tcg"])
        #expect(values(of: "-cpu", in: arguments) == ["max"])
        let devices = values(of: "-device", in: arguments)
        #expect(devices.contains("intel-iommu,intremap=on,caching-mode=on"))
        let vfs = try #require(command.machine.controllers.first?.maxVFs)
        let nvme = try #require(devices.first { $0.hasPrefix("nvme,") })
        #expect(nvme.contains("sriov_max_vfs=\(vfs),sriov_vq_flexible=\(2 * vfs),sriov_vi_flexible=\(vfs)"))
        let ports = devices.filter { $0.hasPrefix("pcie-root-port,") }
        #expect(ports.count == command.machine.controllers.count + command.machine.networkFunctions.count)
        #expect(Set(ports).count == ports.count)
        #expect(devices.filter { $0.hasPrefix("virtio-net-pci,") && $0.contains("bus=rp") }.count == command.machine.networkFunctions.count)
        #expect(values(of: "-netdev", in: arguments).contains("user,id=control,hostfwd=tcp:127.0.0.1:40123-10.0.2.15:7471"))
        #expect(values(of: "-kernel", in: arguments) == ["/cache/guest-1/kernel"])
        #expect(values(of: "-virtfs", in: arguments) == ["local,path=/state/t1/share,mount_tag=dpucert,security_model=none,id=share"])
        let append = try #require(values(of: "-append", in: arguments).first)
        #expect(append.contains("intel_iommu=on") && append.contains("dpucert.mac=\(VMMachine.controlMAC)"))
    }

    @Test("under KVM the CPU is the host's and interrupt remapping gets the split irqchip it needs")
    func kvm() throws {
        let arguments = try command(.kvm).arguments
        #expect(values(of: "-machine", in: arguments) == ["q35,accel=kvm,kernel-irqchip=split"])
        #expect(values(of: "-cpu", in: arguments) == ["host"])
    }
}

@Suite("Acceleration")
struct AccelerationTests {
    @Test("no vmx or svm in the CPU flags: TCG, and the reason says so")
    func softwareOnly() {
        let acceleration = Acceleration.detect(cpuInfo: "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\n", environment: nil)
        #expect(acceleration.kind == .tcg)
        #expect(acceleration.reason.contains("neither vmx nor svm"))
    }

    @Test("DPUCERT_VM_ACCEL decides when set")
    func override() {
        #expect(Acceleration.detect(cpuInfo: "flags : vmx", environment: "tcg").kind == .tcg)
        #expect(Acceleration.detect(cpuInfo: "flags : fpu", environment: "kvm").kind == .kvm)
    }
}

@Suite("Guests on this machine")
struct GuestFilesTests {
    @Test("names: 1-12 letters and digits, starting with a letter", arguments: [
        ("vm1", true), ("a", true), ("abcdefghijkl", true), ("abcdefghijklm", false), ("1vm", false), ("", false),
        ("vm-1", false), ("vm 1", false), ("vmé", false),
    ])
    func names(name: String, valid: Bool) {
        #expect(Guest.isValidName(name) == valid)
    }

    @Test("a guest whose owning run is gone is a leftover; a standing one is not; down removes its folder")
    func leftovers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-vm-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let machine = try VMMachine.forProfile(try loadProfile("vm-smartnic"))
        func write(_ name: String, owner: ProcessIdentityStub?) throws {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(name)/share", withIntermediateDirectories: true)
            let state = GuestState(name: name, machine: machine, faults: [], image: GuestImage(directory: "/nowhere", kernelRelease: nil),
                                   acceleration: Acceleration(kind: .tcg, reason: "test"), owner: owner?.identity, qemu: nil,
                                   controlPort: 1, createdAt: Date())
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            try encoder.encode(state).write(to: URL(fileURLWithPath: "\(directory)/\(name)/state.json"))
        }
        try write("gone", owner: .dead)
        try write("standing", owner: nil)
        try write("mine", owner: .this)
        // A folder an `up` killed before its state file was written.
        try FileManager.default.createDirectory(atPath: "\(directory)/early", withIntermediateDirectories: true)
        #expect(Guest.leftovers(stateDirectory: directory) == ["early", "gone"])
        #expect(Guest.removeLeftovers(stateDirectory: directory) == ["early", "gone"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["mine", "standing"])
        try Guest.down(name: "standing", stateDirectory: directory)
        try Guest.down(name: "standing", stateDirectory: directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["mine"])
        #expect(throws: VMError.notFound(name: "absent", directory: directory)) {
            try Guest.attach(name: "absent", stateDirectory: directory)
        }
    }
}

/// Owners for state files: this test process, or one that has exited.
enum ProcessIdentityStub {
    case this, dead

    var identity: Systems.ProcessIdentity {
        switch self {
        case .this: ProcessIdentity.current!
        case .dead: ProcessIdentity(pid: Int32.max - 1, startTime: 1)
        }
    }
}
