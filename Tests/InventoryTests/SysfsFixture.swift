import Foundation
@testable import Inventory

/// A hand-built sysfs tree in a temporary directory, laid out as the kernel lays
/// out `/sys/bus/pci` (the directory that contains `devices/`).
final class SysfsFixture {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dpucert-sysfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/devices", withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    func directory(_ address: String) -> String { root + "/devices/" + address }

    /// Adds a function with the identity files libpci needs and `config` bytes.
    func addFunction(_ address: String, config: [UInt8], vendor: UInt16? = nil, device: UInt16? = nil) throws {
        let space = ConfigSpace(config)
        let directory = directory(address)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(config).write(to: URL(fileURLWithPath: directory + "/config"))
        let classCode = (space.u32(0x08) ?? 0) >> 8
        try write(address, "vendor", "0x" + hex(vendor ?? space.u16(0) ?? 0xffff, width: 4))
        try write(address, "device", "0x" + hex(device ?? space.u16(2) ?? 0xffff, width: 4))
        try write(address, "class", "0x" + hex(classCode, width: 6))
        try write(address, "revision", "0x" + hex(space.u8(8) ?? 0, width: 2))
        try write(address, "subsystem_vendor", "0x" + hex(space.u16(0x2c) ?? 0, width: 4))
        try write(address, "subsystem_device", "0x" + hex(space.u16(0x2e) ?? 0, width: 4))
        try write(address, "irq", "0")
        try write(address, "resource", Array(repeating: "0x0000000000000000 0x0000000000000000 0x0000000000000000", count: 13)
            .joined(separator: "\n"))
    }

    func write(_ address: String, _ file: String, _ contents: String) throws {
        let path = directory(address) + "/" + file
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data((contents + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    func link(_ address: String, _ name: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: directory(address) + "/" + name, withDestinationPath: target)
    }

    func makeDirectory(_ address: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: directory(address) + "/" + path, withIntermediateDirectories: true)
    }

    /// The raw config bytes of every function of a dump, read through libpci.
    static func configs(fromDump path: String) throws -> [RawPCIFunction] {
        try LibPCIBus(source: .dump(path: path)).scan()
    }
}
