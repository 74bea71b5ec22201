import CVerbs
import CVerbsShims
import Foundation
import Glibc

/// An RDMA device as verbs and sysfs describe it.
public struct RDMADeviceInfo: Sendable, Hashable, Codable {
    public var name: String
    /// The PCI function it belongs to (`0000:03:00.0`); nil for a software device (rxe).
    public var pciAddress: String?
    public var firmware: String
    public var nodeGUID: String
    /// The most RDMA READs a QP may have outstanding as initiator and as responder.
    public var maxReadsOutstanding: Int
    public var ports: [RDMAPortInfo]
}

/// One port: its state, link layer, MTU and GID table.
public struct RDMAPortInfo: Sendable, Hashable, Codable {
    public var number: Int
    /// `ACTIVE`, `DOWN`, `INIT`, `ARMED`, `ACTIVE_DEFER`, `NOP`.
    public var state: String
    /// `Ethernet` (RoCE) or `InfiniBand`.
    public var linkLayer: String
    public var activeMTU: Int
    public var maxMTU: Int
    public var gids: [RDMAGID]

    public var isActive: Bool { state == "ACTIVE" }
}

/// A populated GID table entry.
public struct RDMAGID: Sendable, Hashable, Codable {
    public var index: Int
    /// Colon-separated groups of four hex digits, as sysfs writes it.
    public var value: String
    /// `RoCE v2`, `IB/RoCE v1`; nil where sysfs does not say.
    public var type: String?
    /// The netdev the GID belongs to (RoCE).
    public var netdev: String?
}

/// The RDMA devices of this machine.
public enum RDMADevices {
    /// Every device with its ports. Throws `.noSubsystem` where the kernel has no RDMA
    /// (ibv_get_device_list fails with ENOSYS): a reason to skip, not a crash.
    public static func list() throws(FabricError) -> [RDMADeviceInfo] {
        var count: Int32 = 0
        guard let list = ibv_get_device_list(&count) else {
            let code = errno
            throw FabricError(code == ENOSYS ? .noSubsystem : .call, "ibv_get_device_list", subject: "", code: code)
        }
        defer { ibv_free_device_list(list) }
        var devices: [RDMADeviceInfo] = []
        for index in 0..<Int(count) {
            guard let device = list[index] else { continue }
            devices.append(try describe(device))
        }
        return devices.sorted { $0.name < $1.name }
    }

    private static func describe(_ device: UnsafeMutablePointer<ibv_device>) throws(FabricError) -> RDMADeviceInfo {
        let name = String(cString: ibv_get_device_name(device))
        guard let context = ibv_open_device(device) else { throw FabricError.call("ibv_open_device", name, returned: -1) }
        defer { ibv_close_device(context) }
        var attributes = ibv_device_attr()
        let status = ibv_query_device(context, &attributes)
        guard status == 0 else { throw FabricError.call("ibv_query_device", name, returned: status) }
        var ports: [RDMAPortInfo] = []
        for number in 1...max(1, Int(attributes.phys_port_cnt)) {
            var port = ibv_port_attr()
            let status = dpucert_query_port(context, UInt8(number), &port)
            guard status == 0 else { throw FabricError.call("ibv_query_port", "\(name) port \(number)", returned: status) }
            ports.append(RDMAPortInfo(number: number, state: portState(port.state), linkLayer: linkLayer(port.link_layer),
                                      activeMTU: mtu(port.active_mtu), maxMTU: mtu(port.max_mtu),
                                      gids: gids(context, name: name, port: number, tableLength: Int(port.gid_tbl_len))))
        }
        let firmware = withUnsafeBytes(of: attributes.fw_ver) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let pci = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/class/infiniband/\(name)/device"))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
        return RDMADeviceInfo(name: name, pciAddress: pci.flatMap { $0.contains(":") ? $0 : nil }, firmware: firmware,
                              nodeGUID: guid(UInt64(bigEndian: attributes.node_guid)),
                              maxReadsOutstanding: Int(min(attributes.max_qp_rd_atom, attributes.max_qp_init_rd_atom)),
                              ports: ports)
    }

    private static func gids(_ context: UnsafeMutablePointer<ibv_context>, name: String, port: Int, tableLength: Int) -> [RDMAGID] {
        var gids: [RDMAGID] = []
        for index in 0..<tableLength {
            var gid = ibv_gid()
            guard ibv_query_gid(context, UInt8(port), Int32(index), &gid) == 0 else { continue }
            let bytes = withUnsafeBytes(of: gid.raw) { Array($0) }
            guard bytes.contains(where: { $0 != 0 }) else { continue }
            let value = stride(from: 0, to: 16, by: 2).map { String(format: "%02x%02x", bytes[$0], bytes[$0 + 1]) }.joined(separator: ":")
            let attributes = "/sys/class/infiniband/\(name)/ports/\(port)/gid_attrs"
            gids.append(RDMAGID(index: index, value: value, type: sysfsLine("\(attributes)/types/\(index)"),
                                netdev: sysfsLine("\(attributes)/ndevs/\(index)")))
        }
        return gids
    }

    private static func sysfsLine(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func guid(_ value: UInt64) -> String {
        stride(from: 48, through: 0, by: -16).map { String(format: "%04x", UInt16(truncatingIfNeeded: value >> UInt64($0))) }
            .joined(separator: ":")
    }

    static func portState(_ state: ibv_port_state) -> String {
        switch state {
        case IBV_PORT_NOP: "NOP"
        case IBV_PORT_DOWN: "DOWN"
        case IBV_PORT_INIT: "INIT"
        case IBV_PORT_ARMED: "ARMED"
        case IBV_PORT_ACTIVE: "ACTIVE"
        case IBV_PORT_ACTIVE_DEFER: "ACTIVE_DEFER"
        default: "UNKNOWN(\(state.rawValue))"
        }
    }

    static func linkLayer(_ layer: UInt8) -> String {
        switch Int32(layer) {
        case Int32(IBV_LINK_LAYER_ETHERNET): "Ethernet"
        case Int32(IBV_LINK_LAYER_INFINIBAND), Int32(IBV_LINK_LAYER_UNSPECIFIED): "InfiniBand"
        default: "unknown(\(layer))"
        }
    }

    /// Bytes of an `enum ibv_mtu` (1: 256 ... 5: 4096).
    static func mtu(_ value: ibv_mtu) -> Int {
        value.rawValue >= 1 && value.rawValue <= 5 ? 128 << Int(value.rawValue) : 0
    }
}
