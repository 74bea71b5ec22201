import Fabric
import Foundation
import Testing

@Suite("Fabric: the responder contract, memory access, the data pattern, device listing")
struct FabricTests {
    @Test("a responder request survives the CM's private data, and anything else is refused", arguments: [
        ResponderRequest(mode: .passive),
        ResponderRequest(mode: .echoSend, tenant: 3, messageBytes: 65536, depth: 4),
        ResponderRequest(mode: .echoWrite, tenant: 1, messageBytes: 64, depth: 2,
                         reply: RemoteBuffer(address: 0x7f00_1234_5000, length: 64, rkey: 0xdead_beef)),
    ])
    func requestRoundTrip(request: ResponderRequest) {
        let bytes = request.encoded
        #expect(bytes.count == ResponderRequest.encodedSize)
        #expect(ResponderRequest(bytes + [0, 0, 0]) == request, "the CM may pad private data")
        var foreign = bytes
        foreign[0] = 0
        #expect(ResponderRequest(foreign) == nil)
        #expect(ResponderRequest(Array(bytes.prefix(20))) == nil)
    }

    @Test("the reply names the echo buffer, or none")
    func reply() {
        let buffer = RemoteBuffer(address: 0x1000, length: 4096, rkey: 7)
        #expect(ResponderReply(ResponderReply(echoBuffer: buffer).encoded).echoBuffer == buffer)
        #expect(ResponderReply(ResponderReply(echoBuffer: nil).encoded).echoBuffer == nil)
        #expect(ResponderReply([]).echoBuffer == nil)
    }

    @Test("access flags read and written as the control channel carries them", arguments: [
        ("none", MemoryAccess()), ("remote-read", MemoryAccess.remoteRead),
        ("local-write,remote-write,remote-read,remote-atomic", MemoryAccess.all),
    ])
    func access(text: String, access: MemoryAccess) {
        #expect(MemoryAccess(text) == access)
        #expect(access.description == text)
    }

    @Test("unknown access words are refused")
    func unknownAccess() {
        #expect(MemoryAccess("remote-write,everything") == nil)
    }

    @Test("the pattern finds the first altered byte, and only a different seed or a change differs")
    func pattern() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4099, alignment: 8)
        defer { buffer.deallocate() }
        RDMAPattern.fill(buffer, seed: 42)
        #expect(RDMAPattern.firstMismatch(UnsafeRawBufferPointer(buffer), seed: 42) == nil)
        #expect(RDMAPattern.firstMismatch(UnsafeRawBufferPointer(buffer), seed: 43) != nil)
        buffer[4098] ^= 1
        #expect(RDMAPattern.firstMismatch(UnsafeRawBufferPointer(buffer), seed: 42) == 4098)
    }

    @Test("listing devices either lists them or says there is no RDMA subsystem")
    func listing() {
        do {
            let devices = try RDMADevices.list()
            #expect(devices.allSatisfy { !$0.ports.isEmpty })
        } catch {
            #expect(error.kind == .noSubsystem || error.kind == .call)
            #expect("\(error)".contains("ibv_get_device_list"))
        }
    }
}
