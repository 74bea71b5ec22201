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
        guard faults.emulatedOnly.isEmpty else {
            throw CLIError(.input, command: "run --vm", "\(faults.emulatedOnly.joined(separator: ", ")) "
                           + "model the emulated tree or lab; the VM testbed injects VM faults only (`dpucert emulate faults`)")
        }
        let startedAt = Date()
        let cancellation = CancellationFlag()
        let signals = RunSession.interruptHandlers(cancellation: cancellation, observer: observer)
        defer { signals.forEach { $0.cancel() } }
        let delivery = ReportDelivery(arguments: arguments, profile: profile, observer: observer)
        let guest: Guest
        do {
            guest = try obtainGuest(faults: faults.vm, cancellation: cancellation)
        } catch where cancellation.isCancelled {
            return try delivery.deliver(aborted(because: "interrupted before the guest was up", faults: faults.vm,
                                                startedAt: startedAt))
        }
        defer { if arguments.lab == nil { guest.down() } }
        let report = try run(in: guest, startedAt: startedAt, cancellation: cancellation)
        return try delivery.deliver(hostView(of: report, faults: guest.state.faults))
    }

    /// The standing guest `--lab` names, or one booted for this run.
    private func obtainGuest(faults: [VMFault], cancellation: CancellationFlag) throws -> Guest {
        let stateDirectory = arguments.vmStateDirectory.path
        guard let name = arguments.lab else {
            let name = "vr" + String(UInt32.random(in: 0x10000...0xfffff), radix: 16)
            return try GuestBoot.boot(profile: profile, faults: faults, name: name, standing: false,
                                      stateDirectory: stateDirectory, isCancelled: { cancellation.isCancelled },
                                      say: observer.say, command: "run --vm").guest
        }
        let guest: Guest
        do {
            guest = try Guest.attach(name: name, stateDirectory: stateDirectory)
        } catch {
            throw CLIError(error, command: "run --vm")
        }
        observer.say("dpucert: VM run of \(profile.id) in standing guest \(name) (\(guest.state.acceleration))"
                     + (guest.state.faults.isEmpty ? "" : "; faults: " + guest.state.faults.map(\.name).joined(separator: ", ")))
        if !faults.isEmpty {
            observer.say("dpucert: guest \(name) stands with the faults it was booted with; --fault is ignored")
        }
        return guest
    }

    /// Stages this dpucert and the profile in the guest's share, runs the plan there with
    /// the hardware backends, and brings its report back; an aborted one when it did not finish.
    private func run(in guest: Guest, startedAt: Date, cancellation: CancellationFlag) throws -> Report {
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
        do {
            let status = try guest.run(command, in: folder.guestPath, job: "run", timeout: Self.runTimeLimit,
                                       isCancelled: { cancellation.isCancelled }, output: { observer.say("  guest: " + $0) })
            return try guestReport(folder: folder, status: status)
        } catch {
            observer.say("dpucert: the guest's run did not finish: \(error)")
            return try aborted(because: "the guest's run did not finish: \(Self.firstLine(of: error))", faults: guest.state.faults,
                               startedAt: startedAt)
        }
    }

    /// A report marked aborted in which no check ran here.
    private func aborted(because reason: String, faults: [VMFault], startedAt: Date) throws -> Report {
        let run = CertificationRun(profile: profile, profileSHA256: try arguments.profileDigest(), mode: .vm,
                                   faults: faults.map(\.name), commandLine: CommandLine.arguments, toolVersion: DPUCert.version)
        return run.aborted(tests: TestRunner.select(CertificationRun.plan(for: profile), only: arguments.only),
                           because: reason, startedAt: startedAt, only: arguments.only, observer: observer)
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

    private static func firstLine(of error: any Error) -> String {
        String("\(error)".prefix { $0 != "\n" })
    }
}
