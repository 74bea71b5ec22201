// dpucert-bench: the figures scripts/bench prints, for docs/benchmarks.md. It judges
// nothing.
//
// Usage: dpucert-bench reports DIR        the report writers on a 10,000-result report
//                                         (DIR is created; the report files are left there)
//        dpucert-bench network LAB RUNS   the traffic engines against iperf3 and sockperf on
//                                         a standing lab's host-to-peer path, RUNS alternations
//        dpucert-bench storage FILE RUNS [ENGINE]
//                                         the block I/O engine against fio on FILE (laid out
//                                         at 1 GiB when smaller; not on tmpfs), RUNS
//                                         alternations, ENGINE io_uring (default) or threads
//        dpucert-bench rdma GUEST STATE-DIR RUNS
//                                         the RDMA engines against perftest on the Soft-RoCE wire
//                                         of a standing VM guest, RUNS alternations
//        dpucert-bench rdma-guest RUNS    the same, inside the guest (rdma starts it there)

import Foundation
import Probes

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch (arguments.first, arguments.count) {
    case ("reports", 2):
        try reportBench(directory: arguments[1])
    case ("network", 3):
        guard let runs = Int(arguments[2]), runs > 0 else { throw BenchError("RUNS must be a positive number, found \(arguments[2])") }
        try networkBench(lab: arguments[1], runs: runs)
    case ("storage", 3), ("storage", 4):
        guard let runs = Int(arguments[2]), runs > 0 else { throw BenchError("RUNS must be a positive number, found \(arguments[2])") }
        let engine = arguments.count == 4 ? BlockIOEnginePreference(rawValue: arguments[3]) : .ioUring
        guard let engine, engine != .automatic else { throw BenchError("ENGINE must be io_uring or threads, found \(arguments[3])") }
        try storageBench(file: arguments[1], runs: runs, engine: engine)
    case ("rdma", 4):
        guard let runs = Int(arguments[3]), runs > 0 else { throw BenchError("RUNS must be a positive number, found \(arguments[3])") }
        try rdmaBench(guest: arguments[1], stateDirectory: arguments[2], runs: runs)
    case ("rdma-guest", 2):
        guard let runs = Int(arguments[1]), runs > 0 else { throw BenchError("RUNS must be a positive number, found \(arguments[1])") }
        try rdmaGuestBench(runs: runs)
    default:
        let usage = "usage: dpucert-bench reports DIR | dpucert-bench network LAB RUNS | dpucert-bench storage FILE RUNS [io_uring|threads] "
            + "| dpucert-bench rdma GUEST STATE-DIR RUNS\n"
        FileHandle.standardError.write(Data(usage.utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("dpucert-bench: \(error)\n".utf8))
    exit(1)
}

/// The middle value (the mean of the two middle ones for an even count); NaN for none.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
