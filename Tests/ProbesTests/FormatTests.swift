@testable import Probes
import Systems
import Testing

@Suite("Wire formats and parsers")
struct FormatTests {
    @Test("RMCP presence ping and pong recognise each other")
    func rmcp() throws {
        let ping = RMCP.presencePing(tag: 0x2a)
        #expect(ping.count == 12)
        #expect(RMCP.pingTag(ping) == 0x2a)
        let pong = RMCP.presencePong(tag: 0x2a)
        #expect(pong.count == 28)
        #expect(RMCP.isPresencePong(pong))
        #expect(pong[9] == 0x2a)
        #expect(RMCP.pingTag(pong) == nil)
        #expect(!RMCP.isPresencePong(ping))
    }

    @Test("Well-known UDP payloads are chosen by port and carry their protocol's shape")
    func udpPayloads() {
        #expect(UDPPayload.wellKnown(port: 623).name == "rmcp-presence-ping")
        #expect(UDPPayload.wellKnown(port: 9).name == "generic")
        let ntp = UDPPayload.wellKnown(port: 123).bytes
        #expect(ntp.count == 48 && ntp[0] == 0x23)
        let snmp = UDPPayload.wellKnown(port: 161).bytes
        // BER: the outer SEQUENCE length covers the rest of the message exactly.
        #expect(snmp[0] == 0x30 && Int(snmp[1]) == snmp.count - 2)
        let dns = UDPPayload.wellKnown(port: 53).bytes
        #expect(dns[4...5] == [0, 1])  // one question
        let ports = UDPPayload.standardList.map(\.port)
        #expect(Set(ports).isSuperset(of: [53, 67, 69, 123, 161, 623, 1900, 5353, 5355]))
        #expect(Set(ports).count == ports.count)
    }

    @Test("Internet checksum of an echo request verifies to zero")
    func checksum() {
        var packet: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x61, 0x62, 0x63]
        let sum = Checksum.internet(packet)
        packet[2] = UInt8(sum >> 8)
        packet[3] = UInt8(sum & 0xff)
        #expect(Checksum.internet(packet) == 0)
    }

    @Test("nft counter JSON is read by name")
    func nftCounters() throws {
        let json = """
            {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
             {"counter": {"family": "inet", "name": "host_drops", "table": "dpucert_t1", "handle": 2, "packets": 8, "bytes": 436}},
             {"counter": {"family": "inet", "name": "other_drops", "table": "dpucert_t1", "handle": 3, "packets": 0, "bytes": 0}}]}
            """
        let counters = try FirewallCounters.parse(json)
        #expect(counters["host_drops"] == FirewallCounter(name: "host_drops", packets: 8, bytes: 436))
        #expect(counters["other_drops"]?.packets == 0)
        #expect(counters.count == 2)
        #expect(throws: (any Error).self) { try FirewallCounters.parse("{\"nftables\": 3}") }
    }

    @Test("/proc/net tables yield listening sockets in network byte order")
    func procNet() {
        let tcp = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 020013C6:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41877 1 0
               1: 0100007F:C825 0100007F:889D 01 00000000:00000000 00:00000000 00000000     0        0 41902 1 0
            """
        let parsed = ProcNetTable.parse(tcp, transport: .tcp, state: "0A")
        #expect(parsed.map(\.socket.description) == ["tcp 198.19.0.2:22"])
        #expect(parsed.map(\.inode) == [41877])
        let tcp6 = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: B80D01200000FF000000000002000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52011 1 0
               1: B80D01200000FF000000000002000000:D431 B80D01200000FF000000000001000000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 52012 1 0
            """
        #expect(ProcNetTable.parse(tcp6, transport: .tcp, state: "0A").map(\.socket.description) == ["tcp [2001:db8:ff::2]:443"])
    }

    @Test("Evidence durations are compact")
    func durations() {
        #expect(Duration.seconds(1).evidenceText == "1 s")
        #expect(Duration.milliseconds(1500).evidenceText == "1.5 s")
        #expect(Duration.milliseconds(250).evidenceText == "250 ms")
        #expect(Duration.microseconds(3200).evidenceText == "3.2 ms")
    }

    @Test("Queued ICMP errors are decoded with their sender")
    func extendedError() throws {
        // cmsghdr (len 48, SOL_IP, IP_RECVERR) + sock_extended_err (ECONNREFUSED, origin ICMP, type 3, code 3) + sockaddr_in 198.18.0.2.
        var control = [UInt8](repeating: 0, count: 48)
        control[0] = 48
        control[12] = 11
        control[16] = 111
        control[20] = 2
        control[21] = 3
        control[22] = 3
        control[32] = 2
        control[36...39] = [198, 18, 0, 2]
        let report = try #require(Socket.parseExtendedError(control))
        #expect(report.offender?.description == "198.18.0.2")
        #expect(report.description == "ICMP destination unreachable: port unreachable")
    }
}
