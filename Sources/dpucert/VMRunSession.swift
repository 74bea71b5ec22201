import Certification
import Foundation
import Inventory
import Profiles
import Reports
import VirtualMachine

/// `dpucert run --vm`: the hardware backends run inside a QEMU guest (libpci on the
/// guest's real /sys, `sriov_numvfs` written through the real kernel), started there by
/// the same dpucert; its report comes back through the share and is written here, in
/// every format asked for. The mode is `vm`: never a certification.
struct VMRunSession {
    let arguments: RunCommand
    let profile: Profile
    let observer: ConsoleObserver
    /// How long the guest's run may take before it is given up.
    static let runTimeLimit = Duration.seconds(1800)

    func execute() throws -> Int32 {
        let faults = try FaultSelection(names: arguments.fault)
        guard faults.pci.isEmpty, faults.lab.isEmpty else {
            throw CLIError(.input, command: "run --vm", "\((faults.pci.map(\.name) + faults.lab.map(\.name)).joined(separator: ", ")) "
                           + "model the emulated tree or lab; the VM testbed injects VM faults only (`dpucert emulate faults`)")
        }
        let startedAt = Date()
        let stateDirectory = arguments.vmStateDirectory.path
        let guest: Guest
        let ownsGuest = arguments.lab == nil
        if let name = arguments.lab {
            do {
                guest = try Guest.attach(name: name, stateDirectory: stateDirectory)
            } catch {
                throw CLIError(error, command: "run --vm")
            }
            observer.say("dpucert: VM run of \(profile.id) in standing guest \(name) (\(guest.state.acceleration))"
                          + (guest.state.faults.isEmpty ? "" : "; faults: " + guest.state.faults.map(\.name).joined(separator: ", ")))
            if !faults.vm.isEmpty {
                observer.say("dpucert: guest \(name) stands with the faults it was booted with; --fault is ignored")
            }
        } else {
            let name = "vr" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
            guest = try GuestBoot.boot(profile: profile, faults: faults.vm, name: name, standing: false,
                                       stateDirectory: stateDirectory, say: observer.say, command: "run --vm").guest
        }
        defer { if ownsGuest { guest.down() } }

        let cancellation = CancellationFlag()
        let signals = RunSession.interruptHandlers(cancellation: cancellation, observer: observer)
        defer { signals.forEach { $0.cancel() } }

        let folder: Guest.RunFolder
        do {
            folder = try guest.makeRunFolder(id: UUID().uuidString.lowercased())
            try Data(contentsOf: URL(fileURLWithPath: arguments.profile)).write(to: URL(fileURLWithPath: folder.hostPath + "/profile.yaml"))
        } catch let error as VMError {
            throw CLIError(error, command: "run --vm")
        } catch {
            throw CLIError(.incomplete, command: "run --vm", "cannot stage the run in the guest's share: \(error)")
        }
        defer { guest.removeRunFolder(folder) }

        var command = folder.payload.guestCommand + ["run", "--profile", "profile.yaml", "--hardware", "--vm-guest", "--out", "out"]
        for pattern in arguments.only { command += ["--only", pattern] }
        if arguments.verbose { command.append("--verbose") }
        if arguments.quiet { command.append("--quiet") }
        let report: Report
        do {
            let status = try guest.run(command, in: folder.guestPath, job: "run", timeout: Self.runTimeLimit,
                                       isCancelled: { cancellation.isCancelled }, output: { observer.say("  guest: " + $0) })
            report = try guestReport(folder: folder, status: status)
        } catch {
            observer.say("dpucert: the guest's run did not finish: \(error)")
            report = try aborted(startedAt: startedAt)
        }
        return try ReportDelivery(arguments: arguments, profile: profile, observer: observer).deliver(hostView(of: report, faults: guest.state.faults))
    }

    /// The report the guest's run wrote; its exit status 2 (bad input) means there is none.
    private func guestReport(folder: Guest.RunFolder, status: Int32) throws -> Report {
        let path = folder.hostPath + "/out/" + ReportFormat.json.defaultFileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(.incomplete, command: "run --vm", "the guest's run exited with status \(status) and wrote no report")
        }
        let report = try ReportJSON.decode(data)
        guard report.run.mode == .vm else {
            throw CLIError(.incomplete, command: "run --vm", "the guest's report says mode \(report.run.mode.rawValue), not vm")
        }
        return report
    }

    /// The guest's report as this run's: this command line, the faults the guest was built with.
    private func hostView(of report: Report, faults: [VMFault]) -> Report {
        var report = report
        report.run.commandLine = CommandLine.arguments
        report.run.faults = faults.map(\.name)
        return report
    }

    /// A valid report marked aborted for a run whose guest never reported: nothing examined.
    private func aborted(startedAt: Date) throws -> Report {
        let run = CertificationRun(profile: profile, profileSHA256: try arguments.profileDigest(), mode: .vm, faults: arguments.fault,
                                   commandLine: CommandLine.arguments, toolVersion: DPUCert.version)
        return run.report(results: [], status: .aborted, startedAt: startedAt,
                          dut: PCIInventory(source: .live, functions: []), observer: observer)
    }
}
