// The network bench: on a standing lab's host-to-peer path (through the DPU's bridge),
// our throughput engine against `iperf3` (same streams, same duration, first second
// omitted) and our request/response engine against `sockperf ping-pong` (TCP, same
// message size, round trips), run alternately; prints each run, the medians and the
// ratios.

import Foundation
import Lab
import Probes
import Systems
import Testbed

func networkBench(lab name: String, runs: Int) throws {
    let lab = try Lab.attach(name: name)
    let testbed = LabTestbed(lab)
    let topology = testbed.topology
    let host = topology.host.site
    guard let control = topology.peerControl(on: topology.dataPlane.peerAddresses) else {
        throw BenchError("lab \(name) has no peer agent on the host network")
    }
    let peer = control.address.description
    let peerPrefix = try topology.peer.site.commandPrefix
    let hostPrefix = try host.commandPrefix
    let streams = 4, warmUp = 1, seconds = 3, messageSize = 64

    let logs = FileManager.default.temporaryDirectory.path
    let servers = [
        try CommandRunner.spawnDetached(peerPrefix + ["iperf3", "--server", "--bind", peer, "--port", "5299"],
                                        logPath: logs + "/dpucert-bench-iperf3.log"),
        try CommandRunner.spawnDetached(peerPrefix + ["sockperf", "server", "--tcp", "-i", peer, "-p", "11111"],
                                        logPath: logs + "/dpucert-bench-sockperf.log"),
    ]
    defer {
        for pid in servers {
            kill(pid, SIGTERM)
            _ = CommandRunner.waitForExit(pid, timeout: .seconds(2))
        }
    }
    Thread.sleep(forTimeInterval: 0.5)

    print("path: \(host) → \(peer) through the DPU bridge of lab \(name); \(streams) streams, \(seconds) s after \(warmUp) s; "
          + "\(messageSize)-byte round trips")
    print("run   ours Gbit/s   iperf3 Gbit/s   ours RR p50 us   sockperf RR p50 us")
    var ours: [Double] = [], iperf: [Double] = [], oursRR: [Double] = [], sockperfRR: [Double] = []
    for run in 1...runs {
        let throughput = try testbed.withTrafficPeer(.sinkTCP, at: control, reachedFrom: host) { sink in
            try Prober.measureTCPThroughput(to: sink, from: host, options: ThroughputOptions(
                streams: streams, warmUp: .seconds(warmUp), duration: .seconds(seconds)))
        }
        ours.append(throughput.gbitPerSecond)
        iperf.append(try iperf3(hostPrefix, peer, streams: streams, warmUp: warmUp, seconds: seconds))
        let latency = try testbed.withTrafficPeer(.echoTCP, at: control, reachedFrom: host) { echo in
            try Prober.measureTCPLatency(to: echo, from: host, options: LatencyOptions(messageSize: messageSize, duration: .seconds(2)))
        }
        oursRR.append(latency.microseconds(at: 50))
        sockperfRR.append(try sockperfMedian(hostPrefix, peer, messageSize: messageSize))
        print(String(format: "%3d   %11.2f   %13.2f   %14.1f   %18.1f", run, ours.last!, iperf.last!, oursRR.last!, sockperfRR.last!))
    }
    let medians = [ours, iperf, oursRR, sockperfRR].map(median)
    print(String(format: "median %10.2f   %13.2f   %14.1f   %18.1f", medians[0], medians[1], medians[2], medians[3]))
    print(String(format: "throughput ratio ours/iperf3: %.3f (target >= 0.95)", medians[0] / medians[1]))
    print(String(format: "RR p50 ratio ours/sockperf: %.3f (target within 0.90-1.10)", medians[2] / medians[3]))
}

/// iperf3's received rate in Gbit/s over the measured seconds (`--omit` drops the warm-up).
private func iperf3(_ prefix: [String], _ peer: String, streams: Int, warmUp: Int, seconds: Int) throws -> Double {
    let result = try CommandRunner.run(prefix + ["iperf3", "--client", peer, "--port", "5299", "--parallel", "\(streams)",
                                                 "--time", "\(seconds)", "--omit", "\(warmUp)", "--json"],
                                       timeout: .seconds(Int64(seconds + warmUp + 20)))
    guard let json = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
          let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
          let bits = received["bits_per_second"] as? Double else {
        throw BenchError("iperf3 printed no end.sum_received.bits_per_second: \(result.standardOutput.prefix(300))")
    }
    return bits / 1e9
}

/// sockperf's p50 round trip in microseconds (`--full-rtt`: round trips, as ours are).
private func sockperfMedian(_ prefix: [String], _ peer: String, messageSize: Int) throws -> Double {
    let result = try CommandRunner.run(prefix + ["sockperf", "ping-pong", "--tcp", "-i", peer, "-p", "11111", "-m", "\(messageSize)",
                                                 "-t", "2", "--full-rtt"], timeout: .seconds(30))
    let output = result.standardOutput + result.standardError
    // "sockperf: ---> percentile 50.000 =       31.234"
    guard let line = output.split(separator: "\n").first(where: { $0.contains("percentile 50.000") }),
          let value = line.split(separator: "=").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) else {
        throw BenchError("sockperf printed no 50th percentile: \(output.suffix(300))")
    }
    return value
}

