import Foundation
import Testing
@testable import Reports

/// Fixed report values the tests and golden files are built from.
enum SampleReports {
    static let startedAt = Date(timeIntervalSince1970: 1_735_787_045.25)   // 2025-01-02T03:04:05.250Z
    static let finishedAt = Date(timeIntervalSince1970: 1_735_787_347.75)  // 2025-01-02T03:09:07.750Z
    static let profileDigest = "4f2c6a0e9d1b7c3a5e8f0b2d4c6e8a1b3d5f7092b4d6f8a0c2e4b6d8f0a2c4e6"

    static func run(mode: RunMode = .hardware, status: RunStatus = .completed, faults: [String] = []) -> RunInfo {
        RunInfo(
            id: "20250102T030405Z-nvidia-bluefield-3",
            status: status,
            startedAt: startedAt,
            finishedAt: finishedAt,
            toolVersion: "0.1.0",
            commandLine: ["dpucert", "run", "--profile", "profiles/nvidia-bluefield-3.yaml",
                          mode == .hardware ? "--hardware" : "--emulated", "--out", "reports/lab run 7"],
            host: "lab-host-07",
            kernel: "6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",
            mode: mode,
            profile: ProfileReference(id: "nvidia-bluefield-3", sha256: profileDigest),
            faults: faults
        )
    }

    static let dut = DUT(
        functions: [
            DUTFunction(address: "0000:03:00.0", vendorID: 0x15b3, deviceID: 0xa2dc,
                        subsystemVendorID: 0x15b3, subsystemDeviceID: 0x0051, classCode: 0x020000,
                        role: "pf", driver: "mlx5_core", firmware: "32.41.1000",
                        facts: ["link": "32.0 GT/s x16", "numa_node": "0", "serial": "MT2334X01234"]),
            DUTFunction(address: "0000:03:00.1", vendorID: 0x15b3, deviceID: 0xa2dc,
                        subsystemVendorID: 0x15b3, subsystemDeviceID: 0x0051, classCode: 0x020000,
                        role: "pf", driver: "mlx5_core", firmware: "32.41.1000"),
            DUTFunction(address: "0000:03:00.2", vendorID: 0x15b3, deviceID: 0xc2d5,
                        classCode: 0x080000, role: "management"),
        ],
        firmwareVersion: "32.41.1000",
        driverVersion: "mlx5_core 24.10-1.1.4"
    )

    static let messageSize = ChartAxis(label: "Message size", unit: "B", scale: .log)

    /// Every status, measurements on both sides of their thresholds, charts of both kinds,
    /// markup-significant and control characters in text, and a suite whose tests are not
    /// adjacent (storage).
    static let results: [TestResult] = [
        TestResult(
            id: "pci.link-width", suite: "pci", title: "PCIe link trains at full width and speed",
            requirement: "pcie.link: width x16, speed 32 GT/s", status: .passed, durationSeconds: 0.0421,
            measurements: [
                MeasuredValue(name: "link_width", value: 16, unit: "lanes", threshold: Threshold(.greaterThanOrEqual, 16)),
                MeasuredValue(name: "link_speed", value: 32, unit: "GT/s", threshold: Threshold(.greaterThanOrEqual, 32)),
            ],
            evidence: ["LnkCap: Port #0, Speed 32GT/s, Width x16\nLnkSta: Speed 32GT/s, Width x16"]
        ),
        TestResult(
            id: "pci.sriov-capability", suite: "pci", title: "SR-IOV capability offers enough VFs",
            requirement: "sriov.totalVFs >= 16", status: .passed, durationSeconds: 0.0089,
            measurements: [MeasuredValue(name: "total_vfs", value: 127, unit: "count", threshold: Threshold(.greaterThanOrEqual, 16))]
        ),
        TestResult(
            id: "network.tcp-throughput", suite: "network", title: "TCP throughput host to peer",
            requirement: "network.tcp_throughput >= 190 Gbit/s", status: .failed, durationSeconds: 61.5004,
            message: "TCP throughput 187.4 Gbit/s is below the required 190 Gbit/s",
            measurements: [
                MeasuredValue(name: "tcp_throughput", value: 187.4, unit: "Gbit/s", threshold: Threshold(.greaterThanOrEqual, 190)),
                MeasuredValue(name: "tcp_retransmits", value: 412, unit: "count"),
            ],
            evidence: ["streams=8 <window=4 MiB> & zero-copy 'on' \"sendfile\"\ntotal 1405.5 GB in 60.0 s"],
            series: [DataSeries(
                name: "TCP throughput by message size", chart: .line, x: messageSize,
                y: ChartAxis(label: "Throughput", unit: "Gbit/s"),
                points: [
                    DataPoint(x: 64, y: 12.1), DataPoint(x: 256, y: 45.3), DataPoint(x: 1024, y: 120.2),
                    DataPoint(x: 4096, y: 171.9), DataPoint(x: 16384, y: 186.0), DataPoint(x: 65536, y: 187.4),
                ]
            )]
        ),
        TestResult(
            id: "rdma.send-latency", suite: "rdma", title: "RDMA send latency",
            requirement: "rdma.send_lat_p99 <= 5 us", status: .passed, durationSeconds: 12.25,
            measurements: [MeasuredValue(name: "send_lat_p99", value: 3.1, unit: "us", threshold: Threshold(.lessThanOrEqual, 5))],
            series: [
                DataSeries(name: "p50", chart: .line, x: messageSize, y: ChartAxis(label: "Latency", unit: "us"),
                           points: [DataPoint(x: 2, y: 1.2), DataPoint(x: 64, y: 1.3), DataPoint(x: 4096, y: 2.2)]),
                DataSeries(name: "p99", chart: .line, x: messageSize, y: ChartAxis(label: "Latency", unit: "us"),
                           points: [DataPoint(x: 2, y: 2.0), DataPoint(x: 64, y: 2.1), DataPoint(x: 4096, y: 3.1)]),
            ]
        ),
        TestResult(
            id: "storage.seq-read", suite: "storage", title: "Sequential read throughput",
            requirement: "storage.seq_read_throughput >= 6000 MiB/s", status: .error, durationSeconds: 3.0,
            message: "block device /dev/nvme0n1 vanished during the test\nEIO from pread at offset 1048576",
            evidence: ["fio: \u{1B}[31mI/O error\u{1B}[0m on /dev/nvme0n1\u{07}"]
        ),
        TestResult(
            id: "isolation.mgmt-unreachable-from-host", suite: "isolation",
            title: "DPU management plane is unreachable from the host",
            requirement: "isolation.mgmt: no route from host to OOB services", status: .skipped, durationSeconds: 0,
            message: "profile declares no out-of-band management port"
        ),
        TestResult(
            id: "storage.rand-read-iops", suite: "storage", title: "Random 4 KiB read IOPS",
            requirement: "storage.rand_read_iops >= 500000 IOPS", status: .passed, durationSeconds: 30.0015,
            measurements: [MeasuredValue(name: "rand_read_iops", value: 612_000, unit: "IOPS", threshold: Threshold(.greaterThanOrEqual, 500_000))],
            series: [DataSeries(
                name: "Random read IOPS by queue depth", chart: .bar, x: ChartAxis(label: "Queue depth", unit: ""),
                y: ChartAxis(label: "IOPS", unit: "IOPS"),
                points: [DataPoint(x: 1, y: 12_000), DataPoint(x: 8, y: 88_000), DataPoint(x: 32, y: 310_000), DataPoint(x: 128, y: 612_000)]
            )]
        ),
    ]

    /// Hardware run with a failure: not certified.
    static let hardware = Report(run: run(), dut: dut, results: results)

    /// Emulated run with every test passing.
    static let emulatedPass = Report(
        run: run(mode: .emulated),
        dut: dut,
        results: results.map { result in
            var passing = result
            passing.status = .passed
            passing.message = ""
            passing.measurements = result.measurements.filter(\.passed)
            return passing
        }
    )

    /// Text that has broken real JUnit consumers: ANSI colour codes, BEL, VT, NUL, form feed,
    /// the XML non-characters U+FFFE/U+FFFF, DEL, a C1 control, CR, markup and quotes.
    static let hostileText = "red \u{1B}[31mFAIL\u{1B}[0m bell\u{07} vt\u{0B} nul\u{00} ff\u{0C} "
        + "nonchar\u{FFFE}\u{FFFF} del\u{7F} csi\u{9B} cr\r\n<tag attr=\"v\"> & 'q' ]]> tab\tend"

    /// A string made from UTF-8 that encodes a lone surrogate (U+D800): Swift repairs it on
    /// creation, so it must come out as U+FFFD, a legal character.
    static let loneSurrogateText = String(decoding: [0x61, 0xED, 0xA0, 0x80, 0x62] as [UInt8], as: UTF8.self)

    static func hostileReport() -> Report {
        var results = SampleReports.results
        results[2].message = hostileText
        results[2].evidence.append(hostileText)
        results[2].title = hostileText
        results[4].message = loneSurrogateText + "\n" + hostileText
        results[5].message = hostileText
        results[0].requirement = hostileText
        var run = SampleReports.run()
        run.host = "lab\u{1B}host"
        run.kernel = hostileText
        run.commandLine.append(hostileText)
        return Report(run: run, dut: SampleReports.dut, results: results)
    }

    static func hugeReport() -> Report {
        var results = SampleReports.results
        let mebibyte = String(repeating: "0123456789abcdef", count: 65_536)
        results[2].evidence = [mebibyte, mebibyte + "\u{1B}"]
        results[2].message = String(repeating: "m", count: 1_048_576)
        return Report(run: SampleReports.run(), dut: SampleReports.dut, results: results)
    }

    static func nonFiniteReport() -> Report {
        var results = SampleReports.results
        results[2].measurements.append(MeasuredValue(name: "jitter", value: .nan, unit: "us", threshold: Threshold(.lessThan, 5)))
        results[2].measurements.append(MeasuredValue(name: "peak", value: .infinity, unit: "Gbit/s"))
        return Report(run: SampleReports.run(), dut: SampleReports.dut, results: results)
    }

    /// The reports parameterized tests run over, named for readable test output.
    enum Named: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case hardware
        case emulated
        case abortedEmpty = "aborted-empty"
        case controlCharacters = "control-characters"
        case huge
        case nonFinite = "non-finite"

        var report: Report {
            switch self {
            case .hardware: SampleReports.hardware
            case .emulated: SampleReports.emulatedPass
            case .abortedEmpty:
                Report(run: SampleReports.run(status: .aborted, faults: ["link-downtrain"]), dut: DUT(functions: []), results: [])
            case .controlCharacters: SampleReports.hostileReport()
            case .huge: SampleReports.hugeReport()
            case .nonFinite: SampleReports.nonFiniteReport()
            }
        }

        var testDescription: String { rawValue }
    }

    /// `count` tests spread over five suites with every status.
    static func large(count: Int) -> Report {
        let suites = ["pci", "network", "storage", "rdma", "isolation"]
        let statuses: [TestStatus] = [.passed, .passed, .passed, .failed, .error, .skipped]
        let results = (0..<count).map { index in
            let suite = suites[index % suites.count]
            let status = statuses[index % statuses.count]
            return TestResult(
                id: "\(suite).case-\(index)", suite: suite, title: "Generated case \(index)",
                requirement: "generated requirement \(index)", status: status, durationSeconds: Double(index % 97) / 10,
                message: status == .passed ? "" : "\(status.rawValue) case \(index)",
                measurements: [MeasuredValue(name: "sample_value", value: Double(index), unit: "count",
                                             threshold: status == .failed ? Threshold(.lessThan, 0) : nil)],
                evidence: ["output of case \(index)"]
            )
        }
        return Report(run: run(), dut: dut, results: results)
    }

    /// Expected (tests, failures, errors, skipped) of `report`.
    static func counts(_ report: Report) -> (Int, Int, Int, Int) {
        (report.summary.total, report.summary.failed, report.summary.errored, report.summary.skipped)
    }
}

extension Report {
    /// A report in which each result examines a requirement of its own (`requirement of ID`),
    /// so the coverage follows the results.
    init(run: RunInfo, dut: DUT, results: [TestResult]) {
        self.init(run: run, coverage: results.map(CoverageEntry.ownRequirement), dut: dut, results: results)
    }
}

extension CoverageEntry {
    static func ownRequirement(of result: TestResult) -> CoverageEntry {
        CoverageEntry(requirement: "requirement of \(result.id)", checks: [result.id], outcome: .combining([result.status]))
    }
}

/// Checked-in golden files (Tests/ReportsTests/Fixtures/golden).
let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/golden")
