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
    default:
        FileHandle.standardError.write(Data("usage: dpucert-bench reports DIR | dpucert-bench network LAB RUNS | dpucert-bench storage FILE RUNS [io_uring|threads]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("dpucert-bench: \(error)\n".utf8))
    exit(1)
}
