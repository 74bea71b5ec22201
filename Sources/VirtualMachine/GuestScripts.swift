/// The shell scripts the host writes into the share for the guest's init (`scripts/vm-guest`
/// describes that contract): the boot script, run once before `ready`, and jobs.
public enum GuestScripts {
    /// Where the share appears inside the guest.
    public static let share = "/dpucert"

    /// Prepares QEMU's NVMe controllers for SR-IOV (QEMU 7.2 makes VFs that never come up
    /// unless the primary controller gives up its flexible resources before `sriov_numvfs`
    /// is written), lays the RDMA wire (`GuestRDMAWire`) and starts the guest's agent on
    /// the control NIC, with the responder faults among `faults`.
    static func boot(agent: [String], faults: [VMFault]) -> String {
        let agentCommand = (agent + ["agent", "--listen", "\(QEMUCommand.guestControlAddress):\(QEMUCommand.guestAgentPort)",
                                     "--token-file", "\(share)/agent.token"]
                            + faults.compactMap(\.responderFault).flatMap { ["--rdma-fault", $0] }).map(quoted).joined(separator: " ")
        return """
        #!/bin/sh
        # Written by dpucert for this guest: the VM testbed's set-up inside the guest.
        set -u
        for device in /sys/bus/pci/devices/*; do
            [ "$(cat "$device/class")" = 0x010802 ] && [ -e "$device/sriov_totalvfs" ] || continue
            [ "$(cat "$device/sriov_totalvfs")" -gt 0 ] || continue
            nvme-sriov-prepare prepare "${device##*/}" || exit 1
        done
        \(GuestRDMAWire.setUp(faults: faults))
        \(agentCommand) > \(share)/agent.log 2>&1 &
        exit 0

        """
    }

    /// A job that runs `command` in `folder` (a guest path) with its output to the job's log.
    static func job(_ command: [String], in folder: String) -> String {
        """
        #!/bin/sh
        cd \(quoted(folder)) || exit 125
        exec \(command.map(quoted).joined(separator: " "))

        """
    }

    /// One shell word.
    static func quoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
