/// A datagram a UDP probe sends: a well-formed request of the protocol expected on
/// the port, so that a real service answers and the probe can say `open`.
public struct UDPPayload: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    public var description: String { name }

    /// The request for a well-known port, or a short generic datagram.
    public static func wellKnown(port: UInt16) -> UDPPayload {
        standardList.first { $0.port == port }?.payload ?? generic
    }

    public static let generic = UDPPayload(name: "generic", bytes: Array("dpucert-probe\n".utf8))

    /// Well-known UDP ports with a request their service answers; a sweep sends these
    /// there and `generic` elsewhere.
    public static let standardList: [UDPProbeTarget] = [
        UDPProbeTarget(port: 53, payload: UDPPayload(name: "dns-query", bytes: dnsQuery(id: 0x4450, name: ["dpucert-probe", "invalid"], recursion: true))),
        UDPProbeTarget(port: 67, payload: UDPPayload(name: "dhcp-discover", bytes: dhcpDiscover)),
        UDPProbeTarget(port: 69, payload: UDPPayload(name: "tftp-read-request", bytes: [0, 1] + Array("dpucert-probe\0octet\0".utf8))),
        UDPProbeTarget(port: 123, payload: UDPPayload(name: "ntp-client", bytes: [0x23] + Array(repeating: 0, count: 47))),
        UDPProbeTarget(port: 137, payload: UDPPayload(name: "netbios-node-status", bytes: netbiosNodeStatus)),
        UDPProbeTarget(port: 161, payload: UDPPayload(name: "snmp-v2c-get-sysdescr", bytes: snmpGetSysDescr)),
        UDPProbeTarget(port: 623, payload: UDPPayload(name: "rmcp-presence-ping", bytes: RMCP.presencePing(tag: 0x44))),
        UDPProbeTarget(port: 1900, payload: UDPPayload(name: "ssdp-m-search", bytes: Array(
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n".utf8))),
        UDPProbeTarget(port: 5353, payload: UDPPayload(name: "mdns-services-query", bytes: dnsQuery(id: 0, name: ["_services", "_dns-sd", "_udp", "local"], type: 12, recursion: false))),
        UDPProbeTarget(port: 5355, payload: UDPPayload(name: "llmnr-query", bytes: dnsQuery(id: 0x4451, name: ["dpucert-probe"], recursion: false))),
    ]

    private static func dnsQuery(id: UInt16, name: [String], type: UInt16 = 1, recursion: Bool) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), recursion ? 0x01 : 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        bytes += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        return bytes
    }

    private static let dhcpDiscover: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: 236)
        bytes[0] = 1      // BOOTREQUEST
        bytes[1] = 1      // Ethernet
        bytes[2] = 6      // hardware address length
        bytes[4...7] = [0x64, 0x70, 0x75, 0x63]
        bytes[10] = 0x80  // broadcast flag
        bytes[28...33] = [0x02, 0, 0, 0, 0, 0x01]
        return bytes + [0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255]
    }()

    private static let netbiosNodeStatus: [UInt8] = {
        // The wildcard name "*" in first-level encoding: each nibble + 'A', padded with NULs.
        let name: [UInt8] = [0x2a] + Array(repeating: 0, count: 15)
        let encoded = name.flatMap { [UInt8(ascii: "A") + ($0 >> 4), UInt8(ascii: "A") + ($0 & 0x0f)] }
        return [0x44, 0x52, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 32] + encoded + [0, 0x00, 0x21, 0x00, 0x01]
    }()

    private static let snmpGetSysDescr: [UInt8] = [
        0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06] + Array("public".utf8) + [
        0xa0, 0x1c, 0x02, 0x04, 0x64, 0x70, 0x75, 0x63, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
        0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
    ]
}

/// A UDP port and the request a sweep sends to it.
public struct UDPProbeTarget: Sendable, Hashable, Codable {
    public var port: UInt16
    public var payload: UDPPayload

    public init(port: UInt16, payload: UDPPayload) {
        self.port = port
        self.payload = payload
    }
}

/// RMCP/ASF presence ping and pong (DMTF DSP0136): what an IPMI-over-LAN endpoint on
/// UDP 623 answers without authentication.
public enum RMCP {
    /// RMCP header (version 6, no ACK, class ASF) + ASF header with IANA 4542.
    private static func message(type: UInt8, tag: UInt8, data: [UInt8]) -> [UInt8] {
        [0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, type, tag, 0x00, UInt8(data.count)] + data
    }

    public static func presencePing(tag: UInt8) -> [UInt8] {
        message(type: 0x80, tag: tag, data: [])
    }

    /// The pong: IANA 4542, no OEM data, "IPMI supported" + ASF 1.0, no interactions.
    public static func presencePong(tag: UInt8) -> [UInt8] {
        message(type: 0x40, tag: tag, data: [0x00, 0x00, 0x11, 0xbe, 0, 0, 0, 0, 0x81, 0x00, 0, 0, 0, 0, 0, 0])
    }

    /// The tag of a presence ping, nil for anything else.
    public static func pingTag(_ bytes: [UInt8]) -> UInt8? {
        guard bytes.count >= 12, bytes[0] == 0x06, bytes[3] == 0x06,
              bytes[4...7] == [0x00, 0x00, 0x11, 0xbe], bytes[8] == 0x80 else { return nil }
        return bytes[9]
    }

    /// Whether `bytes` is a presence pong.
    public static func isPresencePong(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 28 && bytes[0] == 0x06 && bytes[3] == 0x06 && bytes[4...7] == [0x00, 0x00, 0x11, 0xbe] && bytes[8] == 0x40
    }
}
