import Foundation
import Systems
import TestGates
import Testing

@Suite("Kernel parameters")
struct KernelParameterTests {
    @Test func pathFollowsTheName() {
        #expect(KernelParameter("net.ipv4.ip_forward", "1").path == "/proc/sys/net/ipv4/ip_forward")
        #expect(KernelParameter("net.bridge.bridge-nf-call-iptables", "0").path
                == "/proc/sys/net/bridge/bridge-nf-call-iptables")
        #expect(KernelParameter("net.ipv4.ip_forward", "1").description == "net.ipv4.ip_forward=1")
    }

    @Test("Writes land in the namespace's own parameters, not this one's", .requires(.networkNamespaces))
    func writesStayInTheNamespace() throws {
        let name = "dpucert-sysctl-\(getpid())"
        try CommandRunner.run(["ip", "netns", "add", name])
        defer { _ = try? CommandRunner.run(["ip", "netns", "delete", name]) }
        let parameter = "net.ipv4.conf.all.arp_ignore"
        let outside = try String(contentsOfFile: KernelParameter(parameter, "").path, encoding: .utf8)
        let wanted = outside.hasPrefix("2") ? "1" : "2"
        try KernelParameters.write([KernelParameter(parameter, wanted)], at: .namespace(name))
        let inside = try CommandRunner.run(["ip", "netns", "exec", name, "cat", KernelParameter(parameter, "").path])
        #expect(inside.standardOutput == wanted + "\n")
        #expect(try String(contentsOfFile: KernelParameter(parameter, "").path, encoding: .utf8) == outside)
    }

    @Test("An absent parameter is skipped only when asked; the error names its file")
    func absentParameters() throws {
        let absent = KernelParameter("net.dpucert.no-such-parameter", "1")
        try KernelParameters.write([absent], at: .current, skippingAbsent: true)
        let error = #expect(throws: SystemCallError.self) { try KernelParameters.write([absent], at: .current) }
        #expect(error?.code == ENOENT)
        #expect(error?.description.contains("/proc/sys/net/dpucert/no-such-parameter") == true)
    }
}
