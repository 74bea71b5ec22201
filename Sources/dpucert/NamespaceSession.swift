import Emulator
import Foundation
import Logging
import Systems

/// The emulated namespaces of one emulated run: each NVMe namespace of the card served
/// through FUSE from a sparse backing file (with the run's storage fault), in a folder
/// under `$DPUCERT_RUN_DIR/namespaces` named after this process; stopped and removed at
/// the end of the run, or by the next run when this one was killed.
struct NamespaceSession {
    let directory: String
    let servers: [EmulatedNamespaceProcess]
    let logger: Logger

    static var parent: String { DPUCertDirectories.run + "/namespaces" }

    /// Starts a server for every block device of `card` and returns the card with its
    /// nodes leading to them; nothing is started when `wanted` is false.
    static func start(for card: EmulatedCard, fault: StorageFault?, wanted: Bool,
                      logger: Logger) throws -> (session: NamespaceSession, card: EmulatedCard) {
        removeLeftovers(logger: logger)
        guard wanted, !card.blockDevices.isEmpty, let owner = ProcessIdentity.current else {
            return (NamespaceSession(directory: "", servers: [], logger: logger), card)
        }
        let directory = "\(parent)/\(owner.pid)-\(owner.startTime)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var servers: [EmulatedNamespaceProcess] = []
        do {
            for device in card.blockDevices {
                servers.append(try EmulatedNamespaceProcess.start(
                    executable: [executable], backing: "\(directory)/\(device.name).img", mountPoint: "\(directory)/\(device.name)",
                    fileName: device.name, sizeMiB: Int(device.sizeBytes >> 20), fault: fault,
                    logPath: "\(directory)/\(device.name).log"))
            }
        } catch {
            NamespaceSession(directory: directory, servers: servers, logger: logger).stop()
            throw error
        }
        let paths = Dictionary(uniqueKeysWithValues: servers.map { ($0.fileName, $0.path) })
        return (NamespaceSession(directory: directory, servers: servers, logger: logger),
                card.withBlockDeviceNodes { paths[$0.name] })
    }

    func stop() {
        for server in servers {
            do {
                try server.stop()
            } catch {
                logger.error("stopping the emulated namespace at \(server.mountPoint) failed: \(error)")
            }
        }
        if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Namespaces of runs that were killed: their mounts taken down, their folders removed.
    static func removeLeftovers(logger: Logger) {
        guard let owners = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for owner in owners {
            let parts = owner.split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), let start = UInt64(parts[1]),
                  !ProcessIdentity(pid: pid, startTime: start).isRunning else { continue }
            let directory = "\(parent)/\(owner)"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for entry in entries where !entry.contains(".") {
                try? EmulatedNamespaceProcess.removeLeftover(mountPoint: "\(directory)/\(entry)", backing: "\(directory)/\(entry).img")
            }
            try? FileManager.default.removeItem(atPath: directory)
            logger.notice("removed the emulated namespaces of a killed run (\(owner))")
        }
    }
}
