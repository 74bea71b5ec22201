import Agent
import Fabric
import Foundation
import Probes
import Profiles
import Reports
import Systems
/// `rdma.write-bandwidth` and `rdma.read-bandwidth`: a message-size sweep from 2 B to
/// 8 MiB as `ib_write_bw -a` runs it (each size bounded in messages and time, TX depth
/// 128 unless the rate so far says fewer messages fill the time), then a longer run at
/// each of the profile's sizes; judged at the largest, in Gbit/s, with peak and message
/// rate on record.
struct RDMABandwidthCheck: CertificationTest {
    let operation: RDMATransferParameters.Operation
    let minimumGbps: Double
    let messageSizes: [Int]
    var id: String { "rdma.\(operation.rawValue)-bandwidth" }
    var title: String { "RDMA \(operation.rawValue.uppercased()) bandwidth reaches the profile's figure" }
    var requirement: String { key }
    var key: String { operation == .write ? "rdma.minWriteBandwidthGbps" : "rdma.minReadBandwidthGbps" }
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(240) }

    /// 2 B … 8 MiB, doubling (perftest's -a).
    static let sweep = (1...23).map { 1 << $0 }
    static let sweepIterations = 5000
    static let sweepTime = Duration.milliseconds(100)
    static let judgedIterations = 5000
    static let judgedTime = Duration.seconds(1)

    func covers(_ profile: Profile) -> [String] { [key] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            let largest = max(Self.sweep.last!, messageSizes.last ?? 0)
            let remote = try session.client.registerRDMA(tenant: 0, bytes: largest,
                                                         access: operation == .write ? [.localWrite, .remoteWrite] : [.remoteRead])
            let connection = try session.connect(ResponderRequest(mode: .passive), depth: RDMASession.txDepth)
            let local = try MemoryRegion(connection.domain, bytes: largest, access: [.localWrite])
            var evidence = ["\(session.describe(connection)); responder region \(byteSize(largest)) rkey \(remote.buffer.rkey)"]
            // Each size keeps in flight at most what the rate measured so far carries within
            // the size's time bound, and the sweep ends where one message alone would outlast
            // it: a slow link then shows as a low figure, not as a check that never ends.
            var sweep: [RDMABandwidthResult] = []
            var bytesPerSecond: Double?
            for size in Self.sweep where !context.isCancelled {
                if let rate = bytesPerSecond, Double(size) / rate > 10 * Self.sweepTime.seconds {
                    evidence.append("the sweep ends before \(byteSize(size)): one message would take "
                                    + "\(number(rounded(Double(size) / rate))) s at the rate measured so far")
                    break
                }
                let result = try measure(connection, local, remote.buffer, size: size, iterations: Self.sweepIterations,
                                         time: Self.sweepTime, rate: bytesPerSecond)
                sweep.append(result)
                bytesPerSecond = result.seconds > 0 ? Double(result.bytes) / result.seconds : nil
            }
            var judged: [RDMABandwidthResult] = []
            for size in messageSizes where !context.isCancelled {
                context.progress("\(id): \(byteSize(size)) for up to \(Self.judgedTime)")
                judged.append(try measure(connection, local, remote.buffer, size: size, iterations: Self.judgedIterations,
                                          time: Self.judgedTime, rate: bytesPerSecond))
            }
            guard let decisive = judged.last else { throw PositiveControlFailure("cancelled before the profile's sizes were measured") }
            // A size where nothing completed is no figure: 0 Gbit/s would read as a slow device.
            if let empty = judged.first(where: { $0.messages == 0 }) {
                throw PositiveControlFailure("no message of \(byteSize(empty.parameters.messageBytes)) completed within \(empty.parameters.timeLimit)")
            }
            let peak = (sweep + judged).max { $0.gigabitsPerSecond < $1.gigabitsPerSecond }!
            var measurements = judged.map { result in
                MeasuredValue(name: "\(operation.rawValue)_bandwidth_\(result.parameters.messageBytes)_bytes",
                              value: rounded(result.gigabitsPerSecond), unit: "Gbit/s",
                              threshold: result.parameters.messageBytes == decisive.parameters.messageBytes
                                  ? Threshold(.greaterThanOrEqual, minimumGbps) : nil)
            }
            measurements += judged.map {
                MeasuredValue(name: "\(operation.rawValue)_message_rate_\($0.parameters.messageBytes)_bytes", value: rounded($0.messagesPerSecond), unit: "messages/s")
            }
            measurements.append(MeasuredValue(name: "\(operation.rawValue)_bandwidth_peak", value: rounded(peak.gigabitsPerSecond), unit: "Gbit/s"))
            evidence += (sweep + judged).map { "\($0.parameters): \($0.messages) messages in \(number(rounded($0.seconds))) s, "
                + "\(number(rounded($0.gigabitsPerSecond))) Gbit/s, \(number(rounded($0.messagesPerSecond))) messages/s" }
            let series = DataSeries(name: "RDMA \(operation.rawValue.uppercased()) bandwidth by message size (TX depth \(RDMASession.txDepth))",
                                    chart: .line, x: ChartAxis(label: "message size", unit: "B", scale: .log),
                                    y: ChartAxis(label: "bandwidth", unit: "Gbit/s"),
                                    points: sweep.map { DataPoint(x: Double($0.parameters.messageBytes), y: rounded($0.gigabitsPerSecond)) })
            return .judged([], measurements: measurements, evidence: evidence, series: [series],
                           examined: Examined(sweep.count + judged.count, "message sizes measured", as: "message_sizes_examined"),
                           passMessage: "\(number(rounded(decisive.gigabitsPerSecond))) Gbit/s at \(byteSize(decisive.parameters.messageBytes)), "
                               + "peak \(number(rounded(peak.gigabitsPerSecond))) Gbit/s at \(byteSize(peak.parameters.messageBytes))")
        }
    }

    /// One run at `size`: TX depth 128, lowered to what `rate` (bytes/s, when known) carries within `time`.
    private func measure(_ connection: RDMAConnection, _ local: MemoryRegion, _ remote: RemoteBuffer, size: Int,
                         iterations: Int, time: Duration, rate: Double?) throws -> RDMABandwidthResult {
        let depth = rate.map { min(RDMASession.txDepth, max(1, Int($0 * time.seconds / Double(size)))) } ?? RDMASession.txDepth
        return try RDMAMeasurement.bandwidth(connection, local: local, remote: remote,
                                             RDMATransferParameters(operation: operation, messageBytes: size, iterations: iterations,
                                                                    txDepth: depth, timeLimit: time))
    }
}

/// `rdma.send-latency` and `rdma.write-latency`: ping-pong through the responder's echo
/// (SEND answered by SEND, or RDMA WRITE with immediate answered in kind), half the
/// round trip as perftest reports it, at each of the profile's sizes; the 99th
/// percentile judged at the smallest.
struct RDMALatencyCheck: CertificationTest {
    let operation: RDMATransferParameters.Operation
    let maximumP99: Double
    let messageSizes: [Int]
    var id: String { "rdma.\(operation.rawValue)-latency" }
    var title: String { "RDMA \(operation.rawValue.uppercased()) latency stays within the profile's 99th percentile" }
    var requirement: String { key }
    var key: String { operation == .send ? "rdma.maxSendLatencyP99us" : "rdma.maxWriteLatencyP99us" }
    var runsConcurrently: Bool { false }
    var timeout: Duration { .seconds(120) }

    static let iterations = 1000
    static let time = Duration.seconds(3)
    static let percentiles: [(Double, String)] = [(50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p99_9"), (100, "max")]

    func covers(_ profile: Profile) -> [String] { [key] }
    func skipReason(_ context: TestContext) -> String? { RDMASuite.skipReason(context, needsPeer: true) }

    func run(_ context: TestContext) throws -> TestOutcome {
        try RDMASuite.withResponder(context) { session in
            var results: [RDMALatencyResult] = []
            var evidence: [String] = []
            for size in messageSizes where !context.isCancelled {
                context.progress("\(id): \(byteSize(size))")
                let mode: ResponderRequest.Mode = operation == .send ? .echoSend : .echoWrite
                // The host's buffer: the outgoing message, then where the answer lands
                // (a write-echo is told that place in the request).
                var registered: MemoryRegion?
                let connection = try session.connect(depth: 4) { connection throws(FabricError) in
                    let region = try MemoryRegion(connection.domain, bytes: 2 * size, access: [.localWrite, .remoteWrite])
                    registered = region
                    let reply = mode == .echoWrite ? RemoteBuffer(address: region.address + UInt64(size), length: size, rkey: region.rkey) : nil
                    return ResponderRequest(mode: mode, messageBytes: size, depth: 4, reply: reply)
                }
                guard let buffer = registered else { throw PositiveControlFailure("the host's buffer was not registered") }
                let result = try RDMAMeasurement.latency(connection, local: buffer, echo: ResponderReply(connection.peerData).echoBuffer,
                                                         RDMATransferParameters(operation: operation, messageBytes: size,
                                                                                iterations: Self.iterations, txDepth: 1, timeLimit: Self.time))
                evidence.append("\(session.describe(connection)); \(result.parameters): \(result.samples) round trips, "
                                + Self.percentiles.map { "\($0.1) \(number(rounded(result.percentiles[$0.0] ?? .nan))) µs" }.joined(separator: ", "))
                results.append(result)
            }
            guard let decisive = results.first else { throw PositiveControlFailure("cancelled before any size was measured") }
            // An empty histogram reads as 0 µs: a size without round trips is no figure.
            if let empty = results.first(where: { $0.samples == 0 }) {
                throw PositiveControlFailure("no round trip of \(byteSize(empty.parameters.messageBytes)) within \(empty.parameters.timeLimit)")
            }
            var measurements: [MeasuredValue] = []
            var series: [DataSeries] = []
            for result in results {
                let size = result.parameters.messageBytes
                for (percentile, name) in Self.percentiles {
                    measurements.append(MeasuredValue(name: "\(operation.rawValue)_latency_\(name)_\(size)_bytes",
                                                      value: rounded(result.percentiles[percentile] ?? .nan), unit: "µs",
                                                      threshold: percentile == 99 && size == decisive.parameters.messageBytes
                                                          ? Threshold(.lessThanOrEqual, maximumP99) : nil))
                }
                series.append(DataSeries(name: "RDMA \(operation.rawValue.uppercased()) latency percentiles, \(byteSize(size))",
                                         chart: .bar, x: ChartAxis(label: "percentile", unit: "%"),
                                         y: ChartAxis(label: "half round trip", unit: "µs"),
                                         points: Self.percentiles.map { DataPoint(x: $0.0, y: rounded(result.percentiles[$0.0] ?? .nan)) }))
            }
            return .judged([], measurements: measurements, evidence: evidence, series: series,
                           examined: Examined(results.map(\.samples).reduce(0, +), "round trips", as: "round_trips_examined"),
                           passMessage: "p99 \(number(rounded(decisive.percentiles[99] ?? .nan))) µs at \(byteSize(decisive.parameters.messageBytes))")
        }
    }
}
