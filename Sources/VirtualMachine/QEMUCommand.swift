import Foundation

/// The QEMU command line of a guest: a q35 machine with an Intel IOMMU (interrupt
/// remapping, caching mode, so VFIO works in the guest), each profile function behind
/// its own PCIe root port, a control NIC on the root bus with the agent's port
/// forwarded to this machine's loopback, the share as virtio-9p, the console to a file.
struct QEMUCommand {
    static let executable = "qemu-system-x86_64"
    /// The guest's address on QEMU's user network, and the agent's port there.
    static let guestControlAddress = "10.0.2.15"
    static let guestControlPrefix = 24
    static let guestGateway = "10.0.2.2"
    static let guestAgentPort = 7471
    /// The 9p mount tag the guest's init mounts at /dpucert.
    static let shareTag = "dpucert"

    var name: String
    var machine: VMMachine
    var image: GuestImage
    var acceleration: Acceleration
    var share: String
    var console: String
    var disks: String
    var controlPort: UInt16

    func namespaceImage(_ index: Int) -> String { "\(disks)/nvme\(index).img" }

    var arguments: [String] {
        let options = acceleration.machineOptions
        // Under KVM, interrupt remapping needs the split irqchip; TCG has its own.
        let irqchip = acceleration.kind == .kvm ? ",kernel-irqchip=split" : ""
        var arguments = [
            Self.executable, "-name", "dpucert-\(name)",
            "-machine", "q35,accel=\(options.accel)\(irqchip)", "-cpu", options.cpu,
            "-smp", "\(machine.cpus)", "-m", "\(machine.memoryMiB)",
            "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", "file:\(console)",
            "-kernel", image.kernel, "-initrd", image.initramfs,
            "-append", kernelCommandLine,
            "-device", "intel-iommu,intremap=on,caching-mode=on",
            // Legacy-only virtio (1af4:1000) on the root bus: never mistaken for a profile's virtio-net (1af4:1041).
            "-netdev", "user,id=control,hostfwd=tcp:127.0.0.1:\(controlPort)-\(Self.guestControlAddress):\(Self.guestAgentPort)",
            "-device", "virtio-net-pci,netdev=control,mac=\(VMMachine.controlMAC),disable-modern=on,romfile=,bus=pcie.0",
            "-virtfs", "local,path=\(share),mount_tag=\(Self.shareTag),security_model=none,id=share",
        ]
        var port = 0
        func rootPort() -> String {
            port += 1
            arguments += ["-device", "pcie-root-port,id=rp\(port),chassis=\(port),slot=\(port),bus=pcie.0"]
            return "rp\(port)"
        }
        for (index, controller) in machine.controllers.enumerated() {
            let bus = rootPort()
            var nvme = "nvme,id=nvme\(index),serial=\(controller.serial),subsys=subsys\(index),bus=\(bus)"
            if let vfs = controller.maxVFs, vfs > 0 {
                // Each secondary controller needs two queues (admin, I/O) and one interrupt
                // from the flexible pool.
                nvme += ",sriov_max_vfs=\(vfs),sriov_vq_flexible=\(2 * vfs),sriov_vi_flexible=\(vfs)"
            }
            arguments += [
                "-device", "nvme-subsys,id=subsys\(index),nqn=dpucert-\(name)-\(index)",
                "-device", nvme,
                "-drive", "file=\(namespaceImage(index)),if=none,id=ns\(index),format=raw",
                "-device", "nvme-ns,drive=ns\(index),bus=nvme\(index),nsid=1",
            ]
        }
        for (index, function) in machine.networkFunctions.enumerated() {
            let bus = rootPort()
            arguments += [
                // restrict=on: nothing the data-plane NIC sends leaves the guest's own user network.
                "-netdev", "user,id=data\(index),restrict=on",
                "-device", "virtio-net-pci,netdev=data\(index),mac=\(function.mac),romfile=,bus=\(bus)",
            ]
        }
        return arguments
    }

    var kernelCommandLine: String {
        // Without multipath each controller's namespace is its own nvmeXnY, as on a host without NVMe-oF.
        ["console=ttyS0", "intel_iommu=on", "iommu=pt", "panic=-1", "nvme_core.multipath=N",
         // A guest that cannot mount its share powers off rather than wait at a console nobody reads.
         "dpucert.noshell",
         "dpucert.mac=\(VMMachine.controlMAC)", "dpucert.ip=\(Self.guestControlAddress)/\(Self.guestControlPrefix)",
         "dpucert.gw=\(Self.guestGateway)", "dpucert.hostname=\(name)"].joined(separator: " ")
    }
}
