// The RDMA bench: our bandwidth and latency engines against perftest (ib_write_bw,
// ib_send_lat over rdma_cm) with the same parameters on the same Soft-RoCE pair, inside
// a standing VM guest, alternating which goes first. The host side stages this very
// executable in the guest's share and follows its output; inside, the guest's agent is
// our responder and perftest's own server is its.
import Agent
import Fabric
import Foundation
import Probes
import Systems
import VirtualMachine

func rdmaBench(guest name: String, stateDirectory: String, runs: Int) throws {
    let guest = try Guest.attach(name: name, stateDirectory: stateDirectory)
    let folder = try guest.makeRunFolder(id: "rdma-bench-\(getpid())")
    defer { guest.removeRunFolder(folder) }
    let status = try guest.run(folder.payload.guestCommand + ["rdma-guest", String(runs)], in: folder.guestPath, job: "rdma-bench",
                               timeout: .seconds(1800), isCancelled: { false }, output: { print($0) })
    guard status == 0 else { throw BenchError("the bench in the guest exited with status \(status)") }
}

func rdmaGuestBench(runs: Int) throws {
    let bandwidth = RDMATransferParameters(operation: .write, messageBytes: 65536, iterations: 5000, txDepth: 128, timeLimit: .seconds(60))
    let latency = RDMATransferParameters(operation: .send, messageBytes: 2, iterations: 1000, txDepth: 1, timeLimit: .seconds(60))
    let client = try AgentClient.connect(to: GuestRDMAWire.peerControl, tokenFile: GuestRDMAWire.peerTokenFile)
    defer { client.close() }
    let responder = try client.startRDMAResponder(on: GuestRDMAWire.peerAddress)
    let region = try client.registerRDMA(tenant: 0, bytes: bandwidth.messageBytes, access: [.localWrite, .remoteWrite])
    let target = SocketEndpoint(GuestRDMAWire.peerAddress, responder.port)
    print("Soft-RoCE \(GuestRDMAWire.hostDevice) → \(GuestRDMAWire.peerDevice) across the guest's veth wire; \(runs) alternations")
    print("write bandwidth: \(bandwidth)   (ib_write_bw -R -s 65536 -n 5000 -t 128)")
    print("send latency:    \(latency)   (ib_send_lat -R -s 2 -n 1000)")
    print("run   ours Gbit/s  ib_write_bw Gbit/s   ours p50 us  ib_send_lat t_typical us")
    var oursBandwidth: [Double] = [], perftestBandwidth: [Double] = []
    var oursLatency: [Double] = [], perftestLatency: [Double] = []
    for run in 1...runs {
        for tool in run % 2 == 1 ? ["ours", "perftest"] : ["perftest", "ours"] {
            if tool == "ours" {
                let connection = try RDMAConnection.connect(to: target, from: GuestRDMAWire.hostAddress, depth: bandwidth.txDepth,
                                                            privateData: ResponderRequest(mode: .passive).encoded)
                let local = try MemoryRegion(connection.domain, bytes: bandwidth.messageBytes, access: [.localWrite])
                oursBandwidth.append(try RDMAMeasurement.bandwidth(connection, local: local, remote: region.buffer, bandwidth).gigabitsPerSecond)
                let echo = try RDMAConnection.connect(to: target, from: GuestRDMAWire.hostAddress, depth: 4,
                                                      privateData: ResponderRequest(mode: .echoSend, messageBytes: latency.messageBytes, depth: 4).encoded)
                let buffer = try MemoryRegion(echo.domain, bytes: 2 * latency.messageBytes, access: [.localWrite])
                oursLatency.append(try RDMAMeasurement.latency(echo, local: buffer, echo: nil, latency).percentiles[50] ?? .nan)
            } else {
                perftestBandwidth.append(try perftest("ib_write_bw", ["-s", "65536", "-n", "5000", "-t", "128", "--report_gbits"], column: 3))
                perftestLatency.append(try perftest("ib_send_lat", ["-s", "2", "-n", "1000"], column: 4))
            }
        }
        print(String(format: "%3d   %11.3f  %18.3f   %11.1f  %24.1f", run, oursBandwidth.last!, perftestBandwidth.last!,
                     oursLatency.last!, perftestLatency.last!))
    }
    let bandwidthRatio = median(oursBandwidth) / median(perftestBandwidth)
    let latencyRatio = median(oursLatency) / median(perftestLatency)
    print(String(format: "median: ours %.3f Gbit/s, ib_write_bw %.3f Gbit/s: ratio %.2f (target ≥ 0.95)",
                 median(oursBandwidth), median(perftestBandwidth), bandwidthRatio))
    print(String(format: "median: ours p50 %.1f µs, ib_send_lat t_typical %.1f µs: ratio %.2f (target within 0.90-1.10)",
                 median(oursLatency), median(perftestLatency), latencyRatio))
}

/// Runs a perftest pair over rdma_cm, its server on the peer's device and its client on
/// the host's, and returns `column` of the client's figures line (the line after the
/// `#bytes` header).
private func perftest(_ tool: String, _ parameters: [String], column: Int) throws -> Double {
    let port = String(Int.random(in: 20000...29999))
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(tool)-server-\(port).log").path
    let server = try CommandRunner.spawnDetached([tool, "-d", GuestRDMAWire.peerDevice, "-R", "-F", "-p", port] + parameters, logPath: log)
    defer {
        kill(server, SIGTERM)
        _ = CommandRunner.waitForExit(server, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: log)
    }
    Thread.sleep(forTimeInterval: 1)
    let result = try CommandRunner.run([tool, "-d", GuestRDMAWire.hostDevice, "-R", "-F", "-p", port] + parameters
                                           + [GuestRDMAWire.peerAddress.description], timeout: .seconds(120))
    let lines = result.standardOutput.split(separator: "\n")
    guard let header = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#bytes") }),
          header + 1 < lines.count else {
        throw BenchError("\(tool): no figures in its output:\n\(result.standardOutput)")
    }
    let fields = lines[header + 1].split(whereSeparator: \.isWhitespace)
    guard column < fields.count, let value = Double(fields[column]) else {
        throw BenchError("\(tool): unreadable figures line \"\(lines[header + 1])\"")
    }
    return value
}
