import CNetShims
import Glibc
import Histogram
import Systems

/// Where a measurement's traffic went: from a site, leaving from a local address, to an
/// endpoint (an agent's sink or echo peer).
public struct TrafficPath: Sendable, Hashable, Codable, CustomStringConvertible {
    public var site: ProbeSite
    /// The local address the traffic left from, as the kernel bound it.
    public var source: IPAddress?
    public var target: SocketEndpoint

    public init(site: ProbeSite, source: IPAddress?, target: SocketEndpoint) {
        self.site = site
        self.source = source
        self.target = target
    }

    public var description: String { "from \(site) (\(source?.description ?? "?")) to \(target)" }
}

/// The far ends a measurement runs against, by the command that starts them.
public enum TrafficPeerKind: String, Sendable, Hashable, CaseIterable {
    /// Echoes a TCP stream back: request/response latency.
    case echoTCP = "ECHO-TCP"
    /// Echoes datagrams back: UDP rate, loss and jitter.
    case echoUDP = "ECHO-UDP"
    /// Discards a TCP stream and answers `received <bytes>` at its end: throughput.
    case sinkTCP = "SINK-TCP"

    public var transport: TransportProtocol { self == .echoUDP ? .udp : .tcp }
}

extension TrafficPeerKind: CustomStringConvertible {
    public var description: String {
        switch self {
        case .echoTCP: "echo tcp"
        case .echoUDP: "echo udp"
        case .sinkTCP: "sink tcp"
        }
    }
}

/// How a TCP throughput run is shaped: `streams` connections written to as fast as
/// they take data, `warmUp` not counted (slow start, buffer growth), then `duration`
/// measured in `interval` slices.
public struct ThroughputOptions: Sendable, Hashable, Codable {
    public var streams: Int
    public var warmUp: Duration
    public var duration: Duration
    public var interval: Duration
    /// Bytes handed to the kernel per write.
    public var writeSize: Int

    public init(streams: Int = 4, warmUp: Duration = .seconds(1), duration: Duration = .seconds(3),
                interval: Duration = .seconds(1), writeSize: Int = 128 * 1024) {
        self.streams = streams
        self.warmUp = warmUp
        self.duration = duration
        self.interval = interval
        self.writeSize = writeSize
    }
}

/// What a TCP throughput run measured, counted where the data left (the kernel took
/// it) over the measured window, and what the sink said it received over the whole run.
public struct ThroughputResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: TrafficPath
    public var options: ThroughputOptions
    /// Bytes sent in the measured window, and how long that window really was.
    public var bytes: Int
    public var measured: Duration
    /// Gbit/s of each interval of the measured window, in order.
    public var intervals: [Double]
    /// Bytes sent over the whole run, warm-up included, and what the sink counted.
    public var sentTotal: Int
    public var receivedTotal: Int?
    /// CPU time (user and system) the sending thread used in the measured window.
    public var cpuSeconds: Double

    public init(path: TrafficPath, options: ThroughputOptions, bytes: Int, measured: Duration, intervals: [Double],
                sentTotal: Int, receivedTotal: Int?, cpuSeconds: Double) {
        self.path = path
        self.options = options
        self.bytes = bytes
        self.measured = measured
        self.intervals = intervals
        self.sentTotal = sentTotal
        self.receivedTotal = receivedTotal
        self.cpuSeconds = cpuSeconds
    }

    public var gbitPerSecond: Double { measured > .zero ? Double(bytes) * 8 / measured.seconds / 1e9 : 0 }

    /// CPU cores the sender kept busy per Gbit/s it moved.
    public var coresPerGbit: Double {
        gbitPerSecond > 0 && measured > .zero ? cpuSeconds / measured.seconds / gbitPerSecond : .infinity
    }

    public var description: String {
        "tcp throughput \(path): \(options.streams) streams, \(options.duration.evidenceText) after "
            + "\(options.warmUp.evidenceText) warm-up → \(Self.format(gbitPerSecond)) Gbit/s "
            + "(intervals: \(intervals.map(Self.format).joined(separator: ", "))); sent \(sentTotal) bytes, sink received "
            + (receivedTotal.map(String.init) ?? "unknown") + "; \(Self.format(coresPerGbit)) CPU cores per Gbit/s"
    }

    /// A figure with at most three decimals, for evidence lines.
    public static func format(_ value: Double) -> String {
        value.isFinite ? String((value * 1000).rounded() / 1000) : "\(value)"
    }
}

/// How a request/response latency run is shaped: `messageSize` bytes each way, one
/// exchange at a time, `warmUpExchanges` not counted, then up to `exchanges` or `duration`.
public struct LatencyOptions: Sendable, Hashable, Codable {
    public var messageSize: Int
    public var warmUpExchanges: Int
    public var exchanges: Int
    public var duration: Duration
    /// How long one exchange may take before the run is given up.
    public var exchangeTimeout: Duration

    public init(messageSize: Int = 64, warmUpExchanges: Int = 200, exchanges: Int = 20_000, duration: Duration = .seconds(2),
                exchangeTimeout: Duration = .seconds(2)) {
        self.messageSize = messageSize
        self.warmUpExchanges = warmUpExchanges
        self.exchanges = exchanges
        self.duration = duration
        self.exchangeTimeout = exchangeTimeout
    }
}

/// One point of a latency distribution: the percentile and its value in microseconds.
public struct LatencyPercentile: Sendable, Hashable, Codable {
    public var percentile: Double
    public var microseconds: Double

    public init(percentile: Double, microseconds: Double) {
        self.percentile = percentile
        self.microseconds = microseconds
    }
}

/// What a request/response latency run measured: the distribution of round trips.
public struct LatencyResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: TrafficPath
    public var options: LatencyOptions
    public var exchanges: Int
    /// p50, p90, p99, p99.9 and max (100).
    public var summary: [LatencyPercentile]
    /// The whole distribution, percentile by percentile, for a percentile plot.
    public var distribution: [LatencyPercentile]
    public var meanMicroseconds: Double

    public init(path: TrafficPath, options: LatencyOptions, exchanges: Int, summary: [LatencyPercentile],
                distribution: [LatencyPercentile], meanMicroseconds: Double) {
        self.path = path
        self.options = options
        self.exchanges = exchanges
        self.summary = summary
        self.distribution = distribution
        self.meanMicroseconds = meanMicroseconds
    }

    public static let summaryPercentiles = [50.0, 90.0, 99.0, 99.9, 100.0]

    /// The value at `percentile` (one of `summaryPercentiles`), in microseconds.
    public func microseconds(at percentile: Double) -> Double {
        summary.first { $0.percentile == percentile }?.microseconds ?? .nan
    }

    public var description: String {
        "tcp request/response \(path): \(exchanges) exchanges of \(options.messageSize) bytes → "
            + summary.map { "\($0.percentile == 100 ? "max" : "p\(ThroughputResult.format($0.percentile))") "
                + "\(ThroughputResult.format($0.microseconds)) us" }.joined(separator: ", ")
    }
}

/// How a UDP rate run is shaped: datagrams of `payloadSize` bytes at `gbitPerSecond`
/// (counting payload) for `duration`, each echoed by the peer; late echoes are waited
/// for `linger`.
public struct UDPRateOptions: Sendable, Hashable, Codable {
    public var gbitPerSecond: Double
    public var payloadSize: Int
    public var duration: Duration
    public var linger: Duration

    public init(gbitPerSecond: Double, payloadSize: Int = 1400, duration: Duration = .seconds(2), linger: Duration = .milliseconds(300)) {
        self.gbitPerSecond = gbitPerSecond
        self.payloadSize = payloadSize
        self.duration = duration
        self.linger = linger
    }
}

/// What a UDP rate run measured: what was offered, what came back, and how the round
/// trip varied (RFC 3550 jitter over the round-trip times).
public struct UDPRateResult: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: TrafficPath
    public var options: UDPRateOptions
    public var sent: Int
    public var received: Int
    public var sendingTime: Duration
    public var jitterMicroseconds: Double

    public init(path: TrafficPath, options: UDPRateOptions, sent: Int, received: Int, sendingTime: Duration,
                jitterMicroseconds: Double) {
        self.path = path
        self.options = options
        self.sent = sent
        self.received = received
        self.sendingTime = sendingTime
        self.jitterMicroseconds = jitterMicroseconds
    }

    /// The share of datagrams that did not come back, 0...1.
    public var loss: Double { sent > 0 ? Double(sent - received) / Double(sent) : 1 }

    public var offeredGbitPerSecond: Double { rate(sent) }
    public var deliveredGbitPerSecond: Double { rate(received) }

    private func rate(_ datagrams: Int) -> Double {
        guard sendingTime > .zero else { return 0 }
        let bits = Double(datagrams * options.payloadSize) * 8
        return bits / sendingTime.seconds / 1e9
    }

    public var description: String {
        "udp at \(ThroughputResult.format(options.gbitPerSecond)) Gbit/s \(path): \(sent) datagrams of "
            + "\(options.payloadSize) bytes in \(sendingTime.evidenceText) (\(ThroughputResult.format(offeredGbitPerSecond)) Gbit/s "
            + "offered), \(received) echoed (\(ThroughputResult.format(deliveredGbitPerSecond)) Gbit/s), loss "
            + "\(ThroughputResult.format(loss * 100)) %, jitter \(ThroughputResult.format(jitterMicroseconds)) us"
    }
}

extension Prober {
    /// TCP throughput from `site` to a sink (`SINK-TCP` of an agent). `progress` is told
    /// each interval's Gbit/s as it ends.
    public static func measureTCPThroughput(to sink: SocketEndpoint, from site: ProbeSite, sources: [IPAddress] = [],
                                            options: ThroughputOptions = ThroughputOptions(),
                                            progress: (@Sendable (Double) -> Void)? = nil) throws -> ThroughputResult {
        let source = try SourceAddresses(sources, site: site).source(toward: sink.address)
        return try NetworkNamespace.run(in: site) {
            try ThroughputRun(sink: sink, site: site, source: source, options: options).run(progress: progress)
        }
    }

    /// Request/response round trips from `site` to an echo peer (`ECHO-TCP`).
    public static func measureTCPLatency(to echo: SocketEndpoint, from site: ProbeSite, sources: [IPAddress] = [],
                                         options: LatencyOptions = LatencyOptions()) throws -> LatencyResult {
        let source = try SourceAddresses(sources, site: site).source(toward: echo.address)
        return try NetworkNamespace.run(in: site) {
            try LatencyRun.run(echo: echo, site: site, source: source, options: options)
        }
    }

    /// Datagrams at a rate from `site` to a UDP echo peer (`ECHO-UDP`).
    public static func measureUDPRate(to echo: SocketEndpoint, from site: ProbeSite, sources: [IPAddress] = [],
                                      options: UDPRateOptions) throws -> UDPRateResult {
        let source = try SourceAddresses(sources, site: site).source(toward: echo.address)
        return try NetworkNamespace.run(in: site) {
            try UDPRateRun.run(echo: echo, site: site, source: source, options: options)
        }
    }
}

/// Opens a connected TCP socket from `source` to `target` within `timeout`.
private func connectStream(_ target: SocketEndpoint, source: IPAddress?, site: ProbeSite, label: String,
                           timeout: Duration = .seconds(3)) throws -> Socket {
    let socket = try Socket(family: target.address.family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            label: label)
    do {
        if let source { try socket.bindSource(source, stream: true) }
        if try !socket.connect(target) {
            guard try socket.waitWritable(timeout: timeout) else {
                throw ProbeError(site: site, "\(label): connecting to \(target) took more than \(timeout.evidenceText)")
            }
            let code = try socket.pendingError()
            guard code == 0 else { throw SystemCallError("connect", subject: "\(label) \(target)", code: code) }
        }
        return socket
    } catch {
        socket.close()
        throw error
    }
}

/// CPU time (user and system) of the calling thread, in seconds.
private func threadCPUSeconds() -> Double {
    var usage = rusage()
    // RUSAGE_THREAD (1): Glibc's header hides the name from Swift.
    guard getrusage(__rusage_who_t(1), &usage) == 0 else { return .nan }
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

private struct ThroughputRun {
    let sink: SocketEndpoint
    let site: ProbeSite
    let source: IPAddress?
    let options: ThroughputOptions

    func run(progress: (@Sendable (Double) -> Void)?) throws -> ThroughputResult {
        var sockets: [Socket] = []
        defer { sockets.forEach { $0.close() } }
        for index in 0..<max(1, options.streams) {
            sockets.append(try connectStream(sink, source: source, site: site, label: "throughput stream \(index)"))
        }
        let local = try sockets[0].localEndpoint()?.address
        let buffer = [UInt8](repeating: 0x5a, count: max(1, options.writeSize))
        var entries = sockets.map { pollfd(fd: $0.descriptor, events: Int16(POLLOUT), revents: 0) }

        let started = ContinuousClock.now
        let warmEnd = started + options.warmUp
        let end = warmEnd + options.duration
        var sent = 0
        var window: (start: ContinuousClock.Instant, bytes: Int, cpu: Double)?
        var slice: (start: ContinuousClock.Instant, bytes: Int) = (started, 0)
        var intervals: [Double] = []
        while true {
            let now = ContinuousClock.now
            if window == nil, now >= warmEnd {
                window = (now, sent, threadCPUSeconds())
                slice = (now, sent)
            }
            if window != nil, slice.start.duration(to: now) >= options.interval || now >= end {
                let elapsed = slice.start.duration(to: now).seconds
                if elapsed > 0 {
                    let rate = Double(sent - slice.bytes) * 8 / elapsed / 1e9
                    intervals.append(rate)
                    progress?(rate)
                }
                slice = (now, sent)
            }
            if now >= end { break }
            let ready = Glibc.poll(&entries, nfds_t(entries.count), Poll.milliseconds(until: min(end, now + .milliseconds(50))))
            if ready < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("poll", subject: "throughput streams", code: errno)
            }
            for (index, entry) in entries.enumerated() where entry.revents != 0 {
                if entry.revents & Int16(POLLERR | POLLHUP) != 0 {
                    let code = (try? sockets[index].pendingError()) ?? EPIPE
                    throw SystemCallError("send", subject: "throughput stream \(index) to \(sink)", code: code == 0 ? EPIPE : code)
                }
                // Fill what the socket takes now, then poll again.
                do {
                    for _ in 0..<16 { sent += try sockets[index].send(buffer) }
                } catch {
                    guard error.code == EAGAIN else { throw error }
                }
            }
        }
        let finished = ContinuousClock.now
        let cpu = threadCPUSeconds() - (window?.cpu ?? 0)
        let measuredBytes = sent - (window?.bytes ?? sent)
        let measured = (window?.start ?? finished).duration(to: finished)
        return ThroughputResult(path: TrafficPath(site: site, source: local, target: sink), options: options,
                                bytes: measuredBytes, measured: measured, intervals: intervals, sentTotal: sent,
                                receivedTotal: receivedTotal(sockets), cpuSeconds: cpu)
    }

    /// Ends each stream and reads the sink's `received N` line for it; nil unless every
    /// stream's count came back within a few seconds.
    private func receivedTotal(_ sockets: [Socket]) -> Int? {
        var total = 0
        for socket in sockets {
            guard (try? socket.shutdownWrite()) != nil else { return nil }
            var reply: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(5)
            while !reply.contains(0x0a), ContinuousClock.now < deadline {
                guard (try? socket.waitReadable(timeout: ContinuousClock.now.duration(to: deadline))) == true,
                      let bytes = try? socket.receiveIfReady(limit: 64) else { continue }
                if bytes.isEmpty { break }
                reply += bytes
            }
            let line = String(decoding: reply.prefix { $0 != 0x0a }, as: UTF8.self)
            guard line.hasPrefix("received "), let count = Int(line.dropFirst("received ".count)) else { return nil }
            total += count
        }
        return total
    }
}

private enum LatencyRun {
    static func run(echo: SocketEndpoint, site: ProbeSite, source: IPAddress?, options: LatencyOptions) throws -> LatencyResult {
        let socket = try connectStream(echo, source: source, site: site, label: "request/response")
        defer { socket.close() }
        try socket.setNoDelay()
        try socket.setBlocking(receiveTimeout: options.exchangeTimeout)
        let local = try socket.localEndpoint()?.address
        let message = [UInt8](repeating: 0x6c, count: max(1, options.messageSize))
        var reply = [UInt8](repeating: 0, count: message.count)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for _ in 0..<options.warmUpExchanges {
            _ = try exchange(message, reply: &reply, on: socket, echo: echo, site: site, options: options)
        }
        let end = ContinuousClock.now + options.duration
        var count = 0
        while count < options.exchanges && ContinuousClock.now < end {
            let elapsed = try exchange(message, reply: &reply, on: socket, echo: echo, site: site, options: options)
            histogram.record(UInt64(max(0, elapsed.nanoseconds)))
            count += 1
        }
        guard count > 0 else { throw ProbeError(site: site, "request/response to \(echo): no exchange within \(options.duration.evidenceText)") }
        let summary = LatencyResult.summaryPercentiles.map { percentile in
            LatencyPercentile(percentile: percentile,
                              microseconds: Double(percentile == 100 ? histogram.max : histogram.valueAtPercentile(percentile)) / 1000)
        }
        let distribution = histogram.percentiles(ticksPerHalfDistance: 5).map {
            LatencyPercentile(percentile: $0.percentile, microseconds: Double($0.value) / 1000)
        }
        return LatencyResult(path: TrafficPath(site: site, source: local, target: echo), options: options, exchanges: count,
                             summary: summary, distribution: distribution, meanMicroseconds: histogram.mean / 1000)
    }

    /// Sends `message` and reads as many bytes back into `reply`: how long that took. The
    /// socket blocks, so an exchange is one send and (as a rule) one receive, as in sockperf.
    private static func exchange(_ message: [UInt8], reply: inout [UInt8], on socket: Socket, echo: SocketEndpoint,
                                 site: ProbeSite, options: LatencyOptions) throws -> Duration {
        let started = ContinuousClock.now
        var sent = 0
        while sent < message.count {
            sent += try socket.send(message[sent...])
        }
        var received = 0
        while received < message.count {
            guard let count = try socket.receiveIfReady(into: &reply) else {
                throw ProbeError(site: site, "request/response to \(echo): no answer within \(options.exchangeTimeout.evidenceText)")
            }
            if count == 0 { throw ProbeError(site: site, "request/response to \(echo): the peer closed the connection") }
            received += count
        }
        return started.duration(to: .now)
    }
}

private enum UDPRateRun {
    static func run(echo: SocketEndpoint, site: ProbeSite, source: IPAddress?, options: UDPRateOptions) throws -> UDPRateResult {
        let socket = try Socket(family: echo.address.family, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                label: "udp rate")
        defer { socket.close() }
        try socket.setReceiveBuffer(8 << 20)
        if let source { try socket.bindSource(source, stream: false) }
        _ = try socket.connect(echo)
        let local = try socket.localEndpoint()?.address
        let size = max(16, options.payloadSize)
        let perSecond = max(1, options.gbitPerSecond * 1e9 / 8 / Double(size))
        let started = ContinuousClock.now
        let end = started + options.duration
        var datagram = [UInt8](repeating: 0x75, count: size)
        var sent = 0
        var seen = Set<UInt64>()
        var jitter = 0.0
        var lastRoundTrip: Double?

        func collect() throws {
            while true {
                let bytes: [UInt8]?
                do {
                    bytes = try socket.receiveIfReady(limit: size)
                } catch {
                    // The peer's port was unreachable for an earlier datagram: that one is lost.
                    guard error.code == ECONNREFUSED else { throw error }
                    continue
                }
                guard let bytes, bytes.count >= 16 else { return }
                let sequence = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let sentAt = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: Int64.self) }
                guard sequence < UInt64(sent), seen.insert(sequence).inserted else { continue }
                let roundTrip = Double(started.duration(to: .now).nanoseconds - sentAt) / 1000
                if let last = lastRoundTrip { jitter += (abs(roundTrip - last) - jitter) / 16 }
                lastRoundTrip = roundTrip
            }
        }

        while ContinuousClock.now < end {
            let offset = Int64(Double(sent) / perSecond * 1e9)
            let due = started + Duration.nanoseconds(offset)
            if ContinuousClock.now < due {
                try collect()
                if ContinuousClock.now < due { _ = try socket.waitReadable(timeout: ContinuousClock.now.duration(to: due)) }
                continue
            }
            let sentAt = started.duration(to: .now).nanoseconds
            datagram.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt64(sent), as: UInt64.self)
                raw.storeBytes(of: sentAt, toByteOffset: 8, as: Int64.self)
            }
            do {
                try socket.send(datagram)
                sent += 1
            } catch {
                guard [EAGAIN, ENOBUFS, ECONNREFUSED].contains(error.code) else { throw error }
                try collect()
            }
        }
        let sendingTime = started.duration(to: .now)
        let lingerEnd = ContinuousClock.now + options.linger
        while ContinuousClock.now < lingerEnd {
            try collect()
            _ = try socket.waitReadable(timeout: ContinuousClock.now.duration(to: lingerEnd))
        }
        try collect()
        return UDPRateResult(path: TrafficPath(site: site, source: local, target: echo), options: options, sent: sent,
                             received: seen.count, sendingTime: sendingTime, jitterMicroseconds: jitter)
    }
}

/// One measurement of the data path to run at a site, as a value: what the agent's
/// MEASURE command carries, so a measurement runs the same here and on an agent's
/// machine. Traffic runs, the path MTU search, and the state of the site's netdev.
public enum TrafficMeasurement: Sendable, Hashable, Codable, CustomStringConvertible {
    case tcpThroughput(sink: SocketEndpoint, ThroughputOptions)
    case tcpLatency(echo: SocketEndpoint, LatencyOptions)
    case udpRate(echo: SocketEndpoint, UDPRateOptions)
    case pathMTU(echo: SocketEndpoint, PathMTUOptions)
    case linkState(interface: String)

    public enum Result: Sendable, Hashable, Codable {
        case tcpThroughput(ThroughputResult)
        case tcpLatency(LatencyResult)
        case udpRate(UDPRateResult)
        case pathMTU(PathMTUResult)
        case linkState(LinkState)

        /// The same result, its path restamped as having run from `site`.
        public func restamped(_ site: ProbeSite) -> Result {
            switch self {
            case .tcpThroughput(var result): result.path.site = site; return .tcpThroughput(result)
            case .tcpLatency(var result): result.path.site = site; return .tcpLatency(result)
            case .udpRate(var result): result.path.site = site; return .udpRate(result)
            case .pathMTU(var result): result.path.site = site; return .pathMTU(result)
            case .linkState(var result): result.site = site; return .linkState(result)
            }
        }
    }

    /// The longest the run may take: its warm-up, measurement and the waits after.
    public var longestDuration: Duration {
        switch self {
        case .tcpThroughput(_, let options): options.warmUp + options.duration + .seconds(5 + 3 * max(1, options.streams))
        case .tcpLatency(_, let options): options.duration + options.exchangeTimeout * (options.warmUpExchanges + 1) + .seconds(3)
        case .udpRate(_, let options): options.duration + options.linger + .seconds(1)
        // Two sizes, then at most 16 halvings of the range, each size tried `attempts` times.
        case .pathMTU(_, let options): options.timeout * (18 * max(1, options.attempts)) + .seconds(2)
        case .linkState: .seconds(5)
        }
    }

    public var description: String {
        switch self {
        case .tcpThroughput(let sink, let options): "tcp throughput to \(sink), \(options.streams) streams"
        case .tcpLatency(let echo, let options): "tcp request/response to \(echo), \(options.messageSize) bytes"
        case .udpRate(let echo, let options): "udp at \(ThroughputResult.format(options.gbitPerSecond)) Gbit/s to \(echo)"
        case .pathMTU(let echo, let options): "path mtu to \(echo), \(options.expected) bytes expected"
        case .linkState(let interface): "link state of \(interface)"
        }
    }

    /// Runs the measurement from `site`; `progress` hears each throughput interval.
    public func run(from site: ProbeSite, sources: [IPAddress] = [],
                    progress: (@Sendable (Double) -> Void)? = nil) throws -> Result {
        switch self {
        case .tcpThroughput(let sink, let options):
            .tcpThroughput(try Prober.measureTCPThroughput(to: sink, from: site, sources: sources, options: options, progress: progress))
        case .tcpLatency(let echo, let options):
            .tcpLatency(try Prober.measureTCPLatency(to: echo, from: site, sources: sources, options: options))
        case .udpRate(let echo, let options):
            .udpRate(try Prober.measureUDPRate(to: echo, from: site, sources: sources, options: options))
        case .pathMTU(let echo, let options):
            .pathMTU(try Prober.measurePathMTU(to: echo, from: site, sources: sources, options: options))
        case .linkState(let interface):
            .linkState(try Prober.readLinkState(interface, at: site))
        }
    }
}
