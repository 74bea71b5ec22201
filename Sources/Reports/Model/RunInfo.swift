import Foundation

/// Whether the run went through its whole plan.
public enum RunStatus: String, Sendable, Codable, Hashable, CaseIterable {
    /// Every check of the plan ran.
    case completed
    /// The checks selected with `--only` ran; the rest of the plan was left out.
    case partial
    /// Interrupted, or stopped by a check that would not end.
    case aborted
}

/// Whether the device under test was real hardware or an emulated card.
public enum RunMode: String, Sendable, Codable, Hashable, CaseIterable {
    /// A card modelled by dpucert itself: sysfs-shaped trees and the namespace lab.
    case emulated
    case hardware
    /// QEMU's emulated devices under a real Linux kernel in a guest (the VM testbed).
    case vm

    /// Whether the device was anything but real hardware: such a run is never a certification.
    public var isEmulation: Bool { self != .hardware }
}

/// The device profile the run certified against, pinned by content digest.
public struct ProfileReference: Sendable, Codable, Hashable {
    public var id: String
    /// Lower-case hex SHA-256 of the profile file as read.
    public var sha256: String

    public init(id: String, sha256: String) {
        self.id = id
        self.sha256 = sha256
    }
}

/// Facts about the run itself: when, where, how and with what tool.
public struct RunInfo: Sendable, Codable, Hashable {
    public var id: String
    public var status: RunStatus
    @UTCTimestamp public var startedAt: Date
    @UTCTimestamp public var finishedAt: Date
    public var toolVersion: String
    /// The argument vector as invoked, program name first; kept as a list so quoting survives.
    public var commandLine: [String]
    public var host: String
    /// Kernel release and version of the machine that ran the tests (`uname -rv`).
    public var kernel: String
    public var mode: RunMode
    public var profile: ProfileReference
    /// Names of the emulator faults injected into this run; empty for a clean run.
    public var faults: [String]
    /// Present when `--only` limited the run: the run can then never be certified.
    public var selection: RunSelection?

    public init(
        id: String,
        status: RunStatus,
        startedAt: Date,
        finishedAt: Date,
        toolVersion: String,
        commandLine: [String],
        host: String,
        kernel: String,
        mode: RunMode,
        profile: ProfileReference,
        faults: [String] = [],
        selection: RunSelection? = nil
    ) {
        self.id = id
        self.status = status
        self._startedAt = UTCTimestamp(wrappedValue: startedAt)
        self._finishedAt = UTCTimestamp(wrappedValue: finishedAt)
        self.toolVersion = toolVersion
        self.commandLine = commandLine
        self.host = host
        self.kernel = kernel
        self.mode = mode
        self.profile = profile
        self.faults = faults
        self.selection = selection
    }
}
