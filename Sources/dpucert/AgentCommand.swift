import Agent
import ArgumentParser
import Probes
import Systems

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the DPU/peer-side agent: authenticated control channel and emulated management services.",
        discussion: """
            Serves until SIGTERM or SIGINT. The control channel is a line protocol; the first \
            line must be AUTH followed by the token from --token-file.
            """
    )

    @Option(name: .customLong("listen"), help: "Control channel address, ADDR:PORT or [IPV6]:PORT (repeatable).")
    var listen: [String]

    @Option(name: .customLong("token-file"), help: "File holding the control token (at least 16 characters).")
    var tokenFile: String = AgentConfiguration.defaultTokenFile

    @Option(name: .customLong("serve"),
            help: "Management service to emulate, KIND@ADDR:PORT with KIND one of ssh, http, rmcp, tcp, udp (repeatable).")
    var serve: [String] = []

    @Option(name: .customLong("probe-source"),
            help: ArgumentHelp("Address the agent's probes leave from: on a multi-homed machine, the network it stands for "
                               + "(repeatable, at most one per address family).", valueName: "ADDR"))
    var probeSource: [String] = []

    @Option(name: .customLong("rdma-fault"),
            help: ArgumentHelp("A fault the RDMA responder injects (ignore-access-flags, corruption, shared-pd); the VM testbed's.",
                               visibility: .hidden))
    var rdmaFault: [String] = []

    func validate() throws {
        for name in rdmaFault where RDMAResponderFault(rawValue: name) == nil {
            throw ValidationError("--rdma-fault: expected one of \(RDMAResponderFault.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(name)\"")
        }
        if listen.isEmpty { throw ValidationError("give at least one --listen ADDR:PORT") }
        for text in listen where SocketEndpoint(text) == nil {
            throw ValidationError("--listen: expected ADDR:PORT or [IPV6]:PORT, found \"\(text)\"")
        }
        for text in serve where ManagementService(text) == nil {
            throw ValidationError("--serve: expected KIND@ADDR:PORT (KIND: ssh, http, rmcp, tcp, udp), found \"\(text)\"")
        }
        for text in probeSource where IPAddress(text) == nil {
            throw ValidationError("--probe-source: expected an IPv4 or IPv6 address, found \"\(text)\"")
        }
        if let conflict = Prober.sourceConflict(in: probeSource.compactMap(IPAddress.init)) {
            throw ValidationError("--probe-source: \(conflict)")
        }
    }

    func run() throws {
        let configuration = AgentConfiguration(controlEndpoints: listen.compactMap(SocketEndpoint.init),
                                               tokenFile: tokenFile, services: serve.compactMap(ManagementService.init),
                                               probeSources: probeSource.compactMap(IPAddress.init),
                                               rdmaFaults: Set(rdmaFault.compactMap(RDMAResponderFault.init)))
        do {
            try AgentServer.run(configuration: configuration)
        } catch let error as AgentError {
            throw CLIError(.input, command: "agent", "\(error)")
        }
    }
}
