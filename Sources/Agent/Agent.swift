// Agent: the process that runs on the DPU's Arm OS, on hosts of the OOB network and
// on the peer (`dpucert agent`). It serves the authenticated control channel the
// runner talks to (ping, firewall counters, listening sockets, echo peers for positive
// controls, and probes run from the agent's machine for a testbed: probe lists, TCP
// scans, UDP sweeps, link neighbours) and, in the emulated lab, the DPU's
// management-plane services (SSH banner, Redfish over HTTP, IPMI RMCP presence).
// POSIX sockets and threads, no event loop.
import Foundation
import Probes
import Systems

/// What an agent serves.
public struct AgentConfiguration: Sendable, Hashable {
    /// Where the control channel listens.
    public var controlEndpoints: [SocketEndpoint]
    /// The file holding the shared token (at least 16 characters, surrounding whitespace ignored).
    public var tokenFile: String
    /// Management-plane services to emulate.
    public var services: [ManagementService]
    /// The addresses the agent's probes leave from, at most one per family: on a
    /// multi-homed machine, the network the agent stands for. Empty: the route decides.
    public var probeSources: [IPAddress]
    /// Faults the RDMA responder injects (a broken DPU's), for the VM testbed.
    public var rdmaFaults: Set<RDMAResponderFault>

    public static var defaultTokenFile: String { DPUCertDirectories.configuration + "/agent.token" }

    public init(controlEndpoints: [SocketEndpoint], tokenFile: String = AgentConfiguration.defaultTokenFile,
                services: [ManagementService] = [], probeSources: [IPAddress] = [], rdmaFaults: Set<RDMAResponderFault> = []) {
        self.controlEndpoints = controlEndpoints
        self.tokenFile = tokenFile
        self.services = services
        self.probeSources = probeSources
        self.rdmaFaults = rdmaFaults
    }
}

/// What a management-plane service speaks.
public enum ManagementServiceKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// TCP: sends an `SSH-2.0-` identification line, reads the client's, closes.
    case ssh
    /// TCP: HTTP/1.1, `GET /redfish/v1` answers the Redfish service root as JSON.
    case http
    /// UDP: answers RMCP/ASF presence pings (IPMI over LAN, port 623).
    case rmcp
    /// TCP: accepts and closes (any other management port).
    case tcp
    /// UDP: echoes datagrams (any other management port).
    case udp

    public var transport: TransportProtocol {
        switch self {
        case .ssh, .http, .tcp: .tcp
        case .rmcp, .udp: .udp
        }
    }

    /// The service a management port usually carries.
    public static func wellKnown(transport: TransportProtocol, port: UInt16) -> ManagementServiceKind {
        switch (transport, port) {
        case (.tcp, 22): .ssh
        case (.tcp, 80), (.tcp, 443), (.tcp, 8080), (.tcp, 8443): .http
        case (.udp, 623), (.udp, 664): .rmcp
        case (.tcp, _): .tcp
        case (.udp, _): .udp
        }
    }
}

/// A service bound to one endpoint, written `KIND@ADDRESS:PORT` on the command line
/// (`ssh@198.19.0.2:22`, `rmcp@[2001:db8:ff::2]:623`, `http@[fe80::1%oob_net0]:443`).
public struct ManagementService: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public var kind: ManagementServiceKind
    public var endpoint: SocketEndpoint

    public init(kind: ManagementServiceKind, endpoint: SocketEndpoint) {
        self.kind = kind
        self.endpoint = endpoint
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "@", maxSplits: 1)
        guard parts.count == 2, let kind = ManagementServiceKind(rawValue: String(parts[0])),
              let endpoint = SocketEndpoint(String(parts[1])) else { return nil }
        self.init(kind: kind, endpoint: endpoint)
    }

    public var description: String { "\(kind.rawValue)@\(endpoint)" }
}

/// Why the agent could not start or a control exchange failed.
public struct AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var context: String
    public var message: String

    public init(_ context: String, _ message: String) {
        self.context = context
        self.message = message
    }

    public var description: String { "\(context): \(message)" }
}

/// The shared secret of the control channel.
struct AgentToken: Sendable {
    static let minimumLength = 16
    let bytes: [UInt8]

    static func load(from path: String) throws(AgentError) -> AgentToken {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError("token file \(path)", "cannot be read (missing or not permitted)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count >= minimumLength else {
            throw AgentError("token file \(path)", "expected a token of at least \(minimumLength) characters, found \(text.utf8.count)")
        }
        guard !text.contains(where: \.isWhitespace) else {
            throw AgentError("token file \(path)", "expected one token without whitespace inside")
        }
        return AgentToken(bytes: Array(text.utf8))
    }

    /// Compares in time that depends only on the lengths, never on where bytes differ.
    func matches(_ candidate: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: bytes.count ^ candidate.count)
        for index in 0..<max(bytes.count, candidate.count) {
            let expected = index < bytes.count ? bytes[index] : 0
            let given = index < candidate.count ? candidate[index] : 0
            difference |= expected ^ given
        }
        return difference == 0 && bytes.count == candidate.count
    }
}

extension AgentConfiguration {
    /// The agent's own arguments as `dpucert agent` takes them: `--token-file FILE`,
    /// `--listen ENDPOINT`..., `--serve KIND@ENDPOINT`..., `--probe-source ADDRESS`....
    public var commandLineArguments: [String] {
        ["--token-file", tokenFile] + controlEndpoints.flatMap { ["--listen", $0.description] }
            + services.flatMap { ["--serve", $0.description] }
            + probeSources.flatMap { ["--probe-source", $0.description] }
    }

    /// Parses `commandLineArguments` back.
    public init(commandLine arguments: [String]) throws(AgentError) {
        var control: [SocketEndpoint] = []
        var services: [ManagementService] = []
        var probeSources: [IPAddress] = []
        var tokenFile = AgentConfiguration.defaultTokenFile
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            guard index + 1 < arguments.count else { throw AgentError("argument \(flag)", "expected a value after it") }
            let value = arguments[index + 1]
            switch flag {
            case "--listen":
                guard let endpoint = SocketEndpoint(value) else { throw AgentError("--listen", "expected ADDR:PORT or [IPV6]:PORT, found \"\(value)\"") }
                control.append(endpoint)
            case "--serve":
                guard let service = ManagementService(value) else { throw AgentError("--serve", "expected KIND@ADDR:PORT, found \"\(value)\"") }
                services.append(service)
            case "--probe-source":
                guard let address = IPAddress(value) else { throw AgentError("--probe-source", "expected an IP address, found \"\(value)\"") }
                probeSources.append(address)
            case "--token-file":
                tokenFile = value
            default:
                throw AgentError("argument \(flag)", "expected --listen, --serve, --probe-source or --token-file")
            }
            index += 2
        }
        guard !control.isEmpty else { throw AgentError("arguments", "expected at least one --listen ADDR:PORT") }
        if let conflict = Prober.sourceConflict(in: probeSources) { throw AgentError("--probe-source", conflict) }
        self.init(controlEndpoints: control, tokenFile: tokenFile, services: services, probeSources: probeSources)
    }
}
