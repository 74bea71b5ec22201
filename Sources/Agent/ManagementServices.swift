import Foundation
import Probes
import Systems

/// The emulated management-plane services: enough protocol for a probe to recognise
/// each one, nothing more.
enum ManagementServices {
    static let sshIdentification = "SSH-2.0-dpucert_emulated_dpu"

    /// Sends the identification line, waits briefly for the client's, closes.
    @Sendable static func ssh(_ socket: Socket) {
        let channel = LineChannel(socket)
        try? channel.writeLine(sshIdentification + "\r")
        _ = try? channel.readLine(timeout: .seconds(5))
    }

    /// One HTTP/1.1 request: the Redfish service root or 404, then close.
    @Sendable static func http(_ socket: Socket) {
        let channel = LineChannel(socket)
        guard let requestLine = try? channel.readLine(timeout: .seconds(5)) else { return }
        // Skip the header lines (bounded by the line reader's limits).
        for _ in 0..<100 {
            guard let header = try? channel.readLine(timeout: .seconds(5)) else { return }
            if header.isEmpty { break }
        }
        let parts = requestLine.split(separator: " ")
        let path = parts.count >= 2 ? parts[1].split(separator: "?").first.map(String.init) ?? "" : ""
        let response: (status: String, body: String)
        if parts.first == "GET" && (path == "/redfish/v1" || path == "/redfish/v1/") {
            response = ("200 OK", redfishServiceRoot)
        } else {
            response = ("404 Not Found", #"{"error":{"code":"Base.1.0.ResourceMissingAtURI","message":"not found"}}"#)
        }
        let head = "HTTP/1.1 \(response.status)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n"
        try? channel.writeLine(head + response.body)
    }

    static let redfishServiceRoot = """
        {"@odata.id":"/redfish/v1","@odata.type":"#ServiceRoot.v1_15_0.ServiceRoot","Id":"RootService",\
        "Name":"dpucert emulated DPU BMC","RedfishVersion":"1.15.0","Systems":{"@odata.id":"/redfish/v1/Systems"}}
        """

    /// Answers an RMCP presence ping with a pong; ignores anything else.
    @Sendable static func rmcp(_ datagram: [UInt8]) -> [UInt8]? {
        RMCP.pingTag(datagram).map(RMCP.presencePong)
    }
}
