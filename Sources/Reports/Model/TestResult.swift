import Foundation

/// Outcome of one test.
///
/// `failed` means the DUT did not meet a requirement; `error` means the test could not judge
/// the DUT (harness, environment or infrastructure problem).
public enum TestStatus: String, Sendable, Codable, Hashable, CaseIterable {
    case passed
    case failed
    case error
    case skipped
}

/// Comparison a measured value must satisfy.
public enum ThresholdOperator: String, Sendable, Codable, Hashable, CaseIterable {
    case greaterThanOrEqual = ">="
    case greaterThan = ">"
    case lessThanOrEqual = "<="
    case lessThan = "<"
    case equal = "=="
}

/// The limit a measurement is judged against, in the measurement's unit.
public struct Threshold: Sendable, Codable, Hashable {
    public var op: ThresholdOperator
    public var value: Double

    public init(_ op: ThresholdOperator, _ value: Double) {
        self.op = op
        self.value = value
    }

    /// Whether `measured` satisfies the threshold. Non-finite numbers never do: a probe
    /// that produced NaN, or a limit that is not a number, shows nothing about the DUT.
    public func isMet(by measured: Double) -> Bool {
        guard measured.isFinite, value.isFinite else { return false }
        switch op {
        case .greaterThanOrEqual: return measured >= value
        case .greaterThan: return measured > value
        case .lessThanOrEqual: return measured <= value
        case .lessThan: return measured < value
        case .equal: return measured == value
        }
    }
}

/// One named, stable measurement a test took (`tcp_throughput`, `send_lat_p99`, …).
public struct MeasuredValue: Sendable, Codable, Hashable {
    /// lower_snake_case, stable across releases.
    public var name: String
    public var value: Double
    /// `Gbit/s`, `MiB/s`, `IOPS`, `us`, `count`, …
    public var unit: String
    public var threshold: Threshold?
    public var passed: Bool

    /// A measurement judged against `threshold`; without one it is informational and passes
    /// when the value is finite.
    public init(name: String, value: Double, unit: String, threshold: Threshold? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
        self.threshold = threshold
        self.passed = threshold?.isMet(by: value) ?? value.isFinite
    }
}

/// How a data series is drawn in the HTML report.
public enum ChartKind: String, Sendable, Codable, Hashable, CaseIterable {
    case line
    case bar
}

/// Axis spacing; `log` suits message or block sizes that double at each step.
public enum AxisScale: String, Sendable, Codable, Hashable, CaseIterable {
    case linear
    case log
}

/// Label, unit and scale of one chart axis.
public struct ChartAxis: Sendable, Codable, Hashable {
    public var label: String
    public var unit: String
    public var scale: AxisScale

    public init(label: String, unit: String, scale: AxisScale = .linear) {
        self.label = label
        self.unit = unit
        self.scale = scale
    }
}

/// One (x, y) sample of a data series.
public struct DataPoint: Sendable, Codable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A named series of points for a chart, e.g. throughput by message size or one latency
/// percentile by queue depth. Series of one result with the same kind and axes share a chart.
public struct DataSeries: Sendable, Codable, Hashable {
    public var name: String
    public var chart: ChartKind
    public var x: ChartAxis
    public var y: ChartAxis
    public var points: [DataPoint]

    public init(name: String, chart: ChartKind, x: ChartAxis, y: ChartAxis, points: [DataPoint]) {
        self.name = name
        self.chart = chart
        self.x = x
        self.y = y
        self.points = points
    }
}

/// The result of one test.
public struct TestResult: Sendable, Codable, Hashable {
    /// `suite.name`, lower-case with dashes: `pci.sriov-capability`.
    public var id: String
    /// The id's prefix: `pci`, `network`, `storage`, `rdma`, `isolation`.
    public var suite: String
    public var title: String
    /// The profile requirement this test verifies, in the profile's words.
    public var requirement: String
    public var status: TestStatus
    /// Wall-clock duration; never negative.
    public var durationSeconds: Double
    /// Why the test failed, errored or was skipped; may summarize a pass.
    public var message: String
    public var measurements: [MeasuredValue]
    /// Raw facts the verdict rests on (command output, register dumps, …), verbatim.
    public var evidence: [String]
    /// Data for charts; empty when the test has nothing to plot.
    public var series: [DataSeries]

    public init(
        id: String,
        suite: String,
        title: String,
        requirement: String,
        status: TestStatus,
        durationSeconds: Double,
        message: String = "",
        measurements: [MeasuredValue] = [],
        evidence: [String] = [],
        series: [DataSeries] = []
    ) {
        self.id = id
        self.suite = suite
        self.title = title
        self.requirement = requirement
        self.status = status
        self.durationSeconds = durationSeconds.isFinite ? max(0, durationSeconds) : 0
        self.message = message
        self.measurements = measurements
        self.evidence = evidence
        self.series = series
    }
}
