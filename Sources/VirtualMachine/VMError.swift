import Systems

/// Why a guest could not be described, booted, reached or removed.
public enum VMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The profile describes functions QEMU cannot present; none of them is faked.
    case unpresentable(profile: String, functions: [String])
    case invalidName(String)
    case unknownFault(String, known: [String])
    /// The fault needs something the profile does not have (an SR-IOV function, a second function).
    case faultNotApplicable(fault: String, reason: String)
    case noGuestImage(directory: String)
    case qemuMissing(String)
    case alreadyExists(name: String, directory: String)
    case notFound(name: String, directory: String)
    case stateFile(path: String, reason: String)
    case files(path: String, reason: String)
    case command(CommandError)
    /// QEMU exited, or the guest did not say it was ready in time; with the console's last lines.
    case bootFailed(name: String, reason: String, console: String)
    case agentUnreachable(name: String, reason: String)
    case jobFailed(name: String, job: String, reason: String)

    public var description: String {
        switch self {
        case .unpresentable(let profile, let functions):
            return "profile \(profile) describes functions QEMU cannot present: \(functions.joined(separator: "; ")); "
                + "the VM testbed presents NVMe controllers (1b36:0010) and virtio-net (1af4:1041) only "
                + "(profiles/vm-smartnic.yaml describes that card)"
        case .invalidName(let name):
            return "VM name \"\(name)\": expected 1-12 letters and digits, starting with a letter"
        case .unknownFault(let name, let known):
            return "unknown VM fault \"\(name)\" (known: \(known.joined(separator: ", ")))"
        case .faultNotApplicable(let fault, let reason):
            return "fault \(fault) cannot be injected: \(reason)"
        case .noGuestImage(let directory):
            return "no guest image in \(directory): build one with scripts/vm-guest build"
        case .qemuMissing(let detail):
            return "QEMU is not installed (\(detail)): apt-get install qemu-system-x86, or run scripts/setup-deps.sh"
        case .alreadyExists(let name, let directory):
            return "a VM named \(name) already exists (\(directory)); remove it with `dpucert emulate vm down --name \(name)`"
        case .notFound(let name, let directory):
            return "no VM named \(name) in \(directory) (start one with `dpucert emulate vm up`)"
        case .stateFile(let path, let reason):
            return "VM state file \(path): \(reason)"
        case .files(let path, let reason):
            return "\(path): \(reason)"
        case .command(let error):
            return error.description
        case .bootFailed(let name, let reason, let console):
            return "guest \(name) did not boot: \(reason)" + (console.isEmpty ? "" : "; its console ended with:\n\(console)")
        case .agentUnreachable(let name, let reason):
            return "the agent of guest \(name) did not answer: \(reason)"
        case .jobFailed(let name, let job, let reason):
            return "guest \(name), job \(job): \(reason)"
        }
    }
}
