import Foundation
import Glibc

/// How QEMU runs the guest: KVM only where the CPU really virtualizes (a /dev/kvm without
/// VT-x or AMD-V is a software hypervisor that cannot boot Debian's kernel), else TCG.
public struct Acceleration: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case kvm
        case tcg
    }

    public var kind: Kind
    /// Why this one was chosen, for the first line of the console.
    public var reason: String

    public init(kind: Kind, reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// `DPUCERT_VM_ACCEL` (`kvm` or `tcg`) when set; else KVM when /dev/kvm opens and the
    /// CPU flags list vmx or svm.
    public static func detect(cpuInfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                              environment: String? = getenv("DPUCERT_VM_ACCEL").map { String(cString: $0) }) -> Acceleration {
        if let environment, let kind = Kind(rawValue: environment) {
            return Acceleration(kind: kind, reason: "DPUCERT_VM_ACCEL=\(environment)")
        }
        let flags = cpuInfo?.split(separator: "\n").first { $0.hasPrefix("flags") }?
            .split(separator: " ").map(String.init) ?? []
        let virtualization = flags.first { $0 == "vmx" || $0 == "svm" }
        guard let virtualization else {
            return Acceleration(kind: .tcg, reason: "the CPU has no hardware virtualization (neither vmx nor svm in /proc/cpuinfo)")
        }
        let device = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard device >= 0 else {
            return Acceleration(kind: .tcg, reason: "/dev/kvm cannot be opened (\(String(cString: strerror(errno))))")
        }
        close(device)
        return Acceleration(kind: .kvm, reason: "/dev/kvm and \(virtualization)")
    }

    /// The `-machine` accelerator and `-cpu` model QEMU takes for it.
    var machineOptions: (accel: String, cpu: String) {
        switch kind {
        case .kvm: ("kvm", "host")
        case .tcg: ("tcg", "max")
        }
    }

    public var description: String { "QEMU \(kind.rawValue.uppercased()) (\(reason))" }
}
