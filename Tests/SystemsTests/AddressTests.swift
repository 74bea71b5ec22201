import Systems
import Testing

@Suite("Addresses and endpoints")
struct AddressTests {
    @Test("IP literals parse and print back", arguments: [
        ("198.18.0.1", "198.18.0.1", IPAddress.Family.ipv4),
        ("2001:db8::1", "2001:db8::1", .ipv6),
        ("2001:0db8:0000::0001", "2001:db8::1", .ipv6),
        ("fe80::1%eth0", "fe80::1%eth0", .ipv6),
    ])
    func literals(text: String, printed: String, family: IPAddress.Family) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == printed)
        #expect(address.family == family)
    }

    @Test("Malformed literals are refused", arguments: ["", "198.18.0", "198.18.0.256", "2001:db8:::1", "fe80::1%", "198.18.0.1%eth0", "host"])
    func malformed(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("Link-local and multicast are recognised")
    func kinds() throws {
        #expect(try #require(IPAddress("fe80::1")).isLinkLocal)
        #expect(try #require(IPAddress("169.254.1.1")).isLinkLocal)
        #expect(!(try #require(IPAddress("2001:db8::1")).isLinkLocal))
        #expect(try #require(IPAddress("ff02::1")).isMulticast)
        #expect(try #require(IPAddress("224.0.0.1")).isMulticast)
        let solicited = try #require(IPAddress("2001:db8::12:3456")?.solicitedNodeMulticast)
        #expect(solicited.description == "ff02::1:ff12:3456")
    }

    @Test("Prefixes: network, containment, overlap, host offsets")
    func prefixes() throws {
        let oob = try #require(InterfaceAddress("198.19.0.2/24"))
        #expect(oob.network.description == "198.19.0.0")
        #expect(oob.prefix.description == "198.19.0.0/24")
        #expect(oob.contains(try #require(IPAddress("198.19.0.200"))))
        #expect(!oob.contains(try #require(IPAddress("198.19.1.1"))))
        #expect(!oob.contains(try #require(IPAddress("2001:db8::1"))))
        #expect(oob.overlaps(try #require(InterfaceAddress("198.18.0.0/15"))))
        #expect(!oob.overlaps(try #require(InterfaceAddress("198.18.0.0/19"))))
        #expect(oob.host(1)?.description == "198.19.0.1")
        #expect(oob.host(256) == nil)
        let v6 = try #require(InterfaceAddress("2001:db8:1:10::10/64"))
        #expect(v6.prefix.description == "2001:db8:1:10::/64")
        #expect(v6.host(3)?.description == "2001:db8:1:10::3")
        #expect(InterfaceAddress("198.19.0.2/33") == nil)
        #expect(InterfaceAddress("198.19.0.2") == nil)
    }

    @Test("Endpoints parse with brackets for IPv6 and print back", arguments: [
        "198.18.0.2:7471", "[2001:db8:1::2]:7471", "[fe80::1%oob_net0]:22", "0.0.0.0:0",
    ])
    func endpoints(text: String) throws {
        let endpoint = try #require(SocketEndpoint(text))
        #expect(endpoint.description == text)
    }

    @Test("Malformed endpoints are refused", arguments: ["198.18.0.2", "2001:db8::2:22", "[2001:db8::2]22", "198.18.0.2:65536", ":22"])
    func malformedEndpoints(text: String) {
        #expect(SocketEndpoint(text) == nil)
    }
}
